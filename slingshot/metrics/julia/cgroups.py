"""Cgroups: one per sample, so its memory and process limits hold for all its processes together
(v2, else v1 memory + pids). Only root can make them; elsewhere `cgroup_bases()` is empty."""
import os
import time
import uuid

CGROUP = "/sys/fs/cgroup"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def cgroup_bases():
    """{controller-file-prefix: base folder} for a usable cgroup tree, or {} when there is none."""
    if os.geteuid() != 0:
        return {}
    if os.path.isfile(f"{CGROUP}/cgroup.controllers"):  # v2
        base = f"{CGROUP}/slingshot-julia"
        try:
            os.makedirs(base, exist_ok=True)
            write(f"{base}/cgroup.subtree_control", "+memory +pids")
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
    """Cgroup folders for one sample: created with limits, joined by the sandbox's exec command
    (`join`) before anything untrusted starts, removed after."""

    def __init__(self, bases, memory, processes):
        self.dirs = []
        name = uuid.uuid4().hex
        for kind, base in bases.items():
            path = f"{base}/{name}"
            os.mkdir(path)
            self.dirs.append(path)
            if kind == "v2":
                write(f"{path}/memory.max", str(memory))
                if os.path.exists(f"{path}/memory.swap.max"):
                    write(f"{path}/memory.swap.max", "0")
                write(f"{path}/pids.max", str(processes))
            elif kind == "memory":
                write(f"{path}/memory.limit_in_bytes", str(memory))
            else:
                write(f"{path}/pids.max", str(processes))

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


def join(dirs):
    """Move this process into the cgroup folders `dirs`."""
    for path in dirs:
        write(f"{path}/cgroup.procs", str(os.getpid()))
