"""What one sample has earned so far, across restarts of its processes, and the score it ends with.

Loading is reported by the answer's process in frames (READY, P, E, R, L, DONE) that must come in
the order driver.jl writes them: one out of place marks the answer forged (score 0). Examples and
unit tests are reported only by the checker (X frames), each for the next step only."""
from slingshot.metrics.julia.sandbox import ScorerFailure


class ForgedLine(ValueError):
    pass


def _bit(text):
    if text not in ("0", "1"):
        raise ForgedLine(f"{text[:10]!r} is not 0 or 1")
    return text == "1"


def points(parsed, executed, tests, n_tests, examples, n_examples):
    """25 parsed + 25 executed + 25 x tests passed + 25 x examples run, over the parts that exist."""
    parts = [float(parsed), float(executed)]
    parts += [tests / n_tests] if n_tests else []
    parts += [examples / n_examples] if n_examples else []
    return 100.0 * sum(parts) / len(parts)


class SampleRun:
    """A sample's steps: 'main' and 'fallback' (loading the answer's code), then ('example', i)
    and ('test', i); which ran, which passed, and where fresh processes start after a failure."""

    def __init__(self, n_examples, n_tests):
        self.n_examples, self.n_tests = n_examples, n_tests
        self.provisional = {}  # attempt -> parsed, known before it runs
        self.attempts = {}     # attempt -> (parsed, executed)
        self.examples, self.tests = {}, {}
        self.restored = None
        self.done = False
        self.errors = []
        self.forged = None
        self.ever_ready = self.checker_ever_ready = False

    def begin(self, start):
        """A new pair of processes, starting at `start`."""
        self.start = start
        self.ready = self.loaded = self.process_restored = False

    def note(self, text):
        if len(self.errors) < 20:
            self.errors.append(text[:300])

    def step(self):
        """First step without a result: 'main', 'fallback', ('example', i), ('test', i) or None."""
        if "main" not in self.attempts and self.restored is None:
            return "main"
        main_ok = self.attempts.get("main", (False, False))[1]
        if not main_ok and "fallback" not in self.attempts and self.restored is None:
            return "fallback"
        if not main_ok and not self.attempts.get("fallback", (False, False))[1] and self.restored is None:
            return None
        if self.restored is False:
            return None
        for i in range(1, self.n_examples + 1):
            if i not in self.examples:
                return ("example", i)
        for i in range(1, self.n_tests + 1):
            if i not in self.tests:
                return ("test", i)
        return None

    def load_frame(self, frame):
        """One frame of the answer's process while it loads; returns the names line once loaded,
        "" when nothing executed, None to read on. A frame out of place marks the answer forged."""
        text = frame.decode("utf-8", errors="replace")
        try:
            return self._load_frame(text)
        except (IndexError, ValueError) as e:
            self.forged = f"forged or garbled driver frame ({e}): {text[:80]!r}"
            return ""

    def _load_frame(self, text):
        kind, _, rest = text.partition(" ")
        args = rest.split(" ")
        if kind == "READY":
            if self.ready:
                raise ForgedLine("second READY")
            self.ready = self.ever_ready = True
            return None
        if not self.ready:
            raise ForgedLine("before READY")
        if kind == "M":
            self.note(rest)
            return None
        if kind in ("P", "E", "R"):
            self._attempt_frame(kind, args)
            return None
        if kind == "L":
            step = self.step()
            if step is None or step in ("main", "fallback") or (self.restoring() and not self.process_restored):
                raise ForgedLine(f"L when {step} is next")
            self.loaded = True
            return rest
        if kind == "DONE":
            if self.step() is not None:
                raise ForgedLine(f"DONE before {self.step()}")
            self.done = True
            return ""
        raise ForgedLine(f"unknown kind {kind[:10]!r}")

    def restoring(self):
        return self.start in ("examples", "tests")

    def _attempt_frame(self, kind, args):
        """P (parsed, before it runs), E (parsed, executed) or R (restored after a restart)."""
        step, restoring = self.step(), self.restoring()
        if kind == "P":
            expected = "restore" if restoring else step
            if args[0] != expected or args[0] in self.provisional and not restoring or len(args) != 2:
                raise ForgedLine(f"P for {args[0]} when {expected} runs")
            self.provisional[args[0]] = _bit(args[1])
        elif kind == "E":
            if restoring or args[0] not in ("main", "fallback") or args[0] != step or len(args) != 3:
                raise ForgedLine(f"E for {args[0]} when {step} runs")
            self.attempts[args[0]] = (_bit(args[1]), _bit(args[2]))
        else:
            if not restoring or self.process_restored or len(args) != 1:
                raise ForgedLine("R out of place")
            self.restored, self.process_restored = _bit(args[0]), True

    def verdict(self, text):
        """One X line of the checker (trusted); it must be the next step's."""
        kind, index, bit = text.split(" ")[1:]
        if self.step() != (kind, int(index)):
            raise ScorerFailure(f"the checker reported {kind} {index} when {self.step()} was next")
        (self.examples if kind == "example" else self.tests)[int(index)] = bit == "1"

    def restart_point(self, step):
        """Where fresh processes start after `step` failed, or None when nothing is left to run."""
        if step is None:
            return None
        if step in ("main", "fallback"):
            self.attempts.setdefault(step, (self.provisional.get(step, False), False))
            if step == "fallback" or self.attempts.get("main", (0, 0))[1]:
                return None
            return {"start": "fallback", "start_index": 1, "restore": "main"}
        kind, index = step
        (self.examples if kind == "example" else self.tests)[index] = False
        nxt = self.step()
        if nxt is None:
            return None
        restore = "main" if self.attempts.get("main", (0, 0))[1] else "fallback"
        return {"start": "examples" if nxt[0] == "example" else "tests", "start_index": nxt[1], "restore": restore}

    def final(self):
        """The sample's result fields: parsed, executed, counts, score (0..100), errors."""
        if self.forged:
            return {"skipped": False, "parsed": False, "executed": False, "unit_tests_passed": 0,
                    "examples_executed": 0, "score": 0.0, "forged": self.forged,
                    "errors": [f"forged result: {self.forged}"]}
        final = self.attempts.get("fallback") or self.attempts.get("main") or (False, False)
        if self.attempts.get("main", (False, False))[1]:
            final = self.attempts["main"]
        parsed, executed = final
        examples_ok = min(sum(self.examples.values()), self.n_examples) if executed else 0
        tests_ok = min(sum(self.tests.values()), self.n_tests) if executed else 0
        score = points(parsed, executed, tests_ok, self.n_tests, examples_ok, self.n_examples)
        return {"skipped": False, "parsed": parsed, "executed": executed, "unit_tests_passed": tests_ok,
                "examples_executed": examples_ok, "score": min(max(score, 0.0), 100.0), "errors": self.errors[:5]}
