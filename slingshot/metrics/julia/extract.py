"""Code extraction from a markdown answer, following PromptingTools' rules (text only; the checks
that need Julia's parser run in driver.jl).

Positions are computed on UTF-8 bytes with 1-based indices, as the Julia original does, so that
odd fences (nested, unterminated, `julia ` on the fence line) split exactly the same way."""
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


def _positions(sub, data):
    """1-based start positions of all (overlapping) occurrences of `sub` in `data`."""
    found, i = [], data.find(sub)
    while i >= 0:
        found.append(i + 1)
        i = data.find(sub, i + 1)
    return found


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


def extract_code_blocks(markdown):
    """Contents of ```julia fences; an opening fence takes the first free closing fence after it."""
    data = (markdown or "").encode("utf-8")
    starts = sorted(_unique(_positions(JULIA_FENCE, data) + _positions(JULIA_FENCE_SPACE, data)))
    # closing fences followed by a newline are tried before those at the very end of a line
    ends = _unique(_positions(END_FENCE_NL, data) + _positions(END_FENCE, data))
    used = [False] * len(ends)
    pairs = []
    for start in reversed(starts):
        for i, end in enumerate(ends):
            if end > start and not used[i]:
                pairs.append((start, end))
                used[i] = True
                break
    # drop blocks fully inside another one
    pairs = [inner for inner in pairs
             if not any(outer[0] < inner[0] and inner[1] < outer[1] for outer in pairs)]
    blocks = [remove_julia_prompt(julia_strip(_slice(data, start + len(JULIA_FENCE), end - 1)))
              for start, end in pairs]
    return blocks[::-1]


def extract_code_blocks_fallback(markdown, delim=BARE_FENCE):
    """Text between consecutive bare ``` fences (callers keep only the parts that parse)."""
    data = (markdown or "").encode("utf-8")
    delim_b = delim.encode("utf-8")
    positions = _positions(delim_b, data)
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
