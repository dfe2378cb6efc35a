"""Where users run an export: an Ollama Modelfile beside each GGUF, and the commands that serve it.

Ollama reads a chat template in its own Go-template form, not the model's Jinja. Slingshot knows a few
turn layouts (ChatML, Llama 3), each written once as a Go template and once in Python. An export gets
the layout whose Python form renders every test prompt exactly as the model's own chat template does,
so the Modelfile's TEMPLATE is checked on the task's prompts, not guessed. Ollama does not run here:
what is checked is that the Go template's layout reproduces the trained prompt; what llama.cpp's
server builds from the GGUF's embedded template is checked by running its own formatter
(`runtime_prompt`). Both checks compare bytes, then token ids.
"""
import hashlib
import json
import re
import shlex
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from slingshot import layout
from slingshot.errors import DataError
from slingshot.io import has_control_characters

SENTINEL = "\u2063slingshot-probe\u2063"  # text no template produces by itself


@dataclass(frozen=True)
class TurnLayout:
    """Each message is head + role + between + content + tail; the prompt ends with `generation`."""
    name: str
    head: str
    between: str
    tail: str
    generation: str
    starts_with_bos: bool  # the model's template writes the BOS token first (a runtime adds it instead)

    def render(self, messages, default_system=None, bos=""):
        if default_system is not None and (not messages or messages[0]["role"] != "system"):
            messages = [{"role": "system", "content": default_system}, *messages]
        turns = "".join(f"{self.head}{m['role']}{self.between}{m['content']}{self.tail}" for m in messages)
        return bos + turns + self.generation

    def go_template(self):
        """Ollama's TEMPLATE: the same layout over .Messages (Ollama puts SYSTEM first when a request
        has no system message, and adds BOS itself when the GGUF asks for it)."""
        pieces = (self.head, self.between, self.tail, self.generation)
        assert not any("{{" in p or '"""' in p for p in pieces), self.name
        return ("{{- range .Messages }}" + self.head + "{{ .Role }}" + self.between + "{{ .Content }}"
                + self.tail + "{{ end }}" + self.generation)


LAYOUTS = (
    TurnLayout("chatml", "<|im_start|>", "\n", "<|im_end|>\n", "<|im_start|>assistant\n", False),
    TurnLayout("llama3", "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>",
               "<|start_header_id|>assistant<|end_header_id|>\n\n", True),
)

PROBES = (  # conversations beyond the test prompts: a bare question, and a multi-turn chat
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "One?"},
     {"role": "assistant", "content": "1"}, {"role": "user", "content": "Two?"}],
)


def hf_prompt(tokenizer, messages):
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def default_system_of(tokenizer, turn_layout, bos):
    """The system message the model's template adds when a conversation has none (None: it adds none)."""
    question = [{"role": "user", "content": "Hi"}]
    bare = hf_prompt(tokenizer, question)
    if bare == turn_layout.render(question, bos=bos):
        return None
    before, after = turn_layout.render([{"role": "system", "content": SENTINEL}, *question], bos=bos).split(SENTINEL)
    if bare.startswith(before) and bare.endswith(after) and len(bare) >= len(before) + len(after):
        return bare[len(before):len(bare) - len(after)]
    return None


def layout_bos(tokenizer, turn_layout):
    """The BOS text the model's template writes first under this layout ("" when it writes none)."""
    return (tokenizer.bos_token or "") if turn_layout.starts_with_bos else ""


def match_layout(tokenizer, conversations):
    """(layout, default system) whose rendering equals the model's chat template on every conversation
    and probe, or (None, None)."""
    for turn_layout in LAYOUTS:
        bos = layout_bos(tokenizer, turn_layout)
        try:
            system = default_system_of(tokenizer, turn_layout, bos)
            if system is not None:
                modelfile_value(system, "SYSTEM")  # a system Ollama cannot read back rules the layout out
            if all(turn_layout.render(m, system, bos) == hf_prompt(tokenizer, m)
                   for m in [*PROBES, *conversations]):
                return turn_layout, system
        except Exception:  # a template that rejects a probe (e.g. one that forbids system turns)
            continue
    return None, None


PADDED = [{"role": "user", "content": "  Hi \n"}]  # text with surrounding whitespace


def keeps_message_text(tokenizer, turn_layout, system, bos):
    """Whether the model's template writes message text as given (some trim it; Ollama's layout
    does not, so padded text would reach the model differently there)."""
    try:
        return turn_layout.render(PADDED, system, bos) == hf_prompt(tokenizer, PADDED)
    except Exception:
        return False


