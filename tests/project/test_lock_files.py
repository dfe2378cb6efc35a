"""The locks (requirements/locks/): each is what the resolver makes of requirements/*.in at its date,
each resolves for Linux x86-64 with Python 3.11 with every dependency inside it, every compiled
extension in it is built for its torch or listed with why no recipe loads it, and the venv is exactly
the lock `make venv` installed. The resolver checks ask the package index (seconds) and skip, saying
why, where it cannot be reached."""
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from slingshot import lock_extensions, locks
from slingshot.layout import ROOT

UV = str(Path(sys.executable).with_name("uv"))
LOCKS = locks.EVERY_LOCK


def index_or_skip(url=locks.INDEX + "/uv/"):
    try:
        urllib.request.urlopen(url, timeout=15).close()
    except Exception as e:  # offline, DNS, proxy
        pytest.skip(f"the package index cannot be reached ({url}: {type(e).__name__}): the lock checks need it")
    if not Path(UV).exists():
        pytest.skip(f"no uv beside {sys.executable}: `make venv` installs it from the lock")


def torch_wheels_or_skip():
    """Where this machine finds torch's CPU build: pip's own find-links if set, else PyTorch's CPU wheels."""
    if locks.pip_find_links():
        return locks.pip_find_links()
    try:
        urllib.request.urlopen(locks.TORCH_WHEELS["cpu"], timeout=15).close()
    except Exception as e:
        pytest.skip(f"torch's CPU wheels cannot be reached ({locks.TORCH_WHEELS['cpu']}: {type(e).__name__}) "
                    f"and pip has no find-links here: the cpu lock cannot be resolved here")
    return locks.TORCH_WHEELS["cpu"]


@pytest.mark.parametrize("name", LOCKS)
def test_each_lock_is_what_the_resolver_makes_of_the_inputs_at_its_date(name):
    index_or_skip()
    path = locks.lock_path(name)
    fresh = locks.parse_lock(locks.generate(UV, name, locks.lock_date_of(path),
                                            torch_wheels_or_skip() if name == "cpu" else None))
    problems = locks.differences(locks.read_lock(path), fresh)
    assert not problems, f"requirements/locks/{name}.txt is not what `make lock` makes; run `make lock`:\n" + \
        "\n".join(problems)


def test_a_hand_edit_or_an_input_changed_without_make_lock_is_caught(tmp_path, monkeypatch):
    index_or_skip()
    committed = locks.read_lock(locks.lock_path("cuda13"))
    edited = dict(committed, triton=("3.9.0",) + committed["triton"][1:])
    assert locks.differences(edited, committed) == [
        "triton: the lock has 3.9.0, the resolver 3.7.1"]
    cpu = locks.read_lock(locks.lock_path("cpu"))
    forged = dict(cpu, torch=(cpu["torch"][0], cpu["torch"][1] | {"0" * 64}, cpu["torch"][2]))
    assert locks.differences(forged, cpu) == [f"torch=={cpu['torch'][0]}: hashes differ"]
    inputs = tmp_path / "requirements"
    shutil.copytree(ROOT / "requirements", inputs)
    (inputs / "gpu.in").write_text((inputs / "gpu.in").read_text() + "hjson==3.1.0\nninja==1.11.1.4\n")
    monkeypatch.setattr(locks, "REQUIREMENTS", inputs)
    fresh = locks.parse_lock(locks.generate(UV, "cuda13", locks.lock_date_of(locks.lock_path("cuda13"))))
    assert "ninja: the lock has 1.13.2, the resolver 1.11.1.4" in locks.differences(committed, fresh)


def resolve_the_lock_itself(lock_text, tmp_path, python=locks.PYTHON_VERSION):
    """uv resolves the lock's own pins for Linux x86-64 and a Python version: every dependency of every
    pinned package must be satisfied by a pin; returns (exit code, stderr, {package: version} it resolved)."""
    pinned = tmp_path / "pins.txt"
    pinned.write_text(re.sub(r"(?m)^\s+(--hash|#).*\n", "", lock_text).replace(" \\\n", "\n"))
    proc = subprocess.run([UV, "pip", "compile", str(pinned), "--python-version", python,
                           "--python-platform", locks.PYTHON_PLATFORM, "--no-header", "--no-annotate", "--quiet",
                           *(["--find-links", torch_wheels_or_skip()] if "+cpu" in lock_text else [])],
                          capture_output=True, text=True, timeout=300)
    found = dict(re.match(r"([A-Za-z0-9._-]+)==(\S+)", line).groups() for line in proc.stdout.splitlines()
                 if re.match(r"[A-Za-z0-9]", line))
    return proc.returncode, proc.stderr, {locks.normalize(k): v for k, v in found.items()}


