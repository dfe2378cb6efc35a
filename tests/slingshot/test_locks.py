"""Which lock a machine installs, read from the driver nvidia-smi reports, as `make venv` and `make doctor`
read it: each case is a fake nvidia-smi printing what the real one prints for that driver."""
import os

import pytest

from tests.helpers import fake_nvidia_smi

from slingshot.locks import driver_version, install_command, lock_for_driver


CASES = [  # (what nvidia-smi prints, its exit status, the lock, words of the reason)
    ("580.95.05\n", 0, "cuda13", "runs CUDA 13 (needs 580.65+)"),
    ("580.65.06\n", 0, "cuda13", "runs CUDA 13"),                    # the first R580 release
    ("590.44.01\n590.44.01\n", 0, "cuda13", "driver 590.44.01 runs CUDA 13"),  # two GPUs: one line each
    ("575.57.08\n", 0, "cuda12", "runs CUDA 12 (needs 525.60+)"),
    ("570.172.08\n", 0, "cuda12", "driver 570.172.08 runs CUDA 12"),
    ("535.274.02\n", 0, "cuda12", "runs CUDA 12"),
    ("525.60.13\n", 0, "cuda12", "runs CUDA 12"),                    # the first driver CUDA 12.x runs on
    ("470.256.02\n", 0, None, "too old for any supported torch build"),
    ("Failed to initialize NVML: Unknown Error\n", 0, None, "which is not one"),
    # nvidia-smi is there but the driver is not: no silent CPU lock on a GPU machine
    ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", 9, None, "exited 9"),
    ("WARNING: infoROM is corrupted at gpu 0000:00:04.0\n580.95.05\n", 0, "cuda13", "runs CUDA 13"),
]


@pytest.mark.parametrize("printed,status,lock,words", CASES, ids=[c[0].split()[0] for c in CASES])
def test_the_lock_for_each_driver(tmp_path, printed, status, lock, words):
    nvidia_smi = fake_nvidia_smi(tmp_path, printed, status)
    name, why = lock_for_driver(driver_version(str(nvidia_smi)))
    assert (name, words in why) == (lock, True), why
    if name is None:
        assert "R580" in why and "R525" in why  # what to install instead
    assert "cu128" not in why and "TORCH_INDEX" not in why


def test_nvidia_smi_is_found_on_the_path(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path / "bin", "570.172.08\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    assert driver_version() == "570.172.08"
    assert lock_for_driver(driver_version())[0] == "cuda12"


def test_no_nvidia_smi_is_the_cpu_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no nvidia-smi anywhere
    assert driver_version() is None
    assert lock_for_driver(None) == ("cpu", "no NVIDIA GPU found (nvidia-smi): the CPU lock")


def test_the_install_command_names_the_lock():
    assert [install_command(n) for n in ("cpu", "cuda13", "cuda12")] == [
        "make venv LOCK=cpu", "make venv LOCK=cuda13", "make venv LOCK=cuda12"]


def test_a_hanging_nvidia_smi_is_named_not_taken_for_no_gpu(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    hanging = folder / "nvidia-smi"
    hanging.write_text("#!/bin/sh\nsleep 30\n")
    hanging.chmod(0o755)
    name, why = lock_for_driver(driver_version(str(hanging), timeout=1))
    assert name is None and "did not answer in 1 s" in why and "LOCK=cpu" in why
