"""Code extraction from a markdown answer: PromptingTools' fence rules, kept exactly, in time linear
in the answer's size, with a cap on the blocks considered."""
import random
import time

from slingshot.metrics.julia import extract
from slingshot.metrics.julia.extract import MAX_BLOCKS


def fence(code, lang="julia"):
    return f"Here you go:\n\n```{lang}\n{code}\n```\n\nDone."


def test_julia_blocks_in_order():
    md = "a\n```julia\nx = 1\n```\ntext\n```julia\ny = 2\n```\n"
    assert extract.extract_code_blocks(md) == ["x = 1", "y = 2"]


def test_code_on_fence_line_and_end_of_text():
    assert extract.extract_code_blocks("```julia f(x) = 1\n```") == ["f(x) = 1"]
    assert extract.extract_code_blocks("```julia\nz = 3\n```") == ["z = 3"]


def test_nested_fences():
    # a nested ```julia block pairs with the inner closing fence and is dropped as nested
    md = '```julia\ns = """\n```julia\nx\n```\n"""\n```\n'
    assert extract.extract_code_blocks(md) == ['s = """\n```julia\nx\n```\n"""']
    # any other inner fence closes the julia block early, as in the harness
    md = '```julia\ns = """\n```python\nx\n```\n"""\n```\n'
    assert extract.extract_code_blocks(md) == ['s = """\n```python\nx']


def test_julia_prompt_lines_kept_only():
    md = fence("julia> x = 1\n1\n\njulia> f(y) = y +\n         1")
    assert extract.extract_code_blocks(md) == ["x = 1\nf(y) = y +\n         1"]


def test_bare_fences_are_the_fallback():
    md = "text\n```\nx = 1\n```\nmore\n```\ny = 2\n```\n"
    blocks, used_fallback = extract.answer_blocks(md)
    assert used_fallback and blocks == ["x = 1", "more", "y = 2"]
    assert extract.answer_blocks(fence("z = 1"))[1] is False
    assert extract.answer_blocks("no code at all") == ([], True)


def test_function_name_rules_by_version():
    code = "# helper\nhelper(x) = x\nfunction target(a)\n    a\nend"
    assert extract.extract_function_name(code) == "target"  # explicit form wins
    assert extract.extract_function_name("  short(x) = 2x") == "short"
    assert extract.extract_function_name("  short(x) = 2x", legacy=True) is None  # old: only at start
    assert extract.extract_function_name("x = 1; function Base.show(io)", legacy=True) is None
    assert extract.extract_function_name("function Base.show(io)\nend") == "Base.show"
    assert extract.extract_function_name("x = 1") is None


def reference_blocks(markdown):
    """PromptingTools' pairing as written there (a scan per opening fence): the rule to match."""
    data = markdown.encode("utf-8")
    starts = sorted(set(extract._positions(extract.JULIA_FENCE, data) + extract._positions(extract.JULIA_FENCE_SPACE, data)))
    ends = extract._unique(extract._positions(extract.END_FENCE_NL, data) + extract._positions(extract.END_FENCE, data))
    used, pairs = [False] * len(ends), []
    for start in reversed(starts):
        for i, end in enumerate(ends):
            if end > start and not used[i]:
                pairs.append((start, end))
                used[i] = True
                break
    pairs = [p for p in pairs if not any(o[0] < p[0] and p[1] < o[1] for o in pairs)]
    return [extract.remove_julia_prompt(extract.julia_strip(extract._slice(data, s + len(extract.JULIA_FENCE), e - 1)))
            for s, e in pairs][::-1]


def test_fast_pairing_splits_as_promptingtools_does():
    pieces = ["```julia\n", "```julia ", "\n```\n", "\n```", "```", "\n", "x", "julia> y\n", " ", "```python\n", "é"]
    rng = random.Random(0)
    for _ in range(3000):
        md = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert extract.extract_code_blocks(md) == reference_blocks(md), md


def test_only_the_first_blocks_are_considered():
    many = "".join(f"```julia\nx{i} = {i}\n```\n\n" for i in range(MAX_BLOCKS + 40))
    assert extract.extract_code_blocks(many) == [f"x{i} = {i}" for i in range(MAX_BLOCKS)]
    bare = "".join(f"```\ny{i} = {i}\n```\n" for i in range(MAX_BLOCKS + 40))
    blocks, used_fallback = extract.answer_blocks(bare)
    assert used_fallback and len(blocks) == MAX_BLOCKS and blocks[:3] == ["y0 = 0", "", "y1 = 1"]
    # under the cap nothing changes: the reference pairing gives the same blocks
    few = many[:many.index("x20 =") - len("```julia\n")]
    assert extract.extract_code_blocks(few) == reference_blocks(few) == [f"x{i} = {i}" for i in range(20)]


def test_a_megabyte_of_fences_extracts_within_a_second():
    # each took minutes with a scan per opening fence (time grew with the square of the count)
    units = ["```julia\nx\n```\n", "```julia\n", "\n```\n", "\n```", "```julia ```julia\n\n```",
             "```julia\n\n```julia\n```\n\n```\n"]
    answers = [unit * (1_000_000 // len(unit)) for unit in units]
    answers.append("```julia\n" + "\n```\n" * 200_000)  # one opening fence, then only closing ones
    for md in answers:
        start = time.perf_counter()
        blocks, _ = extract.answer_blocks(md)
        took = time.perf_counter() - start
        assert took < 1.0, (md[:30], took)
        assert len(blocks) <= MAX_BLOCKS
