"""Figures on the pages are generated between markers from committed files; a page that differs is stale."""
import pytest

from eval.figures import END, FIGURES, fill, headline, stack, stale_pages
from slingshot.errors import UserError

PAGE = "intro\n<!-- figures: one -->\nold text\nmore old\n<!-- /figures -->\noutro\n"


def test_fill_rewrites_only_between_the_markers():
    assert fill(PAGE, "p.md", {"one": lambda: "new"}) == "intro\n<!-- figures: one -->\nnew\n<!-- /figures -->\noutro\n"
    assert fill("no markers\n", "p.md", {}) == "no markers\n"


def test_an_unknown_figure_or_a_missing_end_names_the_line():
    with pytest.raises(UserError, match="p.md:2: unknown figure 'one'; known: two"):
        fill(PAGE, "p.md", {"two": str})
    with pytest.raises(UserError, match=f"p.md:2: figure 'one' has no closing {END} line"):
        fill(PAGE.replace(END, ""), "p.md", {"one": str})


def test_stale_pages_compares_and_writes(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- figures: stack -->\nold\n<!-- /figures -->\n")
    assert stale_pages(False, [page]) == [str(page)] and "old" in page.read_text()
    assert stale_pages(True, [page]) == [str(page)]
    assert stack() in page.read_text() and stale_pages(False, [page]) == []


def test_figures_read_the_committed_results():
    assert stack().startswith("Pinned: axolotl ") and "torch " in stack()
    assert headline().strip() and "stack" in FIGURES and "headline" in FIGURES
