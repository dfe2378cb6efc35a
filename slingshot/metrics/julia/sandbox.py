"""Run untrusted Julia code in a sandbox that holds for the whole sample.

What one sample gets (each layer probed by `isolation()`; a missing one makes `require()` refuse to
score unless the user opts out with SLINGSHOT_JULIA_WEAK_SANDBOX=1):
- namespaces (`unshare --net --pid --mount --fork --kill-child`): no network interfaces, no view
  of host processes (a fresh /proc), and every process the sample starts dies with it;
- its own root (a mount namespace + chroot): Julia (read-only), a few system folders for shared
  libraries and tools (/usr, /bin, /lib...), /dev/null and friends, the job files (read-only) and
  /work, a size-limited tmpfs that is the only writable place: no repository, no home folders,
  no /run or /tmp with host sockets;
- a cgroup (v2, else v1 memory + pids): memory and process count limited for the sample as a
  whole, not per process;
- Landlock (writes only below /work and to /dev/null, no TCP, no signals or abstract sockets
  outside the sandbox) and the user `nobody`, as defence in depth;
- RLIMIT_AS per process, RLIMIT_FSIZE per file, no core dumps; the time limits are the scorer's.

This file is also the exec wrapper (`python -I -S sandbox.py --exec SPEC -- CMD`), so it imports
only the standard library."""
import ctypes
import json
import os
import resource
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

try:  # the exec wrapper runs with -I -S and does not need it
    from slingshot.errors import UserError
except ImportError:
    UserError = RuntimeError

REPO = Path(__file__).resolve().parents[3]
REPO_JULIA = REPO / ".julia-install" / "bin" / "julia"
NOBODY = 65534
MEMORY_LIMIT = 4 << 30      # per sample (cgroup) and per process (RLIMIT_AS)
FILE_SIZE_LIMIT = 1 << 30   # Julia's JIT needs a 128 MiB memfd when /proc/self/mem is off limits
DISK_LIMIT = 1 << 30        # size of the sample's writable tmpfs
PROCESS_LIMIT = 128         # tasks (threads included) in the sample's cgroup
MAX_FRAME = 8 << 20         # largest frame read from a sample (wire.jl's MAX_FRAME)
WEAK_ENV = "SLINGSHOT_JULIA_WEAK_SANDBOX"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/dev/null", "/dev/zero", "/dev/random",
                "/dev/urandom")


class JuliaNotFound(RuntimeError):
    pass


class SandboxUnavailable(UserError):
    """The machine cannot give a sample the whole sandbox, and the user did not opt out."""


class ScorerFailure(UserError):
    """Julia, the driver or the sandbox did not start: no answer can be scored, none gets a score."""


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


def julia_root(julia):
    """The folder to mount for `julia`: its install (bin/..) unless it lives in a system folder."""
    real = Path(os.path.realpath(julia))
    if any(str(real).startswith(d + "/") for d in SYSTEM_DIRS):
        return None
    return str(real.parent.parent)


# --- Landlock through raw syscalls (x86_64/arm64 numbers are the same) ---
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
FS_WRITE_FILE, FS_REMOVE_DIR, FS_REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
FS_MAKE_ALL = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
FS_REFER, FS_TRUNCATE = 1 << 13, 1 << 14
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18


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
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
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


# --- cgroups: one per sample, so limits hold for all its processes together ---
CGROUP = "/sys/fs/cgroup"


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _cgroup_bases():
    """{controller-file-prefix: base folder} for a usable cgroup tree, or {} (probed, then cached)."""
    if os.geteuid() != 0:
        return {}
    if os.path.isfile(f"{CGROUP}/cgroup.controllers"):  # v2
        base = f"{CGROUP}/slingshot-julia"
        try:
            os.makedirs(base, exist_ok=True)
            _write(f"{base}/cgroup.subtree_control", "+memory +pids")
            return {"v2": base}
        except OSError:
            return {}
    bases = {}
    for controller in ("memory", "pids"):  # v1
        base = f"{CGROUP}/{controller}/slingshot-julia"
        try:
            os.makedirs(base, exist_ok=True)
            bases[controller] = base
        except OSError:
            return {}
    return bases


