"""Hostile answers against the Julia scorer: none may score more than an honest stub (an answer that
defines the function with the right signature and returns nothing useful). Escapes are written so
that a working one turns into the reference solution (score 100), so "contained" and "scored no
more than the stub" are the same assertion.

`python tests/hostile/test_julia_answers.py [CASE_DIR]` prints each attack's score beside the do-nothing
answer's and the stub's."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from multiprocessing import shared_memory
from pathlib import Path

import pytest

from slingshot.metrics.julia.rules import julia_literal as _julia_literal
from slingshot.metrics.julia.sandbox import find_julia
from tests.helpers import needs_julia
from tests.helpers.ipc import c_library, host_keys, remove_segment, shared_segment

REPO = Path(__file__).resolve().parents[2]
NOTHING = "solves_nothing = 1"
STUB = "wrap_string(text, width = 10) = nothing"
MARKER = "4242.25"  # a host process with this in its command line: `sleep 4242.25`
BAIT_KEY = 0x53000000 + os.getpid() % 65536  # a System V segment of the host's holding the solution
LEFT_KEY = 0x54000000 + os.getpid() % 65536  # IPC objects an answer tries to leave on the host
HANGING = {"step_limit": 2, "total_limit": 12}  # limits for attacks that make every step wait

# Julia helpers the attacks share: write bytes to every file descriptor, build frames.
KIT = """
function _write_all(bytes::Vector{UInt8}, fds = 0:64)
    for fd in fds
        ccall(:write, Cssize_t, (Cint, Ptr{UInt8}, Csize_t), fd, bytes, length(bytes))
    end
end
_frame(bytes::Vector{UInt8}) = vcat(reinterpret(UInt8, [htol(UInt32(length(bytes)))]), bytes)
_frame(s::String) = _frame(Vector{UInt8}(s))
"""


def fence(code):
    return f"```julia\n{code}\n```\n"


def _forge_lines(case):
    """Every line a perfect run would write: the old keyed protocol and the checker's."""
    lines = ["READY", "P main 1", "E main 1 1"]
    lines += [f"X example {i} 1" for i in range(1, len(case["examples"]) + 1)]
    lines += [f"X test {i} 1" for i in range(1, len(case["unit_tests"]) + 1)]
    return lines + ["DONE"]


