"""The sandbox's kernel objects, kind by kind, checked from inside a real sandbox with a plain
command (the system's Python; no Julia needed): what the host has, a sample can neither list nor
reach; what a sample makes ends with it; what it may use is limited. Also: what the machine lacks
makes scoring refuse, and a missing Julia names the way to install one."""
import ctypes
import json
import os
import shutil
import time
import uuid
from multiprocessing import shared_memory

import pytest

from slingshot.metrics.julia import sandbox
from slingshot.metrics.julia.process import SandboxedProcess
from tests.helpers.ipc import (IPC_CREAT, IPC_EXCL, IPC_RMID, O_CREAT, O_RDWR, c_library, host_keys, remove_segment,
                               rt_library, shared_segment)


def system_python():
    found = shutil.which("python3", path="/usr/bin:/bin")
    return found if found and os.path.realpath(found).startswith(sandbox.SYSTEM_DIRS) else None


needs_namespaces = pytest.mark.skipif(
    not (sandbox.isolation()["namespaces"] and system_python()),
    reason="needs the sandbox's namespaces (unshare) and a python3 in a system folder")

# Run inside: ctypes on the C library, and `reply(obj)` writes one frame of JSON.
PRELUDE = """
import ctypes, ctypes.util, json, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
rt = ctypes.CDLL(ctypes.util.find_library("rt") or None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def reply(obj):
    data = json.dumps(obj).encode()
    sys.stdout.buffer.write(struct.pack("<I", len(data)) + data)
    sys.stdout.flush()
def keys(kind):
    return [int(line.split()[0]) for line in open("/proc/sysvipc/" + kind).read().splitlines()[1:]]
"""


def run_inside(code, timeout=30):
    """What `code` (after PRELUDE) replies when run in a real sandbox as a sample."""
    with sandbox.SampleDir() as folder:
        with SandboxedProcess([system_python(), "-I", "-S", "-c", PRELUDE + code], folder) as sample:
            try:
                return json.loads(sample.receive(time.monotonic() + timeout))
            except Exception:
                raise AssertionError(open(os.path.join(folder, ".stderr")).read()) from None


class host_objects:
    """On the host: a System V shared-memory segment (0644, holding a secret), a message queue, a
    semaphore set, a POSIX shared-memory file and a POSIX message queue; all removed on exit."""

    def __enter__(self):
        self.libc, self.rt = c_library(), rt_library()
        base = 0x51000000 + (os.getpid() & 0xffff) * 16
        self.keys = {"shm": base + 1, "msg": base + 2, "sem": base + 3}
        self.shm_id = shared_segment(self.libc, self.keys["shm"], b"host secret\0", size=4096)
        self.msg_id = self.libc.msgget(self.keys["msg"], IPC_CREAT | IPC_EXCL | 0o644)
        self.sem_id = self.libc.semget(self.keys["sem"], 1, IPC_CREAT | IPC_EXCL | 0o644)
        assert min(self.msg_id, self.sem_id) >= 0, os.strerror(ctypes.get_errno())
        self.posix = shared_memory.SharedMemory(name=f"slingshot-test-{uuid.uuid4().hex[:8]}", create=True, size=64)
        self.queue = f"/slingshot-test-{uuid.uuid4().hex[:8]}".encode()
        self.queue_fd = self.rt.mq_open(self.queue, O_CREAT | O_RDWR, 0o644, None)
        assert self.queue_fd >= 0, os.strerror(ctypes.get_errno())
        return self

    def __exit__(self, *exc):
        remove_segment(self.libc, self.shm_id)
        self.libc.msgctl(self.msg_id, IPC_RMID, None)
        self.libc.semctl(self.sem_id, 0, IPC_RMID)
        self.posix.close()
        self.posix.unlink()
        os.close(self.queue_fd)
        self.rt.mq_unlink(self.queue)


@needs_namespaces
def test_host_ipc_objects_are_neither_listed_nor_reachable():
    with host_objects() as host:
        assert host.keys["shm"] in host_keys("shm")  # the host lists it: the check below can fail
        seen = run_inside(f"""
reply({{"listed": {{kind: keys(kind) for kind in ("shm", "msg", "sem")}},
        "shmget": libc.shmget({host.keys["shm"]}, 0, 0), "shmat": libc.shmat({host.shm_id}, None, 0o10000),
        "msgget": libc.msgget({host.keys["msg"]}, 0), "semget": libc.semget({host.keys["sem"]}, 0, 0),
        "dev_shm": os.listdir("/dev/shm"), "mq_open": rt.mq_open({host.queue!r}, 0)}})
""")
    assert seen["listed"] == {"shm": [], "msg": [], "sem": []}
    assert seen["shmget"] == seen["msgget"] == seen["semget"] == seen["mq_open"] == -1, seen
    assert seen["shmat"] in (None, 2 ** 64 - 1), seen  # (void *) -1: not attached
    assert host.posix.name not in seen["dev_shm"]


