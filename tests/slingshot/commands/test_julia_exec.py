"""python -m slingshot julia-exec, the first process of a sample's sandbox: a spec that is not the one
the scorer writes, or no command, is an error (exit 2), never a traceback; without namespaces it runs
the command in the sample's folder with the spec's environment only."""
import json
import subprocess
import sys

import pytest

from slingshot.commands.julia_exec import SPEC_KEYS, main, read_spec
from slingshot.layout import ROOT
from slingshot.metrics.julia.process import exec_spec


@pytest.mark.parametrize("argv, message", [
    (["{}", "--"], "julia-exec: no command after --"),
    (["{not json", "--", "true"], "julia-exec: the spec is not JSON (Expecting property name"),
    (["[1, 2]", "--", "true"], "julia-exec: the spec must be a JSON object, got list"),
    (['{"workdir": "/tmp"}', "--", "true"], "julia-exec: the spec lacks memory, namespaces, drop, disk, shm, "
                                            "host_ipc, cgroups, env, julia_root"),
])
def test_a_bad_spec_or_no_command_is_an_error(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and "Traceback" not in err


def test_the_spec_the_scorer_writes_is_read_whole(tmp_path):
    spec, _ = exec_spec(["/usr/bin/true"], str(tmp_path), 1 << 30, {"HOME": str(tmp_path)})
    assert set(spec) == set(SPEC_KEYS)
    assert read_spec(json.dumps(spec)) == spec


def test_without_namespaces_the_command_runs_in_the_sample_folder_with_the_specs_environment(tmp_path):
    spec = {"workdir": str(tmp_path), "memory": 4 << 30, "namespaces": False, "drop": False, "disk": "16m",
            "shm": 1 << 20, "host_ipc": 0, "cgroups": [], "env": {"ONLY": "this"}, "julia_root": None}
    out = subprocess.run([sys.executable, "-m", "slingshot", "julia-exec", json.dumps(spec), "--",
                          "/bin/sh", "-c", "pwd; env | sort; echo made > here.txt"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == str(tmp_path)
    assert "ONLY=this" in lines and not [line for line in lines if line.startswith("HOME=")]
    assert (tmp_path / "here.txt").read_text() == "made\n"