def forging_attacks(case, lines):
    """Protocol lines and frames written wherever the answer can reach."""
    raw = _julia_literal("\n".join(lines[2:]) + "\n")
    frames = "vcat(" + ", ".join(f"_frame({_julia_literal(line)})" for line in [*lines[:3], "L wrap_string:f", *lines[3:]]) + ")"
    many = _julia_literal("E main 1 1\n" + "\n".join(f"X test {i} 1" for i in range(1, 1001)) + "\nDONE\n")
    keyed = "for l in split(" + raw + ", '\\n'); _write_all(Vector{UInt8}(key * \" \" * l * \"\\n\"), fds); end"
    return {
        "emit_driver": "\n".join(f"Main.SlingshotDriver.emit({', '.join(_julia_literal(p) for p in line.split(' '))})"
                                  for line in lines[2:]) + "\nexit(0)",  # the old protocol writer
        "emitter_guess": f"for fd in 0:64\n  try\n    e = Main.SlingshotDriver.emitter(Cint(fd), \"\")\n"
                         f"    for l in split({raw}, '\\n'); isempty(l) || e(split(l)...); end\n  catch\n  end\nend\nexit(0)",
        "raw_fds": f"_write_all(Vector{{UInt8}}({raw}))\nexit(0)",
        "out_of_range": f"_write_all(Vector{{UInt8}}({many}))\nexit(0)",
        "read_job": "x = Main.JOB\n_write_all(Vector{UInt8}(\"X test 1 1\\n\"))",
        # the break that motivated the checker: the key from stdin's buffer, the channel from ARGS
        "stdin_key_from_buffer": "key = try String(Base.stdin.buffer.data[1:32]) catch; \"\" end\n"
                                 "fds = [something(tryparse(Cint, a), Cint(-1)) for a in ARGS]\n" + keyed,
        "frames_on_all_fds": f"_write_all({frames}, 0:1023)",
        "frames_to_proc_self_fd": "for f in readdir(\"/proc/self/fd\")\n  try\n"
                                  f"    open(io -> write(io, {frames}), \"/proc/self/fd/$f\", \"w\")\n  catch\n  end\nend",
        "frames_to_parent_fds": "for pid in unique([ccall(:getppid, Cint, ()), 1]), f in (try readdir(\"/proc/$pid/fd\") catch; String[] end)\n"
                                f"  try\n    open(io -> write(io, {frames}), \"/proc/$pid/fd/$f\", \"w\")\n  catch\n  end\nend",
        "key_from_environment": "fds = 0:64\nfor (k, v) in ENV\n  key = v\n  " + keyed + "\nend",
        "key_from_task_storage": "vals = Any[]\nst = current_task().storage\nst === nothing || append!(vals, values(st))\n"
                                 "for m in (Main, Main.SlingshotDriver), n in names(m, all = true)\n"
                                 "  isdefined(m, n) && push!(vals, getfield(m, n))\nend\nfds = 0:64\n"
                                 "for key in filter(v -> v isa String && occursin(r\"^[0-9a-f]{32}$\", v), vals)\n  " + keyed + "\nend",
        "print_protocol_lines": f"print({raw})\nprint(stderr, {raw})\nwrite(stdout, {frames})\nwrite(stderr, {frames})\n"
                                "flush(stdout)\n" + STUB,
        "atexit_hook": f"atexit(() -> _write_all({frames}))\n" + STUB,
        "replies_before_asked": "reply = Main.SlingshotWire.encode_value((:ok, nothing), (io, x) -> nothing)\n"
                                f"Threads.@spawn for _ in 1:200\n  sleep(0.05)\n  _write_all(_frame(reply), 3:64)\n"
                                f"  _write_all({frames}, 3:64)\nend\n" + STUB,
    }


