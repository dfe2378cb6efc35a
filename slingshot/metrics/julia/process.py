"""One sandboxed process, started and talked to in frames (a 4-byte little-endian length, then the
bytes) on its stdin and stdout, never blocking the scorer.

The process boundary buys the isolation: the sandbox is built from inside by the command
`python -m slingshot julia-exec SPEC -- CMD...` (slingshot/commands/julia_exec.py, which runs
jail.py), started through `unshare` in new namespaces. It runs with -E -s -S (no environment
variables of Python's, no site-packages: only the standard library and this package, found from
the working folder, the package's root)."""
import json
import os
import selectors
import signal
import struct
import subprocess
import sys
import time

from slingshot.layout import ROOT
from slingshot.metrics.julia import sandbox
from slingshot.metrics.julia.cgroups import SampleCgroup

MAX_FRAME = 8 << 20  # largest frame read from a sample (wire.jl's MAX_FRAME)
EXEC_COMMAND = [sys.executable, "-E", "-s", "-S", "-m", "slingshot", "julia-exec"]


class Timeout(Exception):
    """A sandboxed process did not answer in time."""


class Broken(Exception):
    """A sandboxed process closed its output; `process` says which."""

    def __init__(self, message, process=None):
        super().__init__(message)
        self.process = process


class TooLarge(Broken):
    """A frame over MAX_FRAME; it was read and dropped, so the next frame can follow."""


def exec_spec(cmd, workdir, memory_limit, env):
    """(what julia-exec builds and drops to, the command as the sample sees it)."""
    iso = sandbox.isolation()
    spec = {"workdir": workdir, "memory": memory_limit, "namespaces": iso["namespaces"],
            "drop": iso["user"] == "nobody", "disk": sandbox.DISK_LIMIT, "shm": sandbox.SHM_LIMIT,
            "host_ipc": os.stat("/proc/self/ns/ipc").st_ino, "cgroups": [], "env": env,
            "julia_root": sandbox.julia_root(cmd[0]) if iso["namespaces"] else None}
    if spec["julia_root"]:  # the sample sees the install at /julia
        cmd = ["/julia/" + os.path.relpath(os.path.realpath(cmd[0]), spec["julia_root"])] + list(cmd[1:])
    return spec, list(cmd)


def start(cmd, workdir, memory_limit=sandbox.MEMORY_LIMIT, env_extra=None):
    """(Popen, SampleCgroup or None): `cmd` started in the sandbox, its stderr in `workdir`/.stderr."""
    iso = sandbox.isolation()
    env = sandbox.minimal_env(sandbox.sample_paths(workdir)[1], env_extra)
    spec, cmd = exec_spec(cmd, workdir, memory_limit, env)
    cgroup = SampleCgroup(iso["_cgroups"], memory_limit, sandbox.PROCESS_LIMIT) if iso["_cgroups"] else None
    spec["cgroups"] = cgroup.dirs if cgroup else []
    try:
        with open(os.path.join(workdir, ".stderr"), "wb") as stderr:
            proc = subprocess.Popen(iso["_prefix"] + EXEC_COMMAND + [json.dumps(spec), "--"] + cmd,
                                    cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=stderr, start_new_session=True)
    except BaseException:
        if cgroup:
            cgroup.remove()
        raise
    return proc, cgroup


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class SandboxedProcess:
    """`cmd` (a host path, then arguments) run in the sandbox with `workdir`'s .jl and .md files as
    its job folder (`sandbox.sample_paths`), talking in frames; its stderr goes to `workdir`/.stderr.
    Use as a context manager: leaving it kills every process of the sample and removes its cgroup."""

    def __init__(self, cmd, workdir, memory_limit=sandbox.MEMORY_LIMIT, env_extra=None):
        self.proc, self.cgroup = start(cmd, workdir, memory_limit, env_extra)
        self.buffer, self.dropping = bytearray(), 0
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.stdin = self.proc.stdin.fileno()
        os.set_blocking(self.stdin, False)
        self.writer = selectors.DefaultSelector()
        self.writer.register(self.stdin, selectors.EVENT_WRITE)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, payload, until):
        """Write one frame by `until` (time.monotonic()); raises Timeout, or Broken when the process
        no longer reads. Never blocks: a process that stops reading cannot stall the scorer."""
        data = memoryview(struct.pack("<I", len(payload)) + payload)
        while data:
            now = time.monotonic()
            if now >= until:
                raise Timeout()
            if not self.writer.select(timeout=until - now):
                continue
            try:
                data = data[os.write(self.stdin, data[:1 << 16]):]
            except BlockingIOError:
                continue
            except OSError:
                raise Broken("the process no longer reads", self) from None

    def receive(self, until, drop_large=False):
        """The next frame, waiting until `until` (time.monotonic()); raises Timeout, TooLarge or Broken.
        A frame over MAX_FRAME raises TooLarge at once, or once it has been read past (drop_large)."""
        while True:
            frame = self._buffered_frame(drop_large)
            if frame is not None:
                return frame
            now = time.monotonic()
            if now >= until:
                raise Timeout()
            if not self.selector.select(timeout=until - now):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                raise Broken("the process ended", self)
            self.buffer += chunk

    def _buffered_frame(self, drop_large):
        """A whole frame from the buffer, or None to read more; drops what a large frame sent."""
        if self.dropping:
            dropped = min(self.dropping, len(self.buffer))
            del self.buffer[:dropped]
            self.dropping -= dropped
            if not self.dropping:
                raise TooLarge(f"a frame over {MAX_FRAME} bytes", self)
            return None
        if len(self.buffer) < 4:
            return None
        size = struct.unpack("<I", self.buffer[:4])[0]
        if size > MAX_FRAME:
            if not drop_large:
                raise TooLarge(f"a frame of {size} bytes (limit {MAX_FRAME})", self)
            del self.buffer[:4]
            self.dropping = size
            return self._buffered_frame(drop_large)
        if len(self.buffer) < 4 + size:
            return None
        frame = bytes(self.buffer[4:4 + size])
        del self.buffer[:4 + size]
        return frame

    def close(self):
        self.selector.close()
        self.writer.close()
        kill_group(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        if self.cgroup:
            self.cgroup.remove()
            self.cgroup = None


def stderr_tail(workdir, size=2000):
    try:
        with open(os.path.join(workdir, ".stderr"), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
