"""python -m slingshot which-lock, in process, with a fake nvidia-smi on the PATH: the lock name on stdout,
the reason on stderr, and no silent CPU lock where the driver is broken."""
import os

import pytest

from slingshot.commands.which_lock import main
from tests.helpers import fake_nvidia_smi


@pytest.fixture
def path_with(tmp_path, monkeypatch):
    def put(printed, status=0):
        fake_nvidia_smi(tmp_path / "bin", printed, status)
        monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    return put


def test_the_lock_of_the_driver_and_why(path_with, capsys):
    path_with("575.57.08\n")
    assert main([]) == 0
    captured = capsys.readouterr()
    assert captured.out == "cuda12\n" and captured.err.startswith("lock: driver 575.57.08 runs CUDA 12")


def test_no_nvidia_smi_is_the_cpu_lock(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main([]) == 0 and capsys.readouterr().out == "cpu\n"


def test_a_broken_driver_or_arguments_exit_2(path_with, capsys):
    path_with("Failed to initialize NVML: Unknown Error\n")
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "which is not one" in captured.err
    with pytest.raises(SystemExit) as exit_:
        main(["cpu"])
    assert exit_.value.code == 2 and "unrecognized arguments: cpu" in capsys.readouterr().err