@pytest.mark.parametrize("name, python", [("cuda13", "3.11"), ("cpu", "3.11"), ("cuda13", "3.12"), ("vllm", "3.11")])
def test_each_lock_resolves_for_linux_x86_64_with_every_dependency_inside_it(name, python, tmp_path):
    """The check that would have caught the CPU freeze's triton 3.9.0 beside the CUDA torch's triton==3.7.1.
    Python 3.12 too: Colab's, where the same pins install."""
    index_or_skip()
    text = locks.install_requirements(name)
    code, stderr, resolved = resolve_the_lock_itself(text, tmp_path, python)
    assert code == 0, f"requirements/locks/{name}.txt does not resolve for Linux x86-64, Python {python}:\n{stderr[-2000:]}"
    pinned = {p: v for p, (v, _, _) in locks.parse_lock(text).items()}
    assert resolved == pinned, {p: (pinned.get(p), resolved.get(p)) for p in set(pinned) | set(resolved)
                                if pinned.get(p) != resolved.get(p)}


def test_vllm_cannot_share_the_training_venv_and_the_docs_quote_the_resolver(tmp_path):
    """vLLM has a lock and a venv of its own (.venv-vllm): resolved with Axolotl's pins it fails, first on torch,
    then (torch and tokenizers overridden) on huggingface-hub. docs/locks.md quotes these very messages."""
    index_or_skip()
    date = locks.lock_date_of(locks.lock_path("vllm"))
    docs = " ".join((ROOT / "docs/locks.md").read_text().split())
    for overrides, package in (("", "torch"), ("torch==2.14.0\ntokenizers==0.23.2\n", "huggingface-hub")):
        (tmp_path / "overrides.txt").write_text(overrides)
        proc = subprocess.run([UV, "pip", "compile", str(ROOT / "requirements/base.in"), str(ROOT / "requirements/vllm.in"),
                               "--overrides", str(tmp_path / "overrides.txt"), "--python-version", locks.PYTHON_VERSION,
                               "--python-platform", locks.PYTHON_PLATFORM, "--exclude-newer", f"{date}T00:00:00Z",
                               "--no-config", "--default-index", locks.INDEX, "--no-header", "--quiet"],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        cause = " ".join(proc.stderr.split("cause:")[-1].split())
        assert proc.returncode != 0 and f"depends on {package}" in cause, proc.stderr[-2000:]
        assert cause.split(" we can conclude")[0] in docs, f"docs/locks.md no longer quotes the resolver: {cause}"


def test_the_cuda12_lock_is_cuda13_without_the_cuda13_runtime_and_says_where_torch_comes_from(tmp_path):
    cuda12, cuda13 = (locks.read_lock(locks.lock_path(n)) for n in ("cuda12", "cuda13"))
    left_out = set(cuda13) - set(cuda12)
    assert "torch" in left_out and set(cuda12) <= set(cuda13)
    assert all(re.match(r"(nvidia|cuda)-", p) for p in left_out - {"torch"}), left_out
    assert all(cuda12[p] == cuda13[p] for p in cuda12)
    text = locks.lock_path("cuda12").read_text()
    assert "https://download.pytorch.org/whl/cu126" in text and "cannot be resolved" in text


def test_the_old_freeze_would_fail_the_resolution_check(tmp_path):
    """Self-test: the CUDA torch beside the CPU venv's triton, the very failure of `make venv GPU=1`."""
    index_or_skip()
    text = locks.install_requirements("cuda13")
    broken = re.sub(r"(?m)^triton==3\.7\.1", "triton==3.9.0", text)
    code, stderr, _ = resolve_the_lock_itself(broken, tmp_path)
    assert code != 0 and "triton" in stderr


@pytest.mark.parametrize("name", locks.LOCK_NAMES)
def test_every_compiled_extension_is_built_for_its_locks_torch_or_listed_with_why(name):
    index_or_skip()
    found = lock_extensions.compiled_extensions(name)
    failed = [f"{p}=={v}: {detail}" for p, v, verdict, detail in found if verdict != "ok"]
    assert not failed, "\n".join(failed)
    assert {"bitsandbytes", "xformers", "torchao"} <= {p for p, *_ in found}


def test_no_recipe_loads_an_extension_listed_as_unused():
    """The reasons in lock_extensions.EXTENSIONS hold for the recipes as they are."""
    loads = {"xformers": lambda c: c.get("attn_implementation") == "xformers" or c.get("xformers_attention"),
             "torchao": lambda c: "torchao" in str(c.get("optimizer", "")) or "ao_" in str(c.get("optimizer", ""))
             or c.get("torchao_quantization") or c.get("qat")}
    assert {p for p, (rule, _) in lock_extensions.EXTENSIONS.items() if rule == "unused"} <= set(loads)
    for recipe in sorted((ROOT / "recipes").rglob("*.yml")):
        config = yaml.safe_load(recipe.read_text()) or {}
        for package, uses in loads.items():
            assert not uses(config), f"{recipe.relative_to(ROOT)} loads {package}: fix lock_extensions.EXTENSIONS' reason"


def test_an_extension_neither_built_for_torch_nor_listed_fails(monkeypatch):
    index_or_skip()
    monkeypatch.setattr(lock_extensions, "EXTENSIONS", {k: v for k, v in lock_extensions.EXTENSIONS.items()
                                                         if k not in ("xformers", "axolotl-contribs-mit")})
    found = {p: (verdict, detail) for p, _, verdict, detail in lock_extensions.compiled_extensions("cpu")}
    assert found["xformers"][0] == "FAIL" and "not listed" in found["xformers"][1]
    assert found["axolotl-contribs-mit"][0] == "FAIL"
    assert lock_extensions.accepts(">=2.10", "2.13.0+cu126") and not lock_extensions.accepts("==2.10.0", "2.13.0")
    assert lock_extensions.accepts("<3,>=2.4", "2.13.0") and not lock_extensions.accepts(">=2.14", "2.13.0+cpu")


def test_the_cpu_locks_torch_is_the_same_release_as_the_inputs():
    base = re.search(r"(?m)^torch==(\S+)", (ROOT / "requirements/base.in").read_text()).group(1)
    cpu = re.search(r"(?m)^torch==(\S+)", (ROOT / "requirements/torch-cpu.in").read_text()).group(1)
    assert cpu == f"{base}+cpu"
    assert locks.pins("cpu")["torch"] == cpu and locks.pins("cuda13")["torch"] == base


def test_uv_is_the_same_file_in_every_lock():
    """`make venv` bootstraps uv from the CPU lock's line, whichever lock it then installs."""
    entries = [locks.read_lock(locks.lock_path(n))["uv"][:2] for n in locks.LOCK_NAMES]
    assert all(e == entries[0] for e in entries), entries


def test_every_lock_names_its_date_and_that_date_is_the_inputs():
    date = locks.lock_date()
    for name in LOCKS:
        assert locks.lock_date_of(locks.lock_path(name)) == date, f"{name}: run `make lock`"
        assert "Do not edit by hand" in locks.lock_path(name).read_text().splitlines()[0]


@pytest.mark.parametrize("text, words", [("", "expected one date"), ("2026-13-45", "expected one date"),
                                         ("2026-12-04 2026-12-05", "expected one date"),
                                         ("2999-01-01", "in the future")])
def test_a_bad_lock_date_is_refused_naming_the_file(tmp_path, monkeypatch, text, words):
    (tmp_path / "lock-date.txt").write_text(text)
    monkeypatch.setattr(locks, "LOCK_DATE_FILE", tmp_path / "lock-date.txt")
    monkeypatch.setattr(locks, "ROOT", tmp_path)
    with pytest.raises(locks.LockError, match=words):
        locks.lock_date()


def test_the_torch_wheel_is_one_hash_whatever_the_source(tmp_path):
    """A folder with torch's CPU wheel and a PyTorch-style page listing every platform's give one line."""
    wheel = tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"not really a wheel")
    import hashlib
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert locks.torch_wheel_hash([str(tmp_path)], "2.13.0+cpu") == digest
    page = tmp_path / "page"
    page.mkdir()
    (page / "index.html").write_text(
        '<a href="/whl/cpu/torch-2.13.0%2Bcpu-cp312-cp312-manylinux_2_28_x86_64.whl#sha256=' + "1" * 64 + '">a</a>'
        '<a href="/whl/cpu/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl#sha256=' + digest + '">b</a>')
    assert locks.torch_wheel_hash([(page / "index.html").as_uri()], "2.13.0+cpu") == digest
    with pytest.raises(locks.LockError, match="TORCH_WHEELS"):
        locks.torch_wheel_hash([str(page)], "2.13.0+cpu")


