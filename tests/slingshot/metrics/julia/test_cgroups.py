"""A sample's cgroup: made with its limits, removed after."""
import os

import pytest

from slingshot.metrics.julia.cgroups import SampleCgroup, cgroup_bases


@pytest.mark.skipif(not cgroup_bases(), reason="no writable memory+pids cgroup tree (needs root)")
def test_a_sample_cgroup_holds_its_limits_and_goes_away():
    cgroup = SampleCgroup(cgroup_bases(), 256 << 20, 16)
    try:
        limits = {}
        for path in cgroup.dirs:
            for name in ("memory.max", "memory.limit_in_bytes", "pids.max"):
                if os.path.exists(f"{path}/{name}"):
                    limits[name] = open(f"{path}/{name}").read().strip()
        assert limits.get("pids.max") == "16"
        assert str(256 << 20) in (limits.get("memory.max"), limits.get("memory.limit_in_bytes"))
    finally:
        cgroup.remove()
    assert not any(os.path.exists(path) for path in cgroup.dirs)
