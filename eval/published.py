"""Published runs: docs/reports/<recipe name>/ holds a recipe's train summary and report, committed with it;
every generated table and figure reads them from here."""
import json
from pathlib import Path

from slingshot.layout import ROOT, TRAIN_SUMMARY

PUBLISHED = ROOT / "docs" / "reports"


def published(name, root=PUBLISHED):
    """(train summary, report) published for a recipe name; either may be None."""
    folder = Path(root) / name
    read = lambda f: json.loads((folder / f).read_text(encoding="utf-8")) if (folder / f).exists() else None  # noqa: E731
    return read(TRAIN_SUMMARY), read("report.json")
