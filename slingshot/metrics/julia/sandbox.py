"""Run untrusted Julia code in a sandbox that holds for the whole sample: what the machine allows
(`isolation()`, `require()`), where Julia is, the sample's folder and environment. The process
itself is started by process.py, and the sandbox is built from inside by jail.py, run as the
command `python -m slingshot julia-exec`.

What one sample gets (each layer probed by `isolation()`; a missing one makes `require()` refuse to
score unless the user opts out with SLINGSHOT_JULIA_WEAK_SANDBOX=1):
- namespaces (`unshare --net --pid --mount --ipc --fork --kill-child`): no network interfaces, no
  view of host processes (a fresh /proc), no host IPC objects, and every process the sample starts
  dies with it;
- its own root (a mount namespace + chroot): Julia (read-only), a few system folders for shared
  libraries and tools (/usr, /bin, /lib...), /dev/null and friends, its own /dev/shm, the job
  files (read-only) and /work, a size-limited tmpfs: no repository, no home folders, no /run or
  /tmp with host sockets;
- a cgroup (v2, else v1 memory + pids): memory and process count limited for the sample as a
  whole, not per process;
- Landlock (writes only below /work, /dev/shm and to /dev/null, no TCP, no signals or abstract
  sockets outside the sandbox) and the user `nobody`, as defence in depth;
- RLIMIT_AS per process, RLIMIT_FSIZE per file, no core dumps; the time limits are the scorer's.

Kernel objects, kind by kind (with namespaces; the weak sandbox shares all but what Landlock denies):
- unshared: mounts (own root), process ids (own /proc; no host process can be seen, signalled or
  traced), network (no interfaces, so no TCP/UDP to the host; abstract Unix sockets belong to the
  network namespace, so none of the host's), IPC (System V shared memory, semaphores and message
  queues, POSIX message queues: the host's are neither listed nor reachable, and the sample's go
  with its namespace when its last process ends), POSIX shared memory (/dev/shm is the sample's
  own tmpfs).
- limited: memory (the cgroup counts every page the sample uses, shared memory and tmpfs pages
  included; RLIMIT_AS per process), processes and threads (cgroup pids), disk (/work at
  DISK_LIMIT, /dev/shm at SHM_LIMIT, each file at FILE_SIZE_LIMIT), IPC objects (jail.IPC_LIMITS
  set in the sample's IPC namespace before it starts: segment sizes, counts, queues).
- left shared, and why: UTS (the host name can be read, not set: `nobody` has no capability; it
  tells nothing a hostname lookup would not); the user namespace when run as root (the sample is
  the unprivileged `nobody`, which owns nothing on the host; without root the sandbox maps the
  user in its own user namespace); the cgroup namespace (the sample can read its cgroup's path in
  /proc/self/cgroup; no cgroup file system is mounted in its root); time (clocks can be read,
  not set without CAP_SYS_TIME); kernel keyrings (per user: the sample can add keys to nobody's
  user keyring, bounded by the kernel's key quota; nothing of the scorer's is kept there and the
  checker, also `nobody`, never reads keys); /dev/urandom and /dev/zero (stateless).
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from slingshot.errors import UserError
from slingshot.layout import ROOT
from slingshot.metrics.julia.cgroups import cgroup_bases
from slingshot.metrics.julia.landlock import landlock_abi

REPO_JULIA = ROOT / ".julia-install" / "bin" / "julia"
NOBODY = 65534
MEMORY_LIMIT = 4 << 30      # per sample (cgroup) and per process (RLIMIT_AS)
FILE_SIZE_LIMIT = 1 << 30   # Julia's JIT needs a 128 MiB memfd when /proc/self/mem is off limits
DISK_LIMIT = 1 << 30        # size of the sample's writable tmpfs
SHM_LIMIT = 64 << 20        # size of the sample's /dev/shm, and of its System V shared memory
PROCESS_LIMIT = 128         # tasks (threads included) in the sample's cgroup
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
        base = [unshare, "--net", "--pid", "--mount", "--ipc", "--fork", "--kill-child"] if unshare else None
        if base and not root:
            base = [unshare, "--user", "--map-root-user"] + base[1:]
        namespaces = bool(base) and _works(base + ["true"])
        abi = landlock_abi()
        cgroups = cgroup_bases()
        _ISOLATION = {
            "landlock_abi": abi,
            "namespaces": namespaces,             # net + pid + mount + ipc: own root, /proc, IPC
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
        missing.append("namespaces (unshare --net --pid --mount --ipc failed: no own root, /proc, network or IPC)")
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


