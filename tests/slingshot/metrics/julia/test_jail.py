"""The inside of the sandbox: IPC limits are written only into a namespace of the sample's own, and
the julia-exec command refuses to start without a command."""
import os
import subprocess
import sys

import pytest

from slingshot.layout import ROOT
from slingshot.metrics.julia.jail import limit_ipc


def test_ipc_limits_are_never_written_into_the_hosts_namespace():
    before = open("/proc/sys/kernel/shmmax").read()
    with pytest.raises(RuntimeError, match="host's IPC namespace"):
        limit_ipc("/proc", 1 << 20, os.stat("/proc/self/ns/ipc").st_ino, required=True)
    assert open("/proc/sys/kernel/shmmax").read() == before


def test_julia_exec_needs_a_command():
    out = subprocess.run([sys.executable, "-m", "slingshot", "julia-exec", "{}", "--"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no command after --" in out.stderr