@needs_namespaces
def test_ipc_objects_of_a_sample_end_with_it():
    keys = {"shm": 0x52000001 + os.getpid() % 4096 * 8, "msg": 0x52000002 + os.getpid() % 4096 * 8,
            "sem": 0x52000003 + os.getpid() % 4096 * 8}
    queue, name = f"/slingshot-left-{uuid.uuid4().hex[:8]}", f"slingshot-left-{uuid.uuid4().hex[:8]}"
    made = run_inside(f"""
with open("/dev/shm/{name}", "wb") as f:
    f.write(b"x" * 4096)
reply({{"shm": libc.shmget({keys["shm"]}, 1 << 20, 0o1000 | 0o644), "msg": libc.msgget({keys["msg"]}, 0o1000 | 0o644),
        "sem": libc.semget({keys["sem"]}, 1, 0o1000 | 0o644), "mq": rt.mq_open({queue.encode()!r}, 0o100 | 0o2, 0o644, None),
        "listed": {{kind: keys(kind) for kind in ("shm", "msg", "sem")}}}})
""")
    assert min(made["shm"], made["msg"], made["sem"]) >= 0, made  # a sample may use System V IPC, its own
    # a POSIX queue is its own too, where Landlock does not refuse creating one (it does from ABI 1 on)
    assert made["mq"] >= 0 or sandbox.isolation()["landlock_abi"] >= 1, made
    assert made["listed"] == {kind: [key] for kind, key in keys.items()}
    for kind, key in keys.items():
        assert key not in host_keys(kind), kind
    assert not os.path.exists(f"/dev/shm/{name}")
    assert rt_library().mq_open(queue.encode(), 0) == -1


@needs_namespaces
def test_shared_memory_is_limited():
    limit = sandbox.SHM_LIMIT
    seen = run_inside(f"""
st = os.statvfs("/dev/shm")
try:
    with open("/dev/shm/big", "wb") as f:
        for _ in range({limit >> 20} + 2):
            f.write(b"x" * (1 << 20))
    filled = "all"
except OSError as e:
    filled = e.errno
reply({{"dev_shm_bytes": st.f_blocks * st.f_frsize, "filled": filled,
        "big_segment": libc.shmget(0, {limit} + 4096, 0o1000 | 0o600),
        "queues_max": open("/proc/sys/fs/mqueue/queues_max").read().strip()}})
""")
    assert seen["dev_shm_bytes"] == limit
    assert seen["filled"] == 28, seen  # ENOSPC
    assert seen["big_segment"] == -1  # over kernel/shmmax in the sample's IPC namespace
    assert seen["queues_max"] == "16"


@needs_namespaces
def test_the_sample_runs_as_nobody_with_an_environment_of_its_own(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-slingshot-test-secret")
    seen = run_inside('reply({"uid": os.getuid(), "cwd": os.getcwd(), "env": sorted(os.environ)})')
    assert seen["cwd"] == "/work"
    assert seen["env"] == sorted(sandbox.minimal_env("/work"))
    if sandbox.isolation()["user"] == "nobody":
        assert seen["uid"] == sandbox.NOBODY


def test_missing_layers_refuse_unless_opted_out(monkeypatch):
    weak = {"landlock_abi": 0, "namespaces": False, "filesystem": "none", "network": "none",
            "cgroup": "none", "user": "self", "_prefix": [], "_cgroups": {}}
    monkeypatch.setattr(sandbox, "_ISOLATION", weak)
    monkeypatch.delenv(sandbox.WEAK_ENV, raising=False)
    with pytest.raises(sandbox.SandboxUnavailable, match="cgroups.*SLINGSHOT_JULIA_WEAK_SANDBOX"):
        sandbox.require()
    assert len(sandbox.require(allow_weak=True)) == 4
    monkeypatch.setenv(sandbox.WEAK_ENV, "1")
    assert "namespaces" in sandbox.require()[0]


def test_julia_not_found_names_make_target(monkeypatch, tmp_path):
    monkeypatch.setenv("SLINGSHOT_JULIA", str(tmp_path / "nope"))
    with pytest.raises(sandbox.JuliaNotFound, match="SLINGSHOT_JULIA"):
        sandbox.find_julia()