def runtime_prompt(llama, messages):
    """The prompt llama-cpp-python's server builds for a chat request: the chat format it picks from
    the GGUF (a built-in one its metadata names, else the GGUF's embedded Jinja template), run as
    llama_cpp.Llama does."""
    from llama_cpp import llama_chat_format as formats

    builtin = {"chatml": formats.format_chatml, "mistral-instruct": formats.format_mistral_instruct,
               "llama-3": formats.format_llama3}
    if llama.chat_format in builtin:
        return builtin[llama.chat_format](messages=messages).prompt
    name = llama.chat_format.removeprefix("chat_template.")
    key = "tokenizer.chat_template" if name == "default" else f"tokenizer.chat_template.{name}"
    if key not in llama.metadata:
        raise ValueError(f"the GGUF carries no chat template; llama.cpp falls back to {llama.chat_format!r}")
    eos, bos = llama.token_eos(), llama.token_bos()
    formatter = formats.Jinja2ChatFormatter(
        template=llama.metadata[key], eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llama._model.token_get_text(bos) if bos != -1 else "")
    return formatter(messages=messages).prompt


def check_prompts(gguf, tokenizer_dir, conversations):
    """Compare, on every conversation, the model's own chat template (transformers) with what a
    runtime would build from the GGUF: llama.cpp's server (its own formatter over the embedded
    template) and Ollama (the matched layout, BOS as the GGUF asks). Returns a summary; the Ollama
    template is None when no known layout reproduces the model's prompts."""
    import llama_cpp
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    llama = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    add_bos = llama.metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
    bos_text = llama._model.token_get_text(llama.token_bos()) if add_bos else ""
    turn_layout, system = match_layout(tokenizer, conversations)
    if turn_layout and turn_layout.starts_with_bos != add_bos:
        turn_layout = system = None  # the runtime's own BOS would be missing or doubled
    summary = {"n": len(conversations), "llama_cpp_chat_format": llama.chat_format,
               "keeps_message_text": bool(turn_layout) and keeps_message_text(tokenizer, turn_layout, system,
                                                                               layout_bos(tokenizer, turn_layout)),
               "llama_cpp_prompts_identical": 0, "llama_cpp_tokens_identical": 0,
               "ollama_layout": turn_layout.name if turn_layout else None, "ollama_prompts_identical": 0,
               "default_system": system, "first_difference": None}
    for messages in conversations:
        expected = hf_prompt(tokenizer, messages)
        served = runtime_prompt(llama, messages)
        if served == expected:
            summary["llama_cpp_prompts_identical"] += 1
        elif summary["first_difference"] is None:
            summary["first_difference"] = {"expected": expected[-300:], "llama_cpp": served[-300:]}
        ids = tokenizer(expected, add_special_tokens=False)["input_ids"]
        if llama.tokenize(served.encode("utf-8"), add_bos=False, special=True) == ids:
            summary["llama_cpp_tokens_identical"] += 1
        if turn_layout and bos_text + turn_layout.render(messages, system) == expected:
            summary["ollama_prompts_identical"] += 1
    summary["ollama_template"] = turn_layout.go_template() if turn_layout else None
    return summary


def context_length(tokenizer_dir, conversations, max_new_tokens):
    """A context that holds the longest test prompt and its answer, in steps of 1,024 tokens, and no
    less than the 2,048 that llama.cpp's and Ollama's servers are used to."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    longest = max(len(tokenizer(hf_prompt(tokenizer, m), add_special_tokens=False)["input_ids"])
                  for m in conversations)
    config = Path(tokenizer_dir) / "config.json"
    trained = json.loads(config.read_text()).get("max_position_embeddings") if config.is_file() else None
    wanted = max(2048, -(-(longest + max_new_tokens) // 1024) * 1024)
    if trained and wanted > trained:
        print(f"the longest test prompt and its answer ({longest + max_new_tokens} tokens) exceed the model's "
              f"{trained}-token context: the Modelfile and commands use {trained}")
        return trained
    return wanted


def ollama_name(recipe_name, quant):
    """A name Ollama accepts (lowercase letters, digits, '.', '_' and '-', at most 80 before ':' and the tag),
    one per recipe: where making it lowercase, plain and short changed the recipe's name ('Squad-Lora', 'squad
    lora', non-ASCII, long), or the plain name ends like such a hash, a hash of the exact name keeps two recipes
    from sharing one model (creating one would replace the other)."""
    if not recipe_name or has_control_characters(recipe_name):
        raise ValueError(f"the recipe name {recipe_name!r} is empty or holds control characters (a line break "
                         f"in the file name?); rename the recipe file")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,16}", quant):
        raise ValueError(f"{quant!r} is not a GGUF type name")
    plain = re.sub(r"[^a-z0-9._-]+", "-", recipe_name.lower()).strip("-._")
    if plain != recipe_name or len(plain) > 80 or re.search(r"-[0-9a-f]{8}$", plain):
        plain = f"{plain[:71].rstrip('-._') or 'recipe'}-{hashlib.sha256(recipe_name.encode()).hexdigest()[:8]}"
    return f"{plain}:{quant.lower()}"


# Ollama's parser ends a quoted value at the first line break after which the value so far, trimmed, ends with
# its closing quotes, and drops every character Go's unicode.IsPrint rejects (control, format, private-use
# characters, spaces other than ' '), keeping line breaks and tabs inside quotes.
ENDS_EARLY = re.compile(r'"""[ \t]*[\r\n]')


