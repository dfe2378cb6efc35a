"""Run untrusted Julia code in a sandbox: one process per sample, own temporary folder as cwd and
HOME, minimal environment, memory limit, no writes outside that folder, no network where the OS
allows, and the whole process group (and PID namespace) killed on timeout.

Layers, each used when available (see `isolation()`):
- Landlock (Linux >= 5.13, unprivileged): file writes only below the sample folder and /dev/null;
  TCP connect/bind denied (ABI >= 4); signals to processes outside the sandbox denied (ABI >= 6).
- `unshare --net --pid` (root, or unprivileged user namespaces): no network interfaces; every
  process the sample starts dies with it.
- running as root: the sample runs as user `nobody`.
- RLIMIT_AS caps memory; RLIMIT_FSIZE caps file size.

This file is also the exec wrapper (`python -I sandbox.py --exec ...`), so it imports only the
standard library."""
import ctypes
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
REPO_JULIA = REPO / ".julia-install" / "bin" / "julia"
NOBODY = 65534
MEMORY_LIMIT = 4 << 30
FILE_SIZE_LIMIT = 1 << 30  # Julia's JIT needs a 128 MiB memfd when /proc/self/mem is off limits


class JuliaNotFound(RuntimeError):
    pass


def find_julia():
    """julia from $SLINGSHOT_JULIA, else the repo install (`make julia`), else PATH."""
    explicit = os.environ.get("SLINGSHOT_JULIA")
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise JuliaNotFound(f"SLINGSHOT_JULIA={explicit} is not an executable file")
        return explicit
    if REPO_JULIA.is_file() and os.access(REPO_JULIA, os.X_OK):
        return str(REPO_JULIA)
    found = shutil.which("julia")
    if found:
        return found
    raise JuliaNotFound("no julia found: run `make julia` (installs it into .julia-install/), "
                        "put julia on PATH, or set SLINGSHOT_JULIA=/path/to/julia")


# --- Landlock through raw syscalls (x86_64/arm64 numbers are the same) ---
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
FS_WRITE_FILE, FS_REMOVE_DIR, FS_REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
FS_MAKE_ALL = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
FS_REFER, FS_TRUNCATE = 1 << 13, 1 << 14
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_SIGNAL = 1 << 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        abi = libc.syscall(SYS_CREATE_RULESET, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    except (OSError, AttributeError):
        return 0
    return max(abi, 0)


def apply_landlock(writable_dir):
    """Restrict this process (and what it execs) to writing below `writable_dir`."""
    abi = landlock_abi()
    if abi < 1:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    fs = FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_ALL
    fs |= FS_REFER if abi >= 2 else 0
    fs |= FS_TRUNCATE if abi >= 3 else 0
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_SIGNAL if abi >= 6 else 0
    fields = [fs] + ([net] if abi >= 4 else []) + ([scoped] if abi >= 6 else [])
    attr = (ctypes.c_uint64 * len(fields))(*fields)
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path, access in ((writable_dir, fs), ("/dev/null", FS_WRITE_FILE | (fs & FS_TRUNCATE))):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access, fd)
                if libc.syscall(SYS_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
            finally:
                os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS) failed")
        if libc.syscall(SYS_RESTRICT_SELF, ruleset, 0) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return True


def _works(cmd):
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


_ISOLATION = None


def isolation():
    """Which sandbox layers this machine allows (probed once per process)."""
    global _ISOLATION
    if _ISOLATION is None:
        root = os.geteuid() == 0
        unshare = shutil.which("unshare")
        base = [unshare, "--net", "--pid", "--fork", "--kill-child"] if unshare else None
        if base and not root:
            base = [unshare, "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"]
        namespaces = bool(base) and _works(base + ["true"])
        setpriv = shutil.which("setpriv")
        drop = root and bool(setpriv)
        abi = landlock_abi()
        _ISOLATION = {
            "landlock_abi": abi,
            "filesystem": "landlock" if abi >= 1 else ("user nobody" if drop else "none"),
            "network": "namespace" if namespaces else ("landlock tcp" if abi >= 4 else "none"),
            "pid_namespace": namespaces,
            "user": "nobody" if drop else "self",
            "_prefix": (base if namespaces else [])
                       + ([setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if drop else []),
        }
    return _ISOLATION


def minimal_env(workdir, extra=None):
    """Environment for the sample: nothing inherited, so no API keys or tokens leak in."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "JULIA_DEPOT_PATH": os.path.join(workdir, ".julia"),
        "JULIA_NUM_THREADS": "4",
        "JULIA_HISTORY": os.path.join(workdir, ".julia_history"),
        "LANG": "C.UTF-8",
    }
    env.update(extra or {})
    return env


class SampleDir:
    """Temporary folder for one sample, readable and writable by the sandbox user; removed on exit."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="slingshot-julia-")
        if isolation()["user"] == "nobody":
            os.chown(self.path, NOBODY, NOBODY)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_streaming(cmd, workdir, on_line, startup_limit, step_limit, deadline,
                  memory_limit=MEMORY_LIMIT, env_extra=None):
    """Run `cmd` sandboxed in `workdir`, calling on_line(text) per stdout line.

    The clock restarts with every line: the first line must come within `startup_limit` seconds,
    each later one within `step_limit`; nothing runs past `deadline` (time.monotonic()).
    Returns "done" (exited by itself), "step_timeout" or "deadline"."""
    iso = isolation()
    wrapper = [sys.executable, "-I", "-S", str(Path(__file__).resolve()), "--exec", workdir,
               str(memory_limit), "--"]
    full = wrapper + iso["_prefix"] + list(cmd)
    stderr_path = os.path.join(workdir, ".stderr")
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(full, cwd=workdir, env=minimal_env(workdir, env_extra),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                                start_new_session=True)
    status, buffer, waited_first = "done", b"", False
    step_end = time.monotonic() + startup_limit
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while True:
            now = time.monotonic()
            limit = min(step_end, deadline)
            if now >= limit:
                status = "deadline" if deadline <= step_end else "step_timeout"
                break
            if not sel.select(timeout=limit - now):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                on_line(line.decode("utf-8", errors="replace"))
                step_end = time.monotonic() + (step_limit if waited_first else startup_limit)
                waited_first = True
    finally:
        sel.close()
        _kill_group(proc)
        proc.stdout.close()
    return status


def stderr_tail(workdir, size=2000):
    try:
        with open(os.path.join(workdir, ".stderr"), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _exec_main(argv):
    """Wrapper entry: --exec WORKDIR MEMORY_BYTES -- CMD...: apply limits, then exec CMD."""
    workdir, memory = argv[1], int(argv[2])
    cmd = argv[argv.index("--") + 1:]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # die with the scorer even if it is killed before it can kill us
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if landlock_abi() >= 1:
        apply_landlock(workdir)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--exec":
    _exec_main(sys.argv[1:])