def value_attacks():
    """wrap_string defined, returning values that would pass if the tests ran in the answer's process."""
    magic = "struct Magic end\nBase.:(==)(::Magic, ::Any) = true\nBase.:(==)(::Any, ::Magic) = true\n" \
            "Base.:(<=)(::Magic, ::Any) = true\nBase.isless(::Magic, ::Any) = true\n"
    long = '"' + "x" * 100 + '"'  # wrong for every test (no line is <= 10 characters)
    return {
        "magic_eq": magic + "wrap_string(args...) = Magic()",
        "magic_isequal_hash": magic + "Base.isequal(::Magic, ::Any) = true\nBase.isequal(::Any, ::Magic) = true\n"
                              "Base.hash(::Magic, h::UInt) = hash(\"\", h)\nwrap_string(args...) = Magic()",
        "magic_show_string": magic + "Base.show(io::IO, ::Magic) = print(io, \"Hi\")\nBase.string(::Magic) = \"Hi\"\n"
                             "Base.print(io::IO, ::Magic) = print(io, \"Hi\")\nwrap_string(args...) = Magic()",
        "fake_abstract_string": "struct Fake <: AbstractString end\nBase.:(==)(::Fake, ::Any) = true\n"
                                "Base.iterate(::Fake, i::Integer = 1) = i > 100 ? nothing : ('x', i + 1)\n"
                                "Base.ncodeunits(::Fake) = 100\nBase.codeunit(::Fake) = UInt8\nBase.isvalid(::Fake, i::Int) = 1 <= i <= 100\n"
                                "wrap_string(args...) = Fake()",
        "fake_abstract_vector": "struct FV <: AbstractVector{Int} end\nBase.size(::FV) = (3,)\nBase.getindex(::FV, i::Int) = i\n"
                                "Base.:(==)(::FV, ::Any) = true\nwrap_string(args...) = FV()",
        "base_string_eq": "Base.:(==)(a::String, b::String) = true\nBase.isequal(a::String, b::String) = true\n"
                          f"wrap_string(args...) = {long}",
        "own_eq_and_le": f"==(a, b) = true\n<=(a, b) = true\nisequal(a, b) = true\nwrap_string(args...) = {long}",
        "own_test_macros": "macro test(ex) :(true) end\nmacro test_throws(a, ex) :(true) end\n"
                           "macro testset(args...) :(nothing) end\n" + STUB,
        "redefine_test_macro": "Core.eval(Test, :(macro test(ex) :(nothing) end))\n" + STUB,
        "redefine_do_test": "Core.eval(Test, :(do_test(r::ExecutionResult, orig) = nothing))\n" + STUB,
        "overwrite_eq_isequal": "Base.:(==)(a, b) = true\nBase.isequal(a, b) = true\n" + STUB,
        "overwrite_print_write": "Base.print(io::IO, s::String) = nothing\nBase.string(x::Nothing) = \"\"\n"
                                 "Base.write(io::IOStream, x::Vector{UInt8}) = invoke(write, Tuple{IO, Vector{UInt8}}, io, "
                                 "_frame(\"X test 1 1\"))\n" + STUB,
        "redefine_wire_encoder": "Core.eval(Main.SlingshotWire, :(encode_value(x, o) = UInt8[0x62, 0x01]))\n" + STUB,
        "huge_reply": "wrap_string(args...) = repeat(\"x\", 30_000_000)",
        "deep_nesting_reply": "wrap_string(args...) = (_write_all(_frame(vcat(fill(UInt8('t'), 1), reinterpret(UInt8, [1]), "
                              "repeat(vcat(UInt8('t'), reinterpret(UInt8, [1])), 1000))), 3:64); nothing)",
        "huge_count_reply": "wrap_string(args...) = (_write_all(_frame(vcat(UInt8('A'), UInt8('l'), reinterpret(UInt8, [UInt32(3)]), "
                            "Vector{UInt8}(\"Any\"), reinterpret(UInt8, [1, 10^12]))), 3:64); nothing)",
        "never_ending_reply": "wrap_string(args...) = (_write_all(Vector{UInt8}(reinterpret(UInt8, [UInt32(1000)])), 3:64); sleep(60))",
    }


