"""Commands start without library noise on stderr, and real errors and warnings still print."""
import os
import subprocess
import sys

from tests.helpers import ROOT, run_module

GPU_RECIPE = "recipes/squad/llama-3.1-8b/lora.yml"


def python(code, env=None):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_plan_imports_the_stack_and_prints_nothing_on_stderr():
    result = run_module("slingshot", "plan", GPU_RECIPE)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "peak GPU memory" in result.stdout
    assert result.stderr == "", result.stderr[-2000:]


def test_loading_peft_and_bitsandbytes_after_slingshot_is_quiet_online_and_offline():
    for offline in ("0", "1"):
        result = python("import slingshot, peft, bitsandbytes, torchao", env={"HF_HUB_OFFLINE": offline})
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stderr == "", (offline, result.stderr[-2000:])


def test_without_slingshot_the_same_imports_are_noisy():
    # The check above means something only while the libraries still make this noise.
    result = python("import peft, bitsandbytes, torchao")
    assert "torchao/_C" in result.stderr or "is an Enum subclass" in result.stderr, result.stderr[-2000:]


def test_a_real_error_still_prints():
    result = run_module("slingshot", "plan", "recipes/squad/llama-3.1-8b/no-such-recipe.yml")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "no-such-recipe.yml" in result.stderr


def test_other_messages_of_the_silenced_loggers_still_print():
    code = ("import slingshot, logging, warnings\n"
            "logging.getLogger('torchao').warning('torchao: a real problem')\n"
            "logging.getLogger('bitsandbytes.backends.cpu.ops').warning('bitsandbytes: a real problem')\n"
            "logging.getLogger('torch.utils._pytree').warning('pytree: a real problem')\n"
            "warnings.warn('kernels: a real problem')\n")
    result = python(code)
    for library in ("torchao", "bitsandbytes", "pytree", "kernels"):
        assert f"{library}: a real problem" in result.stderr, result.stderr
