"""llama.cpp: a GGUF file served by llama-cpp-python's OpenAI-compatible server on loopback, and
scored through the OpenAI backend (python -m eval exports scores a recipe's exports this way).

Runs are keyed by the GGUF file's sha256, not the server's port, so a restarted server resumes the
same stored run; the report re-hashes the files in meta's gguf_files before it shows the row."""
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from eval.backends.base import Backend, register
from eval.backends.openai_api import OpenAIBackend
from slingshot import layout

SERVER_START_TIMEOUT_S = 300


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server over one GGUF file, on loopback."""

    def __init__(self, gguf, port=None, threads=None, log=None, lora=None, n_ctx=2048):
        self.gguf, self.port = Path(gguf), port or free_port()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf),
                   "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx)]
        if lora:  # an adapter-only GGUF, applied over the base at load time
            command += ["--lora_path", str(lora)]
        # No --chat_format: the server then formats prompts with the GGUF's own chat template.
        if threads:
            command += ["--n_threads", str(threads)]
        self.log = open(log or Path(lora or self.gguf).with_suffix(".server.log"), "w", encoding="utf-8")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.time() + SERVER_START_TIMEOUT_S
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.process.returncode}; "
                                   f"see {layout.display_path(self.log.name)}")
            try:
                with urllib.request.urlopen(self.base_url + "/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"llama.cpp server did not answer within {SERVER_START_TIMEOUT_S} s")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@register
class GGUFBackend(OpenAIBackend):
    """The OpenAI backend, identified by the GGUF file it talks to rather than the server's port,
    so a restarted server on another port resumes the same stored run. Priced by wall time, as
    any model on hardware paid by the hour."""
    PREFIX, NAME, SPEC = "gguf", "llama.cpp", "<file> (served by python -m eval exports)"
    OPTIONS = {}
    BUILT_BY_RUN = False
    cost = classmethod(Backend.cost.__func__)

    def __init__(self, gguf, sha256, base_url, concurrency=1, base=None, **options):
        super().__init__(Path(gguf).name, base_url=base_url, concurrency=concurrency, **options)
        self.sha256 = sha256  # of the file; for an adapter alone, "<base's sha256>+<adapter's>"
        self.files = [layout.display_path(f) for f in (base, gguf) if f is not None]
        self.spec = f"{self.PREFIX}:{Path(gguf).name}"

    def identity(self):
        return {"backend": self.NAME, "model": self.model, "gguf_sha256": self.sha256, "temperature": 0}

    def info(self):  # gguf_files: what the report re-hashes before it shows the row (eval.verify)
        return {**super().info(), "backend": self.NAME, "device": "cpu", "gguf_files": self.files}