def escape_attacks(case, bait):
    """Reaching what the sample should not see; a success turns into the reference solution."""
    ref = _julia_literal(case["reference_solution"])
    solve = f"include_string(@__MODULE__, {ref})"
    return {
        "read_answer_key": f"src = read({_julia_literal(bait['key_file'])}, String)\n"
                           "include_string(@__MODULE__, src)",
        "read_case_file": f"src = read({_julia_literal(str(Path(case['dir']) / 'definition.toml'))}, String)\n"
                          "m = match(r\"reference_solution = \\\"\\\"\\\"(.*?)\\\"\\\"\\\"\"s, src)\n"
                          "include_string(@__MODULE__, unescape_string(m[1]))",
        "host_processes": "seen = false\nfor p in readdir(\"/proc\")\n  try\n"
                          f"    occursin({_julia_literal(MARKER)}, read(\"/proc/$p/cmdline\", String)) && (global seen = true)\n"
                          f"  catch\n  end\nend\nseen && {solve}",
        "find_the_checker": "seen = false\nfor p in readdir(\"/proc\"), f in (\"cmdline\", \"environ\")\n  try\n"
                            "    occursin(\"checker.jl\", read(\"/proc/$p/$f\", String)) && (global seen = true)\n  catch\n  end\nend\n"
                            "for top in (\"/job\", \"/work\", \"/tmp\", \"/etc\", \"/run\", \"/\"), (root, dirs, files) in walkdir(top; onerror = e -> nothing)\n"
                            "  top == \"/\" && empty!(dirs)  # the root's own files; Julia and the system folders hold no tests\n"
                            "  for f in files\n    (f == \"checker.jl\" || occursin(string(\"@tes\", \"t wrap_string\"), try read(joinpath(root, f), String) catch; \"\" end)) && (global seen = true)\n"
                            "  end\nend\n"
                            f"seen && {solve}",
        "ptrace_everything": "hits = 0\nfor p in readdir(\"/proc\")\n  pid = tryparse(Cint, p)\n"
                             "  (pid === nothing || pid == getpid()) && continue\n"
                             "  if ccall(:ptrace, Clong, (Clong, Cint, Ptr{Cvoid}, Ptr{Cvoid}), 16, pid, C_NULL, C_NULL) == 0\n"
                             "    occursin(\"checker.jl\", try read(\"/proc/$p/cmdline\", String) catch; \"\" end) && (global hits += 1)\n"
                             "  end\nend\n"
                             "ccall(:ptrace, Clong, (Clong, Cint, Ptr{Cvoid}, Ptr{Cvoid}), 16, ccall(:getppid, Cint, ()), C_NULL, C_NULL) == 0 && "
                             f"(hits += 1)\nhits > 0 && {solve}",
        "signals_everywhere": "for pid in 1:4096\n  pid == getpid() && continue\n"
                              "  ccall(:kill, Cint, (Cint, Cint), pid, 19)\n  ccall(:kill, Cint, (Cint, Cint), pid, 9)\nend\n"
                              "ccall(:kill, Cint, (Cint, Cint), -1, 9)\n" + STUB,
        "host_socket": f"using Sockets\ns = connect({_julia_literal(bait['socket'])})\n"
                       "include_string(@__MODULE__, String(read(s)))",
        "many_processes": "ps = Any[]\nfor i in 1:300\n  try\n    push!(ps, run(`sleep 20`, wait=false))\n"
                          f"  catch\n    break\n  end\nend\nlength(ps) >= 300 && {solve}\nforeach(kill, ps)",
        "memory_in_children": "cmd = `python3 -c \"import time; x = b'1' * (1100 * 10**6); time.sleep(4)\"`\n"
                              "ps = [run(cmd, wait=false) for _ in 1:4]\n"
                              "foreach(p -> try wait(p) catch end, ps)\n"
                              f"count(p -> success(p), ps) == 4 && {solve}",
        "big_files": "for i in 1:3\n  try\n    open(\"big$i\", \"w\") do f\n"
                     "      chunk = zeros(UInt8, 1 << 24)\n      for _ in 1:24; write(f, chunk); end\n"
                     "    end\n  catch\n  end\nend\n"  # Julia drops ENOSPC silently: count what landed
                     f"sum(i -> isfile(\"big$i\") ? filesize(\"big$i\") : 0, 1:3) >= 3 * 24 << 24 && {solve}",
        **ipc_attacks(bait),
    }


def ipc_attacks(bait):
    """The host's shared memory read (System V, listed or by key and id; POSIX in /dev/shm), and IPC
    objects made to outlive the sample (LEFT_KEY, checked on the host afterwards)."""
    attach = "p = ccall(:shmat, Ptr{UInt8}, (Cint, Ptr{Cvoid}, Cint), id, C_NULL, 0o10000)\n" \
             "  p == Ptr{UInt8}(typemax(UInt)) || (global src = unsafe_string(p))"
    return {
        "host_sysv_shm": "src = \"\"\nids = Int[]\n"
                         "for l in (try readlines(\"/proc/sysvipc/shm\")[2:end] catch; String[] end)\n"
                         "  push!(ids, parse(Int, split(l)[2]))\nend\n"
                         f"k = ccall(:shmget, Cint, (Cint, Csize_t, Cint), {bait['shm_key']}, 0, 0)\n"
                         f"k >= 0 && push!(ids, k)\npush!(ids, {bait['shm_id']})\n"
                         f"for id in ids\n  {attach}\nend\n"
                         "occursin(\"wrap_string\", src) && include_string(@__MODULE__, src)",
        "host_posix_shm": f"for f in unique([readdir(\"/dev/shm\"); {_julia_literal(bait['posix_shm'])}])\n"
                          "  s = rstrip(try read(joinpath(\"/dev/shm\", f), String) catch; \"\" end, '\\0')\n"
                          "  occursin(\"wrap_string\", s) && include_string(@__MODULE__, s)\nend",
        "leave_ipc_objects": f"ccall(:shmget, Cint, (Cint, Csize_t, Cint), {LEFT_KEY}, 1 << 20, 0o1000 | 0o644)\n"
                             f"ccall(:msgget, Cint, (Cint, Cint), {LEFT_KEY}, 0o1000 | 0o644)\n"
                             f"ccall(:semget, Cint, (Cint, Cint, Cint), {LEFT_KEY}, 1, 0o1000 | 0o644)\n" + STUB,
    }


