"""python -m slingshot layers, in process: the drawing it prints is the architecture's. (--write rewrites
docs/layout.md, which a test may not touch; tests/project/test_architecture.py checks the page is current.)"""
import pytest

from slingshot.architecture import drawing
from slingshot.commands.layers import END, START, main
from slingshot.layout import ROOT


def test_prints_the_floors_drawn_from_the_code(capsys):
    assert main([]) == 0
    assert capsys.readouterr().out == drawing() + "\n"


def test_the_page_holds_the_block_write_replaces():
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1


def test_an_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--rewrite"])
    assert stop.value.code == 2 and "unrecognized arguments: --rewrite" in capsys.readouterr().err
