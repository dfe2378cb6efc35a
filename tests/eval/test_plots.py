"""The report's figures are real PNGs, one panel per metric; with nothing to draw, a figure says so."""
import matplotlib.image
import pytest

from eval.plots import plot_by_input_tokens, plot_cost, plot_models
from eval.report import build_report
from tests.helpers import squad_dev_questions, write_run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plots")
    questions = squad_dev_questions()
    write_run(folder / "runs" / "base", questions, "base", 0.2, 1)
    write_run(folder / "runs" / "api", questions, "api", 0.6, 2, model="openai:gpt-4o-mini", backend="openai",
              usd_per_hour=None)
    return build_report([folder / "runs"], folder / "report", baseline="base", n_boot=100)


def size(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path).shape[:2]


def test_each_figure_is_a_png(report, tmp_path):
    for plot in (plot_models, plot_by_input_tokens, plot_cost):
        path = tmp_path / f"{plot.__name__}.png"
        plot(report, path)
        height, width = size(path)
        assert height > 100 and width > 300


def test_a_figure_with_nothing_to_draw_says_so(report, tmp_path):
    unknown = {**report, "by_input_tokens": None,
               "models": [{**m, "cost": {**m["cost"], "usd_per_1k_answers": None}} for m in report["models"]]}
    plot_by_input_tokens(unknown, tmp_path / "tokens.png")
    plot_cost(unknown, tmp_path / "cost.png")
    plot_cost(report, tmp_path / "known.png")
    assert size(tmp_path / "tokens.png") == size(tmp_path / "cost.png")  # the same empty panel
    assert size(tmp_path / "known.png") != size(tmp_path / "cost.png")
