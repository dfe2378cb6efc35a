"""The suite writes only under temporary folders: a test that writes into the checkout fails the run."""
import subprocess
import sys
import uuid

from tests.helpers import ROOT


def test_a_test_that_writes_into_the_checkout_fails_the_session(tmp_path):
    stray = ROOT / f"stray-{uuid.uuid4().hex[:8]}.txt"
    test_file = tmp_path / "test_writes_into_checkout.py"
    test_file.write_text(f"from pathlib import Path\n\ndef test_writes():\n    Path({str(stray)!r}).write_text('x')\n")
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest",
                                 "-q", "--rootdir", str(tmp_path), str(test_file)],
                                cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        stray.unlink(missing_ok=True)
    assert result.returncode != 0, result.stdout
    assert "tests wrote into the checkout" in result.stdout and stray.name in result.stdout


def test_outputs_go_to_the_session_workspace():
    from slingshot import layout
    assert layout.WORKSPACE != layout.ROOT and not layout.WORKSPACE.is_relative_to(layout.ROOT)
    assert layout.DATA_DIR.parent == layout.RUNS_DIR.parent == layout.WORKSPACE
    assert layout.resolve("runs/x") == layout.WORKSPACE / "runs/x" and layout.resolve("models/x") == ROOT / "models/x"
    assert layout.display_path(layout.WORKSPACE / "data" / "squad") == "data/squad"
