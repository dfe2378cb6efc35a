"""`python -m eval.squad DATASET.json[.gz] PREDICTIONS.json`: the official SQuAD v1.1 evaluation,
as a drop-in for evaluate-v1.1.py. The metric itself lives in slingshot/metrics/squad.py."""
import sys

from slingshot.metrics.squad import main

if __name__ == "__main__":
    sys.exit(main())
