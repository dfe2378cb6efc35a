"""Host IPC objects for the sandbox's tests, made with ctypes on the C library: a System V shared-memory
segment holding bytes, and the keys of the System V objects the host's IPC namespace lists."""
import ctypes
import ctypes.util
import os

IPC_CREAT, IPC_EXCL, IPC_RMID, O_CREAT, O_RDWR = 0o1000, 0o2000, 0, 0o100, 0o2


def c_library():
    """The C library, errno kept, shmat returning an address."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    return libc


def rt_library():
    """The POSIX real-time library (message queues), errno kept."""
    return ctypes.CDLL(ctypes.util.find_library("rt") or None, use_errno=True)


def host_keys(kind):
    """Keys of the System V objects of `kind` (shm, msg, sem) the host's IPC namespace lists."""
    with open(f"/proc/sysvipc/{kind}") as f:
        return [int(line.split()[0]) for line in f.read().splitlines()[1:]]


def shared_segment(libc, key, data, size=None):
    """The id of a new System V shared-memory segment (0644, `size` bytes, else len(data)) holding `data`."""
    shm_id = libc.shmget(key, size or len(data), IPC_CREAT | IPC_EXCL | 0o644)
    assert shm_id >= 0, os.strerror(ctypes.get_errno())
    address = libc.shmat(shm_id, None, 0)
    ctypes.memmove(address, data, len(data))
    libc.shmdt(ctypes.c_void_p(address))
    return shm_id


def remove_segment(libc, shm_id):
    libc.shmctl(shm_id, IPC_RMID, None)