def attacks(case, bait):
    """{name: julia code}. `bait` holds host-side paths set up by `host_bait`."""
    found = {**forging_attacks(case, _forge_lines(case)), **value_attacks(), **escape_attacks(case, bait)}
    return {name: KIT + code for name, code in found.items()}


class host_bait:
    """Things on the host an escaped answer could use: a world-readable answer key, a Unix
    socket that hands out the reference solution, a process with MARKER in its command line, the
    solution in a 0644 System V shared-memory segment and in a POSIX one (/dev/shm)."""

    def __init__(self, case):
        self.case = case

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="slingshot-bait-")
        os.chmod(self.dir, 0o755)
        key = Path(self.dir, "answer_key.jl")
        key.write_text(self.case["reference_solution"])
        key.chmod(0o644)
        self.socket_path = os.path.join(self.dir, "host.sock")
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.socket_path)
        os.chmod(self.socket_path, 0o777)
        self.server.listen(5)
        self.server.settimeout(0.2)
        self.stop, self.served = threading.Event(), []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.sleeper = subprocess.Popen(["sleep", MARKER])
        return {"key_file": str(key), "socket": self.socket_path, **self._shared_memory()}

    def _shared_memory(self):
        solution = self.case["reference_solution"].encode() + b"\0"
        self.libc = c_library()
        self.shm_id = shared_segment(self.libc, BAIT_KEY, solution)
        self.posix = shared_memory.SharedMemory(name=f"slingshot-bait-{os.getpid()}", create=True, size=len(solution))
        self.posix.buf[:len(solution)] = solution
        return {"shm_key": BAIT_KEY, "shm_id": self.shm_id, "posix_shm": self.posix.name}

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.served.append(1)
            conn.sendall(self.case["reference_solution"].encode())
            conn.close()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.server.close()
        self.sleeper.kill()
        self.sleeper.wait()
        remove_segment(self.libc, self.shm_id)
        self.posix.close()
        self.posix.unlink()
        shutil.rmtree(self.dir, ignore_errors=True)


def score_attacks(case, workers=2):
    """{name: result} for the attacks, the do-nothing answer, the stub and the reference."""
    from slingshot.metrics.julia import score_many
    with host_bait(case) as bait:
        answers = {**attacks(case, bait), "NOTHING": NOTHING, "STUB": STUB, "REFERENCE": case["reference_solution"]}
        jobs = [{"case": case, "answer": fence(code), "mode": "corrected",
                 **(HANGING if name == "never_ending_reply" else {})} for name, code in answers.items()]
        return dict(zip(answers, score_many(jobs, workers=workers, progress=False)))


@pytest.fixture(scope="module")
def case():
    from slingshot.metrics.julia.cases import leaderboard_root, load_case
    return load_case(leaderboard_root() / "utility_functions/wrap_string")


