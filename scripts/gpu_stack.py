"""`make gpu-stack`: does the CUDA 13 lock install and import, on a machine without a GPU?

    python scripts/gpu_stack.py [--uv .venv/bin/uv] [--lock cuda13] [--keep DIR]

Installs requirements/locks/<lock>.txt (hashes checked) into a throwaway venv, then imports, each in
a fresh interpreter, torch (its CUDA build: torch.version.cuda is set without any driver), triton,
bitsandbytes, deepspeed, peft, transformers, Axolotl and every compiled extension the locks list,
one line each with the failure. Downloads a few GB (the CUDA runtime wheels); not part of the test
suite. Exit status 1 if the install or any import fails.
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slingshot import locks  # noqa: E402

# (module, what to print about it once imported)
IMPORTS = [
    ("torch", "f'{m.__version__}, CUDA {m.version.cuda}, cuDNN {m.backends.cudnn.version()}, "
              "GPU visible: {m.cuda.is_available()}'"),
    ("triton", "m.__version__"),
    ("bitsandbytes", "m.__version__"),
    ("deepspeed", "m.__version__"),
    ("peft", "m.__version__"),
    ("transformers", "m.__version__"),
    ("axolotl", "m.__version__"),
    ("axolotl.cli.train", "'the train command imports'"),
    ("xformers", "f'{m.__version__}, built for torch ' + __import__('json').loads(__import__('pathlib').Path("
                 "m.__file__).with_name('cpp_lib.json').read_text())['version']['torch']"),
    ("xformers.ops", "'its ops module imports'"),
    ("torchao", "m.__version__"),
    ("liger_kernel", "'imports'"),
    ("flash_attn", "m.__version__"),
]


def import_line(python, module, show):
    code = f"import importlib; m = importlib.import_module({module!r}); print({show})"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=600)
    if proc.returncode == 0:
        return "ok", proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    last = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return "FAIL", last[-1] if last else f"exit {proc.returncode}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv", default=str(ROOT / ".venv" / "bin" / "uv"))
    parser.add_argument("--lock", default="cuda13", choices=["cuda13"],
                        help="the lock (cuda12's torch comes from PyTorch's index, cpu's is not the GPU stack)")
    parser.add_argument("--keep", help="make the venv here and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gpu-stack-") as tmp:
        venv = Path(args.keep or tmp) / "venv"
        requirements = Path(tmp) / "lock.txt"
        requirements.write_text(locks.install_requirements(args.lock))
        subprocess.run([args.uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
        started = time.time()
        proc = subprocess.run([args.uv, "pip", "sync", "--python", str(venv / "bin" / "python"), "--require-hashes",
                               str(requirements)], capture_output=True, text=True)
        summary = [line for line in proc.stderr.splitlines() if line.split(" ")[0] in ("Resolved", "Prepared",
                                                                                         "Installed")]
        print(f"install requirements/locks/{args.lock}.txt: {'ok' if proc.returncode == 0 else 'FAIL'} "
              f"({time.time() - started:.0f} s) {'; '.join(summary)}")
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            return 1
        listed = set(locks.pins(args.lock))
        failed = False
        for module, show in IMPORTS:
            package = {"liger_kernel": "liger-kernel", "flash_attn": "flash-attn"}.get(module, module.split(".")[0])
            if package not in listed:
                print(f"  {module:20} -      not in the lock")
                continue
            verdict, detail = import_line(venv / "bin" / "python", module, show)
            failed |= verdict != "ok"
            print(f"  {module:20} {verdict:6} {detail}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