def modelfile_value(text, what):
    """`text` as a Modelfile value Ollama reads back unchanged: a triple-quoted block; ValueError (naming
    `what` and the reason) for text it cannot hold."""
    dropped = sorted({c for c in text if c not in "\n\t " and (unicodedata.category(c)[0] not in "LMNPS")})
    if dropped:
        raise ValueError(f"{what}: {text[:60]!r} holds characters Ollama's Modelfile parser drops "
                         f"({', '.join(repr(c) for c in dropped[:5])})")
    if ENDS_EARLY.search(text):
        raise ValueError(f'{what}: {text[:60]!r} holds """ before a line break, which ends a Modelfile value early')
    return f'"""{text}"""'


def modelfile_text(recipe_name, quant, files, prompts, stop_tokens, num_ctx):
    """An Ollama Modelfile for one export: FROM the GGUF (ADAPTER for an adapter-only GGUF, over its
    base), the checked TEMPLATE, SYSTEM when the model's template adds one, stop at end of turn,
    greedy decoding as slingshot scores, and a context that fits the task's prompts."""
    name = ollama_name(recipe_name, quant)  # also what the comments say: no line break gets in
    lines = [f"# {name}, written by `make export`. Run it with:",
             f"#   ollama create {name} -f <this file>", f"#   ollama run {name}"]
    lines += [f"FROM ./{files['base']}", f"ADAPTER ./{files['adapter']}"] if "adapter" in files else [f"FROM ./{files['model']}"]
    if prompts["ollama_template"]:
        lines.append(f"# {prompts['ollama_layout']} layout: the model's own prompt on all "
                     f"{prompts['ollama_prompts_identical']} of {prompts['n']} test questions")
        if not prompts.get("keeps_message_text", True):
            lines.append("# The model's template trims message text and this one does not: send messages "
                         "without surrounding whitespace")
        lines.append(f'TEMPLATE {modelfile_value(prompts["ollama_template"], "TEMPLATE")}')
        if prompts["default_system"] is not None:
            lines.append(f'SYSTEM {modelfile_value(prompts["default_system"], "SYSTEM")}')
    else:
        lines.append("# No known layout reproduces this model's chat template: Ollama picks one from the GGUF's "
                     "metadata; check its prompts before trusting scores")
    lines += [f"PARAMETER stop {modelfile_value(token, 'PARAMETER stop')}" for token in stop_tokens]
    lines += ["PARAMETER temperature 0", f"PARAMETER num_ctx {num_ctx}"]
    return "\n".join(lines) + "\n"


def run_commands(recipe_name, quant, entry, num_ctx):
    """The lines that serve one export, quoted for a shell: Ollama, llama.cpp's own llama-server, and
    llama-cpp-python's server (the one slingshot scores exports with)."""
    q = shlex.quote
    adapter_only = "base_path" in entry
    model = q(entry["base_path"] if adapter_only else entry["path"])
    lora = f" --lora {q(entry['path'])}" if adapter_only else ""
    lora_py = f" --lora_path {q(entry['path'])}" if adapter_only else ""
    name = ollama_name(recipe_name, quant)
    return [f"ollama create {name} -f {q(entry['modelfile'])}", f"ollama run {name}",
            f"llama-server -m {model}{lora} --jinja -c {num_ctx} --temp 0",
            f"python -m llama_cpp.server --model {model}{lora_py} --n_ctx {num_ctx}"]


def read_conversations(split_path, limit=None):
    """The test split's chat messages without the gold answer (as every row is prompted); a row
    without them is a DataError naming the file and line."""
    from slingshot.io import read_jsonl
    from slingshot.tasks import prompt_of

    if not Path(split_path).is_file():
        raise DataError(f"{layout.display_path(split_path)} not found: run `make prepare` for this recipe first")
    rows = []
    for n, row in enumerate(read_jsonl(split_path), 1):
        messages = row.get("messages") if isinstance(row, dict) else None
        valid = isinstance(messages, list) and all(isinstance(m, dict) and isinstance(m.get("role"), str)
                                                   and isinstance(m.get("content"), str) for m in messages)
        prompt = prompt_of(messages) if valid else []
        if not prompt:
            raise DataError(f"{layout.display_path(split_path)}: row {n}: expected chat `messages` (role and "
                            f"content strings) with at least one message before the answer")
        rows.append(prompt)
        if limit and len(rows) >= limit:
            break
    if not rows:
        raise DataError(f"{layout.display_path(split_path)} holds no test rows")
    return rows
