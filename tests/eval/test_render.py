"""report.md from a report dict: the reading says which differences are real, tables keep their columns,
and each tuned row names what it was trained with."""
import pytest

from eval.render import (headline_cells, reading, render_markdown, training_lines, training_text)
from eval.report import build_report
from tests.helpers import squad_dev_questions, write_run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("render")
    questions = squad_dev_questions()
    write_run(folder / "runs" / "base", questions, "base", 0.2, 1)
    write_run(folder / "runs" / "lora", questions, "lora", 0.8, 2, usd_per_hour=1.8, wall_s=20.0)
    return build_report([folder / "runs"], folder / "report", baseline="base", n_boot=200)


def entry(diff, p):
    return {"diff": diff, "ci": (diff - 2, diff + 2), "p_value": p, "test": "exact McNemar"}


def small(diff, p, f1_p):
    base = {"name": "base", "is_baseline": True, "n": 80, "exact_match": 20.0, "exact_match_ci": (12.0, 29.0)}
    other = {"name": "lora", "is_baseline": False, "vs_baseline": {"metrics": {"exact_match": entry(diff, p),
                                                                               "f1": entry(diff, f1_p)}}}
    return {"metric_labels": {"exact_match": "EM", "f1": "F1"}, "metrics": ["exact_match", "f1"], "alpha": 0.05,
            "models": [base, other]}


def test_the_reading_tells_a_real_difference_from_chance():
    real = reading(small(12.0, 0.001, 0.2))
    assert real.startswith("Baseline: base with EM 20.0 (95% CI 12.0 to 29.0) on 80 questions.")
    assert "lora is better by 12.0 EM points" in real and "too large to be chance" in real
    assert "on F1 (+12.0, p=0.200) the difference is not significant" in real
    chance = reading(small(-1.0, 0.6, 0.6))
    assert "lora differs by -1.0 EM points" in chance and "cannot tell apart from no difference" in chance
    alone = small(0, 1, 1)
    alone["models"] = alone["models"][:1]
    assert reading(alone).endswith("There is no other model to compare with.")


def test_training_text_names_rank_alpha_rows_and_length():
    training = {"recipe": "r.yml", "lora_r": 8, "lora_alpha": 16, "train_rows": 128, "num_epochs": 1,
                "base_model": "models/m"}
    assert training_text(training) == "LoRA rank 8, alpha 16; 128 training rows, 1 epoch; base models/m"
    assert "3 steps" in training_text({**training, "max_steps": 3}) and "2.5 epochs" in training_text(
        {**training, "num_epochs": 2.5})
    assert training_text({**training, "lora_alpha": None}).startswith("LoRA rank 8, alpha ?;")
    assert training_text({"recipe": None}) == "training settings unknown (no record)"
    assert training_lines({"models": [{"name": "x", "training": training}]})[-1] == (
        "- **x**: LoRA rank 8, alpha 16; 128 training rows, 1 epoch; base models/m (r.yml)")


def test_the_markdown_holds_every_model_and_section(report):
    text = render_markdown(report)
    header, rows = headline_cells(report)
    assert text.startswith("# squad on dev-80") and "| " + " | ".join(header) + " |" in text
    assert [row[0] for row in rows] == ["lora", "base (baseline)"]
    for section in ("## Cost and throughput", "## Plots", report["reading"]):
        assert section in text
    assert f"]({report['plots']['models']})" in text
