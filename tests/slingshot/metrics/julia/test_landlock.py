"""Landlock, applied in a child process: writes land only below the folders it allows."""
import subprocess
import sys

import pytest

from slingshot.layout import ROOT
from slingshot.metrics.julia.landlock import landlock_abi

CHILD = """
import sys
from slingshot.metrics.julia.landlock import apply_landlock
assert apply_landlock([sys.argv[1]])
open(sys.argv[1] + "/ok", "w").write("ok")
try:
    open(sys.argv[2] + "/no", "w").write("no")
    print("written")
except PermissionError:
    print("refused")
"""


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
def test_writes_outside_the_allowed_folders_are_refused(tmp_path):
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    other.mkdir()
    out = subprocess.run([sys.executable, "-c", CHILD, str(allowed), str(other)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "refused", out.stderr
    assert (allowed / "ok").read_text() == "ok" and not (other / "no").exists()
