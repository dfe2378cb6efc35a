"""Published runs are read from docs/reports/<recipe name>/; a missing file is None, not an error."""
import json

from eval.published import PUBLISHED, published
from slingshot.layout import TRAIN_SUMMARY


def test_published_reads_either_file_or_none(tmp_path):
    folder = tmp_path / "my-recipe"
    folder.mkdir()
    (folder / TRAIN_SUMMARY).write_text(json.dumps({"steps": 3}))
    assert published("my-recipe", root=tmp_path) == ({"steps": 3}, None)
    (folder / "report.json").write_text(json.dumps({"models": []}))
    assert published("my-recipe", root=tmp_path) == ({"steps": 3}, {"models": []})
    assert published("nothing", root=tmp_path) == (None, None)


def test_the_default_recipe_is_published():
    summary, report = published("squad-smollm2-135m-lora-cpu")
    assert PUBLISHED.is_dir() and summary is not None and report["models"]
