"""Compiled extensions in the locks: each is built for its lock's torch, by its own metadata, or is
listed here with the reason no recipe loads its compiled part. Asks the package index (seconds)."""
import io
import json
import re
import urllib.error
import urllib.request
import zipfile

from slingshot.locks import INDEX, lock_path, read_lock

# How each compiled extension that works with torch binds to it. "metadata": its wheel's own
# Requires-Dist on torch must accept the lock's torch (a wheel built on torch's stable ABI, or one that
# reaches its CUDA library through ctypes, states the torch releases it runs on). Anything else is a
# reason no recipe loads its compiled part, checked against the recipes by the test suite.
EXTENSIONS = {
    "xformers": ("metadata", "since 0.0.34 its wheels are built for 'PyTorch 2.10.0 and later' (its release notes) "
                             "and its metadata says so; no recipe sets attn_implementation: xformers, and "
                             "`make doctor` reads the torch its build recorded"),
    "bitsandbytes": ("metadata", "loads its own CUDA library through ctypes, not torch's C++ ABI; the 4-bit and "
                                 "8-bit recipes use it"),
    "torchao": ("unused", "its wheel states no torch requirement and its C++ kernels (mxfp8, sm90 cutlass) load "
                          "only on the torch it was built with; torchao falls back to its Python kernels, and no "
                          "recipe sets a torchao optimizer or quantization"),
    "deepspeed": ("source", "a source package: it compiles its ops at run time against the installed torch"),
    "axolotl-contribs-lgpl": ("source", "a source package of Python files only (its built wheel is py3-none-any)"),
    "axolotl-contribs-mit": ("source", "a source package of Python files only (its built wheel is py3-none-any)"),
    "flash-attn": ("metadata", "in no lock today; its wheels are built per torch release"),
}


def simple_index_files(package, opener=None):
    """[{filename, url, hashes}] the package index lists for a package (its JSON simple API)."""
    request = urllib.request.Request(f"{INDEX}/{package}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with (opener or urllib.request.urlopen)(request, timeout=30) as response:
        return json.load(response)["files"]


def wheel_metadata(url, opener=None):
    """A wheel's METADATA: the index's side file (PEP 658) where it has one, else read from the wheel."""
    fetch = opener or urllib.request.urlopen
    try:
        with fetch(url + ".metadata", timeout=30) as response:
            return response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
    with fetch(url, timeout=120) as response:
        wheel = zipfile.ZipFile(io.BytesIO(response.read()))
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return wheel.read(name).decode("utf-8", "replace")


def torch_requirement(metadata):
    """The specifier of a METADATA's unconditional Requires-Dist on torch ('>=2.10'), '' for any, None if none."""
    for line in metadata.splitlines():
        found = re.match(r"Requires-Dist:\s*torch(?![\w.-])\s*(\(?[^;]*?\)?)\s*(;.*)?$", line, re.I)
        if found and not (found.group(2) and "extra" in found.group(2)):
            return found.group(1).strip("() ")
    return None


def accepts(specifier, version):
    """Whether a PEP 440 specifier like '>=2.10,<3' accepts a release like 2.13.0 (local part dropped)."""
    def key(v):
        return tuple(int(p) for p in re.findall(r"\d+", v.split("+")[0])[:3]) + (0,) * 3
    have = key(version)[:3]
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        op, v = re.match(r"(==|!=|>=|<=|~=|>|<)\s*(\S+)", clause).groups()
        want = key(v.rstrip(".*"))[:3]
        if v.endswith(".*"):
            size = len(v.rstrip(".*").split("."))
            ok = have[:size] == want[:size]
            ok = ok if op == "==" else not ok
        else:
            ok = {"==": have == want, "!=": have != want, ">=": have >= want, "<=": have <= want,
                  ">": have > want, "<": have < want, "~=": have >= want and have[:1] == want[:1]}[op]
        if not ok:
            return False
    return True


def compiled_extensions(name, opener=None):
    """[(package, version, verdict, detail)] for every compiled package of lock `name` that works with
    torch: verdict 'ok' (its metadata accepts the lock's torch, or it is listed with its reason) or
    'FAIL'. Asks the package index for file lists and wheel metadata (seconds)."""
    entries = read_lock(lock_path(name))
    index_torch = read_lock(lock_path("cuda13"))["torch"]  # its `via`: the packages that require torch
    torch = entries["torch"][0] if "torch" in entries else f"{index_torch[0]}+cu126"
    candidates = sorted(p for p in entries if p in EXTENSIONS or p in index_torch[2])
    found = []
    for package in candidates:
        version, hashes, _ = entries[package]
        files = [f for f in simple_index_files(package, opener) if f.get("hashes", {}).get("sha256") in hashes]
        wheels = [f for f in files if f["filename"].endswith(".whl")]
        compiled = [f for f in wheels if not f["filename"].endswith("-none-any.whl")]
        if wheels and not compiled:
            continue  # pure Python (Triton kernels are compiled at run time for the installed triton)
        rule, why = EXTENSIONS.get(package, (None, None))
        if not wheels:
            verdict = "ok" if rule == "source" else "FAIL"
            found.append((package, version, verdict, why or "a source package that works with torch, not listed "
                                                             "in slingshot/lock_extensions.py EXTENSIONS"))
            continue
        linux = [f for f in compiled if "manylinux" in f["filename"] and "x86_64" in f["filename"]] or compiled
        wanted = torch_requirement(wheel_metadata(linux[0]["url"], opener))
        if rule == "metadata":
            ok = wanted is not None and accepts(wanted, torch)
            detail = f"its metadata wants torch{wanted or ' (nothing)'}, the lock has {torch}; {why}"
        elif rule in ("unused", "source"):
            ok, detail = True, why
        else:
            ok, detail = False, (f"compiled, works with torch (metadata: torch{wanted or ' unstated'}), and not listed "
                                 f"in slingshot/lock_extensions.py EXTENSIONS with how it binds to torch")
        found.append((package, version, "ok" if ok else "FAIL", detail))
    return found
