"""Code extraction from a markdown answer, following PromptingTools' rules (text only; the checks
that need Julia's parser run in driver.jl).

Positions are computed on UTF-8 bytes with 1-based indices, as the Julia original does, so that
odd fences (nested, unterminated, `julia ` on the fence line) split exactly the same way.

Time is linear in the answer's size: closing fences are found with a "next free" index instead of
a scan per opening fence, and at most MAX_BLOCKS opening fences (the first ones) are considered
and MAX_BLOCKS bare-fenced blocks taken. An honest answer has a handful; an answer of thousands
of fences gets the blocks of its first MAX_BLOCKS fences."""
import bisect
import re
import unicodedata

JULIA_FENCE = b"```julia\n"
JULIA_FENCE_SPACE = b"```julia "  # small models put code on the fence line
END_FENCE_NL = b"\n```\n"
END_FENCE = b"\n```"
BARE_FENCE = "\n```\n"

# extract_function_name: current rules, and those of PromptingTools before 2024-02-01
NAME_EXPLICIT = re.compile(r"^\s*function\s+([\w\.\_]+)\(", re.M)
NAME_CONCISE = re.compile(r"^\s*([\w\.\_]+)\(.*\)\s*=", re.M)
LEGACY_NAME_EXPLICIT = re.compile(r"function\s+(\w+)\(")
LEGACY_NAME_CONCISE = re.compile(r"^(\w+)\(.*\)\s*=")

JULIA_PROMPT = re.compile(r"(:?^julia> |^> )", re.M)
MAX_BLOCKS = 256  # opening ```julia fences considered, and bare-fenced blocks taken


def _positions(sub, data, limit=None, after=0):
    """1-based start positions of the (overlapping) occurrences of `sub` in `data`, the first `limit`
    of those after position `after`."""
    found, i = [], data.find(sub, after)
    while i >= 0 and (limit is None or len(found) < limit):
        found.append(i + 1)
        i = data.find(sub, i + 1)
    return found


class _FreeAfter:
    """Sorted positions, each taken at most once: the smallest free one after a point, in near
    constant time (a union-find of "next free index")."""

    def __init__(self, positions):
        self.positions = positions
        self.next = list(range(len(positions) + 1))

    def _free(self, i):
        root = i
        while self.next[root] != root:
            root = self.next[root]
        while self.next[i] != root:
            self.next[i], i = root, self.next[i]
        return root

    def take_after(self, point):
        i = self._free(bisect.bisect_right(self.positions, point))
        if i == len(self.positions):
            return None
        self.next[i] = i + 1
        return self.positions[i]


def _slice(data, first, last):
    """data[first:last] with Julia's 1-based inclusive indices, decoded."""
    if last < first:
        return ""
    return data[first - 1:last].decode("utf-8", errors="replace")


def _unique(items):
    return list(dict.fromkeys(items))


def julia_isspace(ch):
    return ch == " " or "\t" <= ch <= "\r" or ch == "\x85" or (ch >= "\xa0" and unicodedata.category(ch) == "Zs")


def julia_strip(text):
    start, end = 0, len(text)
    while start < end and julia_isspace(text[start]):
        start += 1
    while end > start and julia_isspace(text[end - 1]):
        end -= 1
    return text[start:end]


def remove_julia_prompt(text):
    """Keep only `julia> ` / `> ` lines (prompt removed) and their indented continuations."""
    if not JULIA_PROMPT.search(text):
        return text
    kept, in_code = [], False
    for line in text.split("\n"):
        if line.startswith("julia> "):
            in_code = True
            kept.append(line.replace("julia> ", ""))
        elif line.startswith("> "):
            in_code = True
            kept.append(line.replace("> ", ""))
        elif in_code and line.startswith(" "):
            kept.append(line)
        else:
            in_code = False
    return julia_strip("".join(line + "\n" for line in kept))


def _fence_pairs(data):
    """(start, end) of each ```julia block: from the last opening fence to the first, each takes the
    first free closing fence after it, those followed by a newline before those that are not."""
    starts = sorted(set(_positions(JULIA_FENCE, data, MAX_BLOCKS) + _positions(JULIA_FENCE_SPACE, data, MAX_BLOCKS)))
    if not starts:
        return []
    starts = starts[:MAX_BLOCKS]
    with_newline = _positions(END_FENCE_NL, data, after=starts[0])
    taken = set(with_newline)
    preferred = _FreeAfter(with_newline)
    others = _FreeAfter([p for p in _positions(END_FENCE, data, after=starts[0]) if p not in taken])
    pairs = []
    for start in reversed(starts):
        end = preferred.take_after(start) or others.take_after(start)
        if end is not None:
            pairs.append((start, end))
    return sorted(pairs)


def _outermost(pairs):
    """The pairs (sorted by their unique starts) not fully inside an earlier one."""
    kept, widest = [], 0
    for start, end in pairs:
        if widest <= end:
            kept.append((start, end))
        widest = max(widest, end)
    return kept


def extract_code_blocks(markdown):
    """Contents of ```julia fences; an opening fence takes the first free closing fence after it,
    and blocks fully inside another one are dropped."""
    data = (markdown or "").encode("utf-8")
    return [remove_julia_prompt(julia_strip(_slice(data, start + len(JULIA_FENCE), end - 1)))
            for start, end in _outermost(_fence_pairs(data))]


def extract_code_blocks_fallback(markdown, delim=BARE_FENCE):
    """Text between consecutive bare ``` fences (callers keep only the parts that parse)."""
    data = (markdown or "").encode("utf-8")
    delim_b = delim.encode("utf-8")
    positions = _positions(delim_b, data, MAX_BLOCKS + 1)  # enough for MAX_BLOCKS blocks
    open_fence = delim.lstrip().encode("utf-8")
    if not positions and not data.startswith(open_fence):
        return []
    if open_fence != delim_b and data.startswith(open_fence):
        start = len(open_fence) - len(delim_b)
    else:
        start = positions[0]
    close_fence = delim.rstrip().encode("utf-8")
    if close_fence != delim_b and data.endswith(close_fence):
        positions.append(1 + len(data) - len(close_fence))
    blocks = []
    for end in _unique(positions):
        if len(blocks) == MAX_BLOCKS:
            break
        if start < end <= len(data):
            blocks.append(remove_julia_prompt(julia_strip(_slice(data, start + len(delim_b), end - 1))))
            start = end
    return blocks


def answer_blocks(markdown):
    """(blocks, used_fallback): julia-fenced blocks, or bare-fenced ones when there are none."""
    blocks = extract_code_blocks(markdown)
    if blocks:
        return blocks, False
    return extract_code_blocks_fallback(markdown), True


def extract_function_name(code, legacy=False):
    """Name of the first function defined in `code` (explicit `function f(` before `f(x) =`)."""
    explicit, concise = (LEGACY_NAME_EXPLICIT, LEGACY_NAME_CONCISE) if legacy else (NAME_EXPLICIT, NAME_CONCISE)
    m = explicit.search(code) or concise.search(code)
    return m.group(1) if m else None