def test_a_broken_lock_line_is_an_error_naming_the_file_and_line(tmp_path):
    bad = tmp_path / "cpu.txt"
    bad.write_text("# header\nabsl-py==2.5.1 \\\n    --hash=sha256:00\ntorch>=2\n")
    with pytest.raises(locks.LockError, match=r"cpu.txt:4: not a pinned requirement"):
        locks.read_lock(bad)


def test_the_venv_is_exactly_the_lock_make_venv_installed():
    """Nothing outside the lock (the llama.cpp server, built by `make llamacpp`, aside) and nothing missing."""
    venv = Path(sys.prefix)
    installed_lock = [p.name.removeprefix(".lock-") for p in venv.glob(".lock-*")]
    if not installed_lock:
        pytest.skip(f"{venv} was not made by `make venv`")
    want = {**locks.pins(installed_lock[0]), **locks.pins(locks.MODEL_LOCK)}
    frozen = subprocess.run([UV, "pip", "freeze", "--python", sys.executable], capture_output=True, text=True,
                            check=True).stdout
    have = {locks.normalize(n): v for n, v in re.findall(r"(?m)^([A-Za-z0-9._-]+)==(\S+)", frozen)}
    extra = {p: v for p, v in have.items() if p not in want}
    missing = {p: v for p, v in want.items() if p not in have and p not in locks.NOT_IN_VENV}
    differ = {p: (v, have[p]) for p, v in want.items() if p in have and have[p] != v}
    if locks.lock_path(installed_lock[0]).name == "cuda12.txt":
        extra = {p: v for p, v in extra.items() if p != "torch" and not re.match(r"(nvidia|cuda)-", p)}
    assert not extra and not missing and not differ, (extra, missing, differ)