class SampleCgroup:
    """Cgroup folders for one sample: created with limits, joined by the wrapper, removed after."""

    def __init__(self, bases, memory, processes):
        self.dirs = []
        name = uuid.uuid4().hex
        for kind, base in bases.items():
            path = f"{base}/{name}"
            os.mkdir(path)
            self.dirs.append(path)
            if kind == "v2":
                _write(f"{path}/memory.max", str(memory))
                if os.path.exists(f"{path}/memory.swap.max"):
                    _write(f"{path}/memory.swap.max", "0")
                _write(f"{path}/pids.max", str(processes))
            elif kind == "memory":
                _write(f"{path}/memory.limit_in_bytes", str(memory))
            else:
                _write(f"{path}/pids.max", str(processes))

    def remove(self):
        for path in self.dirs:
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still exiting
                    time.sleep(0.05)


# --- probing what this machine allows ---
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
        base = [unshare, "--net", "--pid", "--mount", "--fork", "--kill-child"] if unshare else None
        if base and not root:
            base = [unshare, "--user", "--map-root-user"] + base[1:]
        namespaces = bool(base) and _works(base + ["true"])
        abi = landlock_abi()
        cgroups = _cgroup_bases()
        _ISOLATION = {
            "landlock_abi": abi,
            "namespaces": namespaces,             # net + pid + mount: own root, own /proc
            "filesystem": "own root" if namespaces else ("landlock writes" if abi >= 1 else "none"),
            "network": "namespace" if namespaces else ("landlock tcp" if abi >= 4 else "none"),
            "cgroup": "+".join(sorted(cgroups)) or "none",
            "user": "nobody" if root else "self",
            "_prefix": base if namespaces else [],
            "_cgroups": cgroups,
        }
    return _ISOLATION


def missing_layers():
    """Layers a whole-sample sandbox needs that this machine does not give, in words."""
    iso, missing = isolation(), []
    if not iso["namespaces"]:
        missing.append("namespaces (unshare --net --pid --mount failed: no own root, /proc or network)")
    if iso["cgroup"] == "none":
        missing.append("cgroups (no writable memory+pids cgroup: memory and process count not limited per sample)")
    if iso["landlock_abi"] < 1:
        missing.append("Landlock (kernel < 5.13 or disabled)")
    if iso["user"] != "nobody":
        missing.append("user nobody (not running as root)")
    return missing


def require(allow_weak=None):
    """Refuse (SandboxUnavailable) when a layer is missing, unless the user opted out."""
    if allow_weak is None:
        allow_weak = os.environ.get(WEAK_ENV) == "1"
    missing = missing_layers()
    if missing and not allow_weak:
        raise SandboxUnavailable(
            "the Julia sandbox cannot be built on this machine, so answers are not scored: missing "
            + "; ".join(missing) + f". Run as root on Linux >= 5.13 with cgroups, or set {WEAK_ENV}=1 "
            "to score with the layers that exist (untrusted code then runs less confined)")
    return missing


def minimal_env(home, extra=None):
    """Environment for the sample: nothing inherited, so no API keys or tokens leak in."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "JULIA_DEPOT_PATH": os.path.join(home, ".julia"),
        "JULIA_NUM_THREADS": "4",
        "JULIA_HISTORY": os.path.join(home, ".julia_history"),
        "LANG": "C.UTF-8",
    }
    env.update(extra or {})
    return env


class SampleDir:
    """Host folder for one sample's job files and stderr; removed on exit. The sample sees it
    read-only at /job (own root), or works in it directly (weak sandbox)."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="slingshot-julia-")
        if isolation()["user"] == "nobody":
            os.chmod(self.path, 0o755)
            if not isolation()["namespaces"]:
                os.chown(self.path, NOBODY, NOBODY)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def sample_paths(workdir):
    """(job folder, writable home) as the sample sees them."""
    return ("/job", "/work") if isolation()["namespaces"] else (workdir, workdir)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class Timeout(Exception):
    """A sandboxed process did not answer in time."""


class Broken(Exception):
    """A sandboxed process closed its output; `process` says which."""

    def __init__(self, message, process=None):
        super().__init__(message)
        self.process = process


class TooLarge(Broken):
    """A frame over MAX_FRAME; it was read and dropped, so the next frame can follow."""


