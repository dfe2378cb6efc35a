"""How the leaderboard's harness ran an answer, by mode and by the run's date, and the job file
that carries it to Julia.

- "leaderboard" reproduces the stored scores, harness quirks included: the answer's code is pasted
  into a triple-quoted literal; before SNIPPETS_ESCAPED the examples and unit tests were pasted the
  same way; before NEW_FUNCTION_RULES PromptingTools found the target function with looser rules;
  only `using X` lines for HARNESS_PACKAGES were kept.
- "corrected" runs the same steps without the quoting bugs: code reaches Julia untouched."""
import json
import re

MODES = ("leaderboard", "corrected")
NEW_FUNCTION_RULES = "20240201"  # PromptingTools 0.10 (anchored function-name regexes)
SNIPPETS_ESCAPED = "20240812"  # Julia-LLM-Leaderboard "Fix string inclusion"

# Packages the leaderboard's environment knew (its Project.toml, Julia's standard library and some
# of their common dependencies): the harness kept `using X` lines for these and dropped the others.
HARNESS_PACKAGES = sorted(set("""
ArgTools Artifacts Base64 CRC32c Dates DelimitedFiles Distributed Downloads FileWatching Future
InteractiveUtils LazyArtifacts LibCURL LibGit2 Libdl LinearAlgebra Logging Markdown Mmap
NetworkOptions Pkg Printf Profile REPL Random SHA Serialization SharedArrays Sockets SparseArrays
Statistics SuiteSparse TOML Tar Test UUIDs Unicode
AlgebraOfGraphics CairoMakie DataFrames DataFramesMeta HTTP JSON3 MarkdownTables OpenAI Preferences
ProgressMeter PromptingTools
Chain Compat DataAPI DataStructures Distributions JSON Makie MacroTools Missings OrderedCollections
Parsers PrettyTables Reexport StaticArrays StatsBase StructTypes Tables
""".split()))


def julia_literal(value):
    """Julia source for a Python str / bool / int / list of str."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.encode("utf-8", errors="replace").decode("utf-8")
        return json.dumps(text, ensure_ascii=False).replace("$", "\\$")
    if isinstance(value, (list, tuple)):
        return "String[" + ", ".join(julia_literal(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as Julia")


def job_source(fields):
    """job.jl: `const JOB = (key = value, ...)` for the driver or the checker."""
    body = ",\n    ".join(f"{key} = {julia_literal(val)}" for key, val in fields.items())
    return f"const JOB = (\n    {body},\n)\n"


def _date(timestamp):
    digits = re.sub(r"\D", "", str(timestamp or ""))
    return digits[:8] if len(digits) >= 8 else None


def harness_rules(mode, timestamp=None):
    """How the answer is run: quoting of code and snippets, function-name rules, package policy."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "corrected":
        return {"quote_code": False, "snippet_quoting": "none", "legacy_names": False,
                "known_packages": [], "local_packages": True}
    date = _date(timestamp)
    if timestamp is not None and date is None:
        raise ValueError(f"timestamp {timestamp!r} has no YYYYMMDD date")
    return {"quote_code": True,
            "snippet_quoting": "dollar" if date and date < SNIPPETS_ESCAPED else "full",
            "legacy_names": bool(date and date < NEW_FUNCTION_RULES),
            "known_packages": HARNESS_PACKAGES, "local_packages": False}
