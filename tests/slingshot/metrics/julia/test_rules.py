"""The harness's rules by mode and date, and strings written as Julia literals."""
import subprocess

import pytest

from tests.helpers import needs_julia

from slingshot.metrics.julia.rules import harness_rules, job_source, julia_literal
from slingshot.metrics.julia.sandbox import find_julia


def test_harness_rules_follow_timestamp():
    old = harness_rules("leaderboard", "20231215_101010__123")
    mid = harness_rules("leaderboard", "20240410_000000")
    new = harness_rules("leaderboard", "20240814_054919__194")
    assert old["legacy_names"] and old["snippet_quoting"] == "dollar" and old["quote_code"]
    assert not mid["legacy_names"] and mid["snippet_quoting"] == "dollar"
    assert new["snippet_quoting"] == "full" and new["quote_code"]
    fixed = harness_rules("corrected")
    assert not fixed["quote_code"] and fixed["snippet_quoting"] == "none"
    with pytest.raises(ValueError):
        harness_rules("bogus")
    with pytest.raises(ValueError):
        harness_rules("leaderboard", "yesterday")


def test_job_source_is_a_named_tuple_of_literals():
    assert job_source({"name": "a$b", "quote": True, "n": 3, "blocks": ["x"]}) == (
        'const JOB = (\n    name = "a\\$b",\n    quote = true,\n    n = 3,\n    blocks = String["x"],\n)\n')
    with pytest.raises(TypeError):
        julia_literal(1.5)


@needs_julia
@pytest.mark.julia
def test_strings_reach_julia_unchanged(tmp_path):
    tricky = ['a $x "q" \\ \n\t end', 'é ∀ 😀 \x00\x1f', '"""', "$(run(`false`))"]
    script = tmp_path / "echo.jl"
    script.write_text(f'for s in {julia_literal(tricky)}\n    write(stdout, s, "<SEP>")\nend\n')
    out = subprocess.run([find_julia(), "--startup-file=no", str(script)], capture_output=True, timeout=120)
    assert out.stdout.decode("utf-8").split("<SEP>")[:-1] == tricky