def test_make_venv_picks_the_lock_from_the_driver(tmp_path):
    """`make venv` with a fake nvidia-smi on PATH: R580+ -> cuda13, R525-R579 -> cuda12, older -> an error
    naming the upgrade, none -> cpu. A dry run (-n): nothing is installed."""
    def dry_run(driver):
        bin_dir = tmp_path / (driver or "none")
        bin_dir.mkdir()
        if driver:
            smi = bin_dir / "nvidia-smi"
            smi.write_text(f"#!/bin/sh\necho {driver}\n")
            smi.chmod(0o755)
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        env.pop("LOCK", None)
        return subprocess.run(["make", "-n", "venv", "VENV=" + str(tmp_path / "venv")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    for driver, lock in (("580.95.05", "cuda13"), ("570.172.08", "cuda12"), ("535.230.02", "cuda12"), (None, "cpu")):
        out = dry_run(driver).stdout
        assert f"requirements/locks/{lock}.txt" in out, (driver, out[-1500:])
    old = dry_run("470.256.02")
    assert "too old" in old.stdout + old.stderr and "R580" in old.stdout + old.stderr
    # a venv keeps the lock it holds: only LOCK= on the command line switches it (GBs of CUDA wheels)
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".lock-cuda12").touch()
    (venv / ".uv").touch()
    kept = dry_run("580.95.05.1")
    assert "locks/cuda13.txt" not in kept.stdout and "uv pip sync" not in kept.stdout, kept.stdout[-1500:]
    bogus = subprocess.run(["make", "-n", "venv", "LOCK=bogus", "VENV=" + str(tmp_path / "other")], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert "LOCK=bogus: the locks are cpu cuda13 cuda12" in bogus.stderr