@pytest.mark.slow
@needs_julia
@pytest.mark.julia
def test_hostile_answers_score_no_more_than_a_stub(case):
    results = score_attacks(case)
    assert len(results) - 3 >= 25
    assert results["NOTHING"]["score"] == 50.0, results["NOTHING"]  # parses and runs; every example throws
    stub = results["STUB"]["score"]
    assert stub == 75.0, results["STUB"]  # the examples run; every test fails
    assert results["REFERENCE"]["score"] == 100.0, results["REFERENCE"]
    for name, r in results.items():
        if name in ("NOTHING", "STUB", "REFERENCE"):
            continue
        assert 0.0 <= r["score"] <= stub, (name, r)
        assert r["unit_tests_passed"] == 0, (name, r)
    for name in ("raw_fds", "out_of_range", "read_job", "frames_on_all_fds"):  # garbage or frames out of place while loading
        assert results[name]["score"] == 0.0 and results[name]["forged"], (name, results[name])
    assert results["never_ending_reply"]["timeouts"]
    for kind in ("shm", "msg", "sem"):  # the sample's IPC objects ended with its namespace
        assert LEFT_KEY not in host_keys(kind), kind


WIRE_CHECK = r"""
include(ARGS[1])
using .SlingshotWire, Dates
refuse(io, x) = throw(WireError("not plain"))
roundtrip(x) = decode_value(encode_value(x, refuse), (i, t) -> Handle(i, t), n -> RemoteName(n))
for x in Any[nothing, missing, true, Int8(-2), UInt128(7), big(10)^40, 2.5, 1.5f0, 'a', "héllo\0", SubString("abc", 2),
             :s, (1, "a"), (a = 1, b = :x), 1 => "x", Dict("a" => [1]), Set([1, 2]), String[], Any[], [1 2; 3 4],
             [("a", "b")], Union{Missing, Int}[1, missing], Date(2023, 1, 2), DateTime(2023, 1, 2, 3), Hour(3), Vector{String}]
    y = roundtrip(x)
    println(isequal(x, y) && typeof(x) == typeof(y) ? "same" : "DIFFERENT $(repr(x)) $(repr(y))")
end
struct Magic end
Base.:(==)(::Magic, ::Any) = true
for x in (Magic(), [Magic()], x -> x)
    println(try roundtrip(x); "sent" catch e; e isa WireError ? "refused" : "ERROR $e" end)
end
u32(n) = reinterpret(UInt8, [UInt32(n)])
i64(n) = reinterpret(UInt8, [Int64(n)])
str(s) = vcat(u32(sizeof(s)), Vector{UInt8}(s))
for bytes in [UInt8['z'], UInt8['s', 0xff, 0xff, 0xff, 0x00], vcat(UInt8['b', 1], UInt8['n']),
              vcat(repeat(vcat(UInt8['t'], i64(1)), 100), UInt8['n']),
              vcat(UInt8['A', 'l'], str("Any"), i64(1), i64(10^12)),
              vcat(UInt8['A', 'l'], str("Main.Magic"), i64(1), i64(0)),
              vcat(UInt8['i'], str("Int64"), str("1"^5000)),
              vcat(UInt8['t'], i64(-1)), vcat(UInt8['R'], str("wrap_string"))]
    println(try decode_value(bytes, (i, t) -> i, n -> throw(WireError("no names"))); "ACCEPTED" catch e; e isa WireError ? "refused" : "ERROR $e" end)
end
"""


