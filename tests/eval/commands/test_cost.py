"""python -m eval cost, in process: the price table, the cost of finished runs, and a bad price file."""
import re

from eval.commands.cost import main
from eval.cost import load_prices
from tests.helpers import squad_dev_questions, write_run


def test_without_runs_it_prints_the_price_table(capsys):
    assert main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(load_prices()) and all(re.search(r"per 1M tokens  \(as of \S+\)$", l) for l in lines)


def test_each_finished_run_with_its_cost_and_speed(tmp_path, capsys):
    questions = squad_dev_questions()[:20]
    write_run(tmp_path / "runs" / "local", questions, "local", 0.5, 1, usd_per_hour=3.6, wall_s=10.0)
    write_run(tmp_path / "runs" / "free", questions, "free", 0.5, 2)
    assert main([str(tmp_path / "runs")]) == 0
    out = sorted(capsys.readouterr().out.splitlines())
    assert out == ["free: $0 per 1k answers (wall time); 0.5 questions/s",
                   "local: $0.5 per 1k answers (wall time); 2 questions/s"]


def test_a_bad_price_file_exits_2_naming_it(tmp_path, capsys):
    prices = tmp_path / "prices.yaml"
    prices.write_text("models: [not, a, mapping]\n")
    assert main(["--prices", str(prices)]) == 2
    assert "prices.yaml: expected a mapping with key 'models'" in capsys.readouterr().err
