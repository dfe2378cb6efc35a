"""python -m eval evaluate-v1.1 DATASET.json[.gz] PREDICTIONS.json: the official SQuAD v1.1 evaluation, as a drop-in
for evaluate-v1.1.py (it prints the same JSON). The metric itself lives in slingshot/metrics/squad.py."""
import argparse
import json
import sys

from slingshot.errors import cli

HELP = "the official SQuAD v1.1 evaluation (drop-in for evaluate-v1.1.py)"


@cli
def main(argv=None):
    from slingshot.metrics.squad import (
        EXPECTED_VERSION,
        evaluate,
        load_dataset,
        load_predictions,
    )

    parser = argparse.ArgumentParser(prog="python -m eval evaluate-v1.1", description=f"Evaluation for SQuAD {EXPECTED_VERSION}")
    parser.add_argument("dataset_file", help="official SQuAD v1.1 JSON (optionally .gz)")
    parser.add_argument("prediction_file", help="JSON object: question id -> answer text")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset_file)
    warn = (lambda m: print(m, file=sys.stderr))
    predictions = load_predictions(args.prediction_file, dataset, warn=warn)
    print(json.dumps(evaluate(dataset, predictions, warn=warn)))
    return 0