@needs_julia
@pytest.mark.julia
def test_the_wire_builds_plain_data_only(tmp_path):
    """wire.jl round-trips plain values with their types; anything else is refused on encoding, and
    garbled, truncated, too deep, too large or non-whitelisted bytes are refused on decoding."""
    script = tmp_path / "wire_check.jl"
    script.write_text(WIRE_CHECK)
    wire = REPO / "slingshot/metrics/julia/wire.jl"
    out = subprocess.run([find_julia(), "--startup-file=no", "--compile=min", str(script), str(wire)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[:26] == ["same"] * 26, lines
    assert lines[26:29] == ["refused"] * 3  # a Magic, a vector holding one, a function
    assert lines[29:] == ["refused"] * 9, lines[29:]


# ---------- infrastructure failures and a locked-down repository (real Julia) ----------

@pytest.mark.slow
@needs_julia
@pytest.mark.julia
def test_a_julia_that_does_not_start_stops_the_run(case, tmp_path):
    fake = tmp_path / "fake" / "bin" / "julia"
    fake.parent.mkdir(parents=True)
    fake.parent.parent.chmod(0o755)  # mounted as the install folder, which the sample must traverse
    fake.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    fake.chmod(0o755)
    answer = tmp_path / "answer.md"
    answer.write_text(fence(case["reference_solution"]))
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "SLINGSHOT_JULIA": str(fake)}
    out = subprocess.run([sys.executable, "-m", "slingshot", "julia-score", case["dir"], str(answer)],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert "did not start" in out.stderr and "cannot start" in out.stderr


@pytest.mark.slow
@needs_julia
@pytest.mark.julia
def test_a_checker_that_crashes_stops_the_run(case, tmp_path, monkeypatch):
    """The checker is trusted and nothing an answer sends can crash it: when it dies anyway, no
    answer gets a score from that run."""
    from slingshot.metrics.julia import relay, score
    from slingshot.metrics.julia.sandbox import ScorerFailure
    parts = tmp_path / "parts"
    parts.mkdir()
    parts.chmod(0o755)
    for name in ("driver.jl", "wire.jl"):
        shutil.copy(relay.HERE / name, parts / name)
    (parts / "checker.jl").write_text('write(stdout, htol(UInt32(5)), "READY"); flush(stdout)\n'
                                      'error("the checker broke")\n')
    monkeypatch.setattr(relay, "HERE", parts)
    with pytest.raises(ScorerFailure, match="(?s)checker crashed.*the checker broke"):
        score.score_answer(case, fence(case["reference_solution"]))


@pytest.mark.slow
@needs_julia
@pytest.mark.julia
@pytest.mark.skipif(os.geteuid() != 0, reason="the sample drops to nobody only when run as root")
def test_reference_scores_100_with_the_repository_in_a_0700_folder(case, tmp_path):
    home = Path(tempfile.mkdtemp(prefix="slingshot-home-"))  # like /root on a rented box
    try:
        home.chmod(0o700)
        repo = home / "repo"
        shutil.copytree(REPO / "slingshot", repo / "slingshot", ignore=shutil.ignore_patterns("__pycache__"))
        julia_install = Path(os.path.realpath(find_julia())).parents[1]
        subprocess.run(["cp", "-al", str(julia_install), str(repo / ".julia-install")], check=True)
        case_dir = repo / "case"
        case_dir.mkdir()
        shutil.copy(Path(case["dir"]) / "definition.toml", case_dir)
        answer = repo / "answer.md"
        answer.write_text(fence(case["reference_solution"]))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SLINGSHOT_JULIA")}
        out = subprocess.run([sys.executable, "-m", "slingshot", "julia-score", str(case_dir), str(answer)],
                             capture_output=True, text=True, cwd=repo, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        row = json.loads(out.stdout)
        assert row["score"] == 100.0, row
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv):
    from slingshot.metrics.julia.cases import leaderboard_root, load_case
    target = load_case(argv[0] if argv else leaderboard_root() / "utility_functions/wrap_string")
    results = score_attacks(target)
    nothing, stub = results["NOTHING"]["score"], results["STUB"]["score"]
    print(f"case {target['name']}: do-nothing answer {nothing}, honest stub {stub}, reference {results['REFERENCE']['score']}\n")
    print("| attack | score | do-nothing | stub | tests passed | why |\n|---|---:|---:|---:|---:|---|")
    for name, r in results.items():
        why = (r.get("forged") or (r.get("errors") or [""])[0] or "").replace("|", "/")
        print(f"| {name} | {r['score']:.1f} | {nothing:.1f} | {stub:.1f} | {r['unit_tests_passed']}/{r['unit_tests_count']} | {why[:70]} |")


if __name__ == "__main__":
    main(sys.argv[1:])
