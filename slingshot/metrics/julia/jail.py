"""The inside of the sandbox: run as root (or the mapped root of a user namespace) in the sample's
new namespaces by the command `python -m slingshot julia-exec`, it joins the sample's cgroup,
builds the sample's root, limits its IPC objects, sets the process limits and Landlock, drops to
`nobody` and execs the sample. Everything it imports is loaded before the chroot."""
import ctypes
import os
import resource
import signal

from slingshot.metrics.julia.cgroups import join
from slingshot.metrics.julia.landlock import apply_landlock, landlock_abi
from slingshot.metrics.julia.sandbox import FILE_SIZE_LIMIT, NOBODY, SYSTEM_DIRS, SYSTEM_FILES

PR_SET_PDEATHSIG = 1
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
# Set in the sample's own IPC namespace (/proc/sys/...), so they bind the sample only.
# shmmax and shmall (in pages) are filled in from the spec's "shm" size.
IPC_LIMITS = {"kernel/shmmni": "64", "kernel/msgmni": "16", "kernel/sem": "32 1024 32 16",
              "fs/mqueue/queues_max": "16"}


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


def _system_parts(libc, new, spec):
    """System folders and device files, Julia's install and the job files, bound into `new`."""
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


def build_root(spec):
    """A tmpfs root holding only what the sample needs; returns its path (before chroot)."""
    libc = ctypes.CDLL(None, use_errno=True)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    new = os.path.join(spec["workdir"], ".root")
    os.makedirs(new, exist_ok=True)
    _mount(libc, "tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    _system_parts(libc, new, spec)
    os.makedirs(new + "/proc")
    _mount(libc, "proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV)  # this PID namespace only
    owner = f",uid={NOBODY},gid={NOBODY}" if spec["drop"] else ""
    os.makedirs(new + "/work")
    _mount(libc, "tmpfs", new + "/work", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['disk']},mode=700{owner}")
    os.makedirs(new + "/dev/shm")  # POSIX shared memory: the sample's own, not the host's
    _mount(libc, "tmpfs", new + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           f"size={spec['shm']},mode=1777")
    os.makedirs(new + "/tmp")
    _mount(libc, None, new, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)  # the tmpfs root itself
    return new


def limit_ipc(proc, shm_bytes, host_ipc, required):
    """Write IPC_LIMITS (and the shared-memory size) into this IPC namespace's sysctls under `proc`,
    after checking it is not the host's (`host_ipc`: the inode of the scorer's namespace), whose
    limits these would change. A user namespace's kernel may refuse (`required` False): the cgroup
    still counts the pages."""
    if os.stat(f"{proc}/self/ns/ipc").st_ino == host_ipc:
        raise RuntimeError("julia-exec: the sample is in the host's IPC namespace (unshare --ipc missing)")
    pages = max(1, shm_bytes // os.sysconf("SC_PAGE_SIZE"))
    limits = {**IPC_LIMITS, "kernel/shmmax": str(shm_bytes), "kernel/shmall": str(pages)}
    for name, value in limits.items():
        try:
            with open(f"{proc}/sys/{name}", "w") as f:
                f.write(value)
        except OSError:
            if required:
                raise


def _enter_root(spec):
    """Own root and IPC limits (namespaces), else the sample folder; the folder it may write."""
    if not spec["namespaces"]:
        os.chdir(spec["workdir"])
        return [spec["workdir"]]
    new = build_root(spec)
    limit_ipc(new + "/proc", spec["shm"], spec["host_ipc"], required=spec["drop"])
    os.chroot(new)
    os.chdir("/work")
    return ["/work", "/dev/shm"]


def exec_sample(spec, cmd):
    """Cgroup, own root, limits, Landlock, nobody, exec `cmd` with the spec's environment."""
    join(spec["cgroups"])  # before anything untrusted starts
    writable = _enter_root(spec)
    memory = spec["memory"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the scorer even if it is killed first
    if landlock_abi() >= 1:
        apply_landlock(writable)
    if spec["drop"]:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # reset by setuid
    os.execvpe(cmd[0], cmd, spec["env"])
