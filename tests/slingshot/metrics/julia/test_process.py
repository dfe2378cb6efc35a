"""A sandboxed process talks in frames: a reply comes back whole, a frame over MAX_FRAME is refused
(or read past), a process that ends is Broken, and leaving kills every process it started."""
import os
import shutil
import subprocess
import time

import pytest

from slingshot.metrics.julia import sandbox
from slingshot.metrics.julia.process import MAX_FRAME, Broken, SandboxedProcess, TooLarge

PYTHON = shutil.which("python3", path="/usr/bin:/bin")
ECHO = """
import struct, subprocess, sys
subprocess.Popen(["sleep", "3131.5"])
while True:
    head = sys.stdin.buffer.read(4)
    if len(head) < 4:
        break
    data = sys.stdin.buffer.read(struct.unpack("<I", head)[0])
    if data == b"big":
        sys.stdout.buffer.write(struct.pack("<I", %d) + b"x" * %d)
        data = b"after"
    if data == b"end":
        break
    sys.stdout.buffer.write(struct.pack("<I", len(data)) + data)
    sys.stdout.flush()
""" % (MAX_FRAME + 1, MAX_FRAME + 1)


@pytest.mark.skipif(not PYTHON, reason="needs a python3 in /usr/bin or /bin")
def test_frames_both_ways_and_every_process_killed_on_leaving():
    with sandbox.SampleDir() as folder:
        with SandboxedProcess([PYTHON, "-I", "-S", "-c", ECHO], folder) as sample:
            until = time.monotonic() + 30
            sample.send(b"hello", until)
            assert sample.receive(until) == b"hello"
            sample.send(b"big", until)
            with pytest.raises(TooLarge):
                sample.receive(until, drop_large=True)
            assert sample.receive(until) == b"after"  # the large frame was read past
            sample.send(b"end", until)
            with pytest.raises(Broken):
                sample.receive(until)
    time.sleep(0.2)
    assert "sleep 3131.5" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not os.path.exists(folder)