class SandboxedProcess:
    """`cmd` (a host path, then arguments) run in the sandbox with `workdir`'s .jl files as its job
    folder (`sample_paths`), talking in frames (4-byte little-endian length, then the bytes) on its
    stdin and stdout; its stderr goes to `workdir`/.stderr. Use as a context manager: leaving it kills
    every process of the sample and removes its cgroup."""

    def __init__(self, cmd, workdir, memory_limit=MEMORY_LIMIT, env_extra=None):
        iso = isolation()
        _, home = sample_paths(workdir)
        spec = {"workdir": workdir, "memory": memory_limit, "namespaces": iso["namespaces"],
                "drop": iso["user"] == "nobody", "disk": DISK_LIMIT, "cgroups": [],
                "julia_root": julia_root(cmd[0]) if iso["namespaces"] else None}
        if spec["julia_root"]:  # the sample sees the install at /julia
            cmd = ["/julia/" + os.path.relpath(os.path.realpath(cmd[0]), spec["julia_root"])] + list(cmd[1:])
        self.cgroup = SampleCgroup(iso["_cgroups"], memory_limit, PROCESS_LIMIT) if iso["_cgroups"] else None
        spec["cgroups"] = self.cgroup.dirs if self.cgroup else []
        wrapper = [sys.executable, "-I", "-S", str(Path(__file__).resolve()), "--exec", json.dumps(spec), "--"]
        try:
            with open(os.path.join(workdir, ".stderr"), "wb") as stderr:
                self.proc = subprocess.Popen(iso["_prefix"] + wrapper + list(cmd), cwd=workdir,
                                             env=minimal_env(home, env_extra), stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
        except BaseException:
            if self.cgroup:
                self.cgroup.remove()
            raise
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
            if self.dropping:
                dropped = min(self.dropping, len(self.buffer))
                del self.buffer[:dropped]
                self.dropping -= dropped
                if not self.dropping:
                    raise TooLarge(f"a frame over {MAX_FRAME} bytes", self)
            elif len(self.buffer) >= 4:
                size = struct.unpack("<I", self.buffer[:4])[0]
                if size > MAX_FRAME:
                    if not drop_large:
                        raise TooLarge(f"a frame of {size} bytes (limit {MAX_FRAME})", self)
                    del self.buffer[:4]
                    self.dropping = size
                    continue
                if len(self.buffer) >= 4 + size:
                    frame = bytes(self.buffer[4:4 + size])
                    del self.buffer[:4 + size]
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

    def close(self):
        self.selector.close()
        self.writer.close()
        _kill_group(self.proc)
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


# --- the wrapper: runs as root inside the namespaces, builds the sample's root, drops, execs ---
def _mount(libc, source, target, fstype, flags, data=None):
    if libc.mount(source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
                  flags, data.encode() if data else None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def _bind(libc, source, target, writable=False):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(libc, source, target, None, MS_BIND | MS_REC)
    if not writable:
        _mount(libc, None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)


def _build_root(spec):
    """A tmpfs root holding only what the sample needs; returns its path (before chroot)."""
    libc = ctypes.CDLL(None, use_errno=True)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    new = os.path.join(spec["workdir"], ".root")
    os.makedirs(new, exist_ok=True)
    _mount(libc, "tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), new + path)
        elif os.path.isdir(path):
            _bind(libc, path, new + path)
    for path in SYSTEM_FILES:
        if os.path.exists(path):
            _bind(libc, path, new + path, writable=path.startswith("/dev/"))
    if spec["julia_root"]:
        _bind(libc, spec["julia_root"], new + "/julia")
    job = new + "/job"
    os.makedirs(job)
    for name in os.listdir(spec["workdir"]):
        if name.endswith((".jl", ".md")):
            _bind(libc, os.path.join(spec["workdir"], name), f"{job}/{name}")
    os.makedirs(new + "/proc")
    _mount(libc, "proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV)  # this PID namespace only
    os.makedirs(new + "/work")
    owner = f",uid={NOBODY},gid={NOBODY}" if spec["drop"] else ""
    _mount(libc, "tmpfs", new + "/work", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['disk']},mode=700{owner}")
    os.makedirs(new + "/tmp")
    _mount(libc, None, new, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)  # the tmpfs root itself
    return new


def _exec_main(argv):
    """Wrapper entry: --exec SPEC_JSON -- CMD...: cgroup, own root, limits, Landlock, nobody, exec."""
    spec = json.loads(argv[1])
    cmd = argv[argv.index("--") + 1:]
    for path in spec["cgroups"]:
        _write(f"{path}/cgroup.procs", str(os.getpid()))  # before anything untrusted starts
    writable = spec["workdir"]
    if spec["namespaces"]:
        new = _build_root(spec)
        os.chroot(new)
        os.chdir("/work")
        writable = "/work"
    memory = spec["memory"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # die with the scorer even if it is killed before it can kill us
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if landlock_abi() >= 1:
        apply_landlock(writable)
    if spec["drop"]:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # reset by setuid
    os.execvp(cmd[0], cmd)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--exec":
    _exec_main(sys.argv[1:])
