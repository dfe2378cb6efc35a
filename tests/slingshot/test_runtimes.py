"""Modelfiles and run commands (fast layer): which turn layout reproduces which chat template, what a
Modelfile holds, and export's disk check before anything is written."""
import importlib.util
from pathlib import Path

import hashlib
import re

import pytest

from slingshot.errors import DataError
from slingshot.export import ExportError, check_room
from slingshot.recipe import load_recipe
from slingshot.runtimes import LAYOUTS, match_layout, modelfile_text, read_conversations, run_commands
from tests.helpers import DEFAULT_RECIPE, ROOT

AXOLOTL_TEMPLATES = Path(importlib.util.find_spec("axolotl").origin).parent / "utils" / "chat_templates" / "templates"
CONVERSATIONS = [
    [{"role": "system", "content": "Answer with a span."}, {"role": "user", "content": "Passage: A b.\n\nQuestion: c?"}],
    [{"role": "user", "content": "ünïcode — and a \"quote\" {{ braces }}"}],
]


@pytest.fixture
def tokenizer(model_dir):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(model_dir)


@pytest.mark.parametrize("template, expected", [("chatml", "chatml"), ("llama3", "llama3"), ("gemma", None),
                                                ("mistral_v1", None)])
def test_layout_of_axolotl_templates(tokenizer, template, expected):
    """The GPU recipes' templates (Axolotl's chatml and llama3) get their layout; others get none
    rather than a wrong one."""
    tokenizer.chat_template = (AXOLOTL_TEMPLATES / f"{template}.jinja").read_text()
    turn_layout, system = match_layout(tokenizer, CONVERSATIONS)
    assert (turn_layout.name if turn_layout else None) == expected and system is None


def test_layout_and_default_system_of_the_embedded_model(tokenizer):
    turn_layout, system = match_layout(tokenizer, CONVERSATIONS)
    assert turn_layout.name == "chatml"
    assert system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    bare = [{"role": "user", "content": "Hi"}]
    assert turn_layout.render(bare, system) == tokenizer.apply_chat_template(bare, tokenize=False,
                                                                             add_generation_prompt=True)


def test_a_template_that_differs_anywhere_gets_no_layout(tokenizer):
    tokenizer.chat_template = tokenizer.chat_template.replace("'<|im_end|>' + '\n'", "'<|im_end|>' + '\n\n'")
    assert match_layout(tokenizer, CONVERSATIONS) == (None, None)


def test_go_templates_render_each_layout():
    chatml = {t.name: t for t in LAYOUTS}["chatml"].go_template()
    assert chatml == ("{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
                      "<|im_start|>assistant\n")


def test_modelfile_without_a_checked_template_says_so():
    prompts = {"ollama_template": None, "ollama_layout": None, "n": 3, "default_system": None}
    text = modelfile_text("squad-x", "Q4_K_M", {"model": "squad-x-Q4_K_M.gguf"}, prompts, ["<|im_end|>"], 2048)
    assert "TEMPLATE" not in text and "No known layout" in text and "FROM ./squad-x-Q4_K_M.gguf" in text
    assert 'PARAMETER stop """<|im_end|>"""' in text and "ollama create squad-x:q4_k_m" in text


def test_commands_serve_an_adapter_over_its_base():
    entry = {"path": "runs/x/export/x-LORA.gguf", "base_path": "runs/x/export/base-F16.gguf",
             "modelfile": "runs/x/export/x-LORA.Modelfile"}
    commands = run_commands("x", "LORA", entry, 4096)
    assert "llama-server -m runs/x/export/base-F16.gguf --lora runs/x/export/x-LORA.gguf --jinja -c 4096 --temp 0" in commands
    assert "ollama create x:lora -f runs/x/export/x-LORA.Modelfile" in commands


def test_export_refuses_before_writing_when_the_disk_is_too_small(tmp_path):
    """Sizes are plan's for the recipe's base model; nothing is written when they do not fit."""
    recipe = load_recipe(DEFAULT_RECIPE)
    needed = check_room(recipe, ["F32", "Q4_K_M"], {}, free_bytes=10**12)
    assert 0.5 < needed < 2  # a 135M model: merged, F32 and Q4_K_M files
    with pytest.raises(ExportError, match=r"needs ~\d+\.\d GB \(merged .* F32 .* Q4_K_M .*\) .* 0\.1 GB free"):
        check_room(recipe, ["Q4_K_M"], {}, free_bytes=10**8)
    llama = load_recipe(ROOT / "recipes" / "squad" / "llama-3.1-8b" / "lora.yml")
    with pytest.raises(ExportError, match=r"needs ~[6-9]\d\.\d GB"):
        check_room(llama, ["F32", "F16", "Q8_0", "Q4_K_M"], {}, free_bytes=20 * 10**9)
    from slingshot.export import gguf_path
    from tests.helpers import write_recipe
    copy = load_recipe(write_recipe(tmp_path))
    made = {"merged": {}, "gguf": {"F32": {}, "Q4_K_M": {}}}
    assert check_room(copy, ["F32", "Q4_K_M"], made, free_bytes=10**12) > 0.5  # in the manifest, not on disk
    for quant in ("F32", "Q4_K_M"):
        gguf_path(copy, quant).parent.mkdir(parents=True, exist_ok=True)
        gguf_path(copy, quant).write_bytes(b"GGUF")
    assert check_room(copy, ["F32", "Q4_K_M"], made, free_bytes=10**8) == 0  # files already made need no room


def test_read_conversations_names_an_empty_split(tmp_path):
    empty = tmp_path / "test.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="test.jsonl holds no test rows"):
        read_conversations(empty)


def test_names_and_commands_survive_odd_recipe_names_and_paths():
    """Ollama names are lowercase [a-z0-9._-] with one ':'; paths are quoted for the shell; a line
    break in a recipe's name never reaches a Modelfile line of its own."""
    import shlex

    from slingshot.runtimes import ollama_name
    assert ollama_name("squad-smollm2-135m-lora-cpu", "Q4_K_M") == "squad-smollm2-135m-lora-cpu:q4_k_m"
    assert ollama_name("Squad Test:v1", "Q4_K_M").startswith("squad-test-v1-")
    entry = {"path": "runs/x 1/export/X-LORA.gguf", "base_path": "runs/x 1/export/base-F16.gguf",
             "modelfile": "runs/x 1/export/X-LORA.Modelfile"}
    commands = run_commands("X 1", "LORA", entry, 2048)
    assert shlex.split(commands[0]) == ["ollama", "create", ollama_name("X 1", "LORA"), "-f",
                                        "runs/x 1/export/X-LORA.Modelfile"]
    assert shlex.split(commands[2])[:5] == ["llama-server", "-m", "runs/x 1/export/base-F16.gguf", "--lora",
                                            "runs/x 1/export/X-LORA.gguf"]
    prompts = {"ollama_template": None, "ollama_layout": None, "n": 1, "default_system": None}
    with pytest.raises(ValueError, match="control characters"):
        modelfile_text("a\nFROM ./evil.gguf", "F16", {"model": "a.gguf"}, prompts, ["</s>"], 2048)
    text = modelfile_text("a", "F16", {"model": "a.gguf"}, prompts, ['<|e"nd|>'], 2048)
    assert [line for line in text.splitlines() if line.startswith("FROM")] == ["FROM ./a.gguf"]
    assert ("stop", '<|e"nd|>') in ollama_reads(text)


def test_two_recipes_never_share_an_ollama_name():
    from slingshot.runtimes import ollama_name
    names = ["Squad-Lora", "squad-lora", "squad lora", "squad_lora", "ÜÏ", "ÄÖ", "x" * 100, "x" * 101, "y" * 80,
             "café", "cafe\u0301", f"squad-lora-{hashlib.sha256(b'Squad-Lora').hexdigest()[:8]}"]
    made = [ollama_name(n, "F16") for n in names]
    assert len(set(made)) == len(names), made
    assert all(re.fullmatch(r"[a-z0-9._-]{1,80}:f16", m) for m in made), made
    assert ollama_name("y" * 80, "F16") == "y" * 80 + ":f16"  # a plain name within Ollama's 80 stays as it is
    for bad in ["a\nb", "a\rb", "tab\there", "nul\x00", ""]:
        with pytest.raises(ValueError, match="control characters"):
            ollama_name(bad, "F16")
    with pytest.raises(ValueError, match="not a GGUF type"):
        ollama_name("x", "q4\nSYSTEM evil")


def ollama_reads(modelfile):
    """(command or parameter name, value) as Ollama's Modelfile parser reads them, by its rules: a value runs
    to a line break after which it, trimmed, is unquoted (\"\"\"...\"\"\", "...", or a bare word); spaces and line
    breaks inside an unfinished quote are kept; other characters Go's unicode.IsPrint rejects are dropped."""
    import unicodedata
    read, i, lines = [], 0, modelfile
    while i < len(lines):
        end = lines.find("\n", i)
        line = lines[i:] if end < 0 else lines[i:end]
        if not line.strip() or line.lstrip().startswith("#"):
            i = len(lines) if end < 0 else end + 1
            continue
        command, _, rest = line.partition(" ")
        if command.upper() == "PARAMETER":
            command, _, rest = rest.partition(" ")
        start = i + len(line) - len(rest)
        value, j = "", start
        while True:
            k = lines.find("\n", j)
            k = len(lines) if k < 0 else k
            value += "".join(c for c in lines[j:k] if c in " \t" or unicodedata.category(c)[0] in "LMNPS")
            body = value.strip()
            done = (body[:3] != '"""' or (len(body) >= 6 and body.endswith('"""'))) and (
                body[:1] != '"' or body[:3] == '"""' or (len(body) >= 2 and body.endswith('"')))
            if done or k >= len(lines):
                break
            value += "\n"
            j = k + 1
        unquoted = body[3:-3] if body[:3] == '"""' else body[1:-1] if body[:1] == '"' else body
        read.append((command.lower(), unquoted))
        i = k + 1
    return read


@pytest.mark.parametrize("value", ['plain', 'ends with a quote"', '"starts with one', '""two', 'a """ b',
                                   'line\nbreak', 'tab\there', '  padded  ', 'ends """', '"""', "x" * 3000,
                                   'café ✓ 日本', '<|im_end|>', '\n', '"""x"""'])
def test_modelfile_values_are_read_back_as_written(value):
    from slingshot.runtimes import modelfile_value
    text = f"FROM ./a.gguf\nSYSTEM {modelfile_value(value, 'SYSTEM')}\nPARAMETER stop {modelfile_value(value, 'stop')}\n"
    assert ollama_reads(text) == [("from", "./a.gguf"), ("system", value), ("stop", value)]


@pytest.mark.parametrize("value, reason", [('say """\nhi', 'holds """ before a line break'),
                                           ('ends """  \n', 'holds """ before a line break'),
                                           ("nbsp\u00a0", "drops"), ("zero\u200bwidth", "drops"),
                                           ("bell\x07", "drops"), ("cr\r\n", "drops")])
def test_values_ollama_cannot_read_back_are_refused_with_the_reason(value, reason):
    from slingshot.runtimes import modelfile_value
    with pytest.raises(ValueError, match=reason):
        modelfile_value(value, "SYSTEM")


def test_the_reference_reader_sees_what_the_old_quoting_garbled():
    """The reader above is what makes the two tests before it mean something: a value ending in a quote,
    written the old way (single-quoted block when it held a quote), is not read back as written."""
    assert ollama_reads('FROM a\nSYSTEM """say "hi""""\n') == [("from", "a"), ("system", 'say "hi"')]
    assert ollama_reads('FROM a\nSYSTEM "a"\nb"\n')[1] != ("system", 'a"\nb')


@pytest.mark.parametrize("content, message", [
    (b'{"id": "a", "messages": [{"role": "user", "content": "caf\xe9"}]}\n', r"test.jsonl:1: not UTF-8"),
    (b'{"id": "a"}\n', r"test.jsonl: row 1: expected chat `messages`"),
    (b'{"id": "a", "messages": [{"role": "user", "content": "x"}]}\n{"id": "b", "mess', r"test.jsonl:2: not valid JSON"),
    (b'{"id": "a", "messages": [{"role": "assistant", "content": "x"}]}\n', r"row 1: expected chat `messages`"),
    (b'{"id": "a", "messages": [{"role": "user", "content": 7}]}\n', r"row 1: expected chat `messages`"),
])
def test_a_broken_test_split_is_named(tmp_path, content, message):
    split = tmp_path / "test.jsonl"
    split.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_conversations(split)


def test_context_stays_within_the_trained_context(tmp_path, model_dir):
    """One huge test prompt does not ask Ollama or llama.cpp for more context than the model has."""
    import json
    import shutil

    from slingshot.runtimes import context_length
    folder = tmp_path / "model"
    folder.mkdir()
    for f in model_dir.iterdir():
        if f.name.startswith(("tokenizer", "chat_template")):
            shutil.copy(f, folder / f.name)
    config = json.loads((model_dir / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 4096}))
    short = [[{"role": "user", "content": "Hi"}]]
    assert context_length(folder, short, 32) == 2048
    huge = [[{"role": "user", "content": "word " * 20000}]]
    assert context_length(folder, huge, 32) == 4096


def test_a_template_that_trims_text_is_flagged(tokenizer):
    """Axolotl's llama3 template trims message text, which Ollama's layout cannot: the layout still
    matches the test prompts, and the Modelfile says to send trimmed text."""
    from slingshot.runtimes import keeps_message_text
    tokenizer.chat_template = (AXOLOTL_TEMPLATES / "llama3.jinja").read_text()
    turn_layout, system = match_layout(tokenizer, CONVERSATIONS)
    assert turn_layout.name == "llama3"
    assert not keeps_message_text(tokenizer, turn_layout, system, tokenizer.bos_token)
    tokenizer.chat_template = (AXOLOTL_TEMPLATES / "chatml.jinja").read_text()
    turn_layout, system = match_layout(tokenizer, CONVERSATIONS)
    assert keeps_message_text(tokenizer, turn_layout, system, "")


def test_manifests_and_files_are_verified_before_reuse(tmp_path):
    """An unreadable or foreign export.json is made again; an entry counts as made only when its file's
    sha256 matches (a zeroed file of the same size does not), and the adapter's only with its base;
    the disk check counts what is missing on disk, not only in the manifest."""
    from slingshot.export import base_gguf_path, gguf_path, is_made, read_manifest
    from slingshot.io import sha256_file
    from tests.helpers import write_recipe

    recipe = load_recipe(write_recipe(tmp_path))
    manifest_path = tmp_path / "export.json"
    for text in ("{not json", "[]", '{"merged": {}}', '{"merged": {}, "gguf": []}'):
        manifest_path.write_text(text)
        assert read_manifest(manifest_path) == {}
    manifest_path.write_text('{"merged": {}, "gguf": {"F16": {"path": "x"}}}')
    assert read_manifest(manifest_path) == {"merged": {}, "gguf": {}}  # an entry missing its hash is made again

    f16 = gguf_path(recipe, "F16")
    f16.parent.mkdir(parents=True)
    f16.write_bytes(b"GGUF" + bytes(1000))
    entry = {"sha256": sha256_file(f16)}
    assert is_made(recipe, "F16", entry)
    f16.write_bytes(bytes(1004))  # same size, zeroed
    assert not is_made(recipe, "F16", entry)

    adapter, base = gguf_path(recipe, "LORA"), base_gguf_path(recipe)
    adapter.write_bytes(b"adapter")
    lora = {"sha256": sha256_file(adapter), "base_sha256": "0" * 64}
    assert not is_made(recipe, "LORA", lora)  # no base file
    made = {"merged": {}, "gguf": {"LORA": lora}}
    assert check_room(recipe, ["LORA"], made, free_bytes=10**12) > 0.2  # the base F16 must be written again
    base.write_bytes(b"base")
    assert check_room(recipe, ["LORA"], made, free_bytes=10**12) == 0


def test_a_merged_model_is_reused_only_with_the_weights_it_recorded(tmp_path):
    """The merged model's weight files are re-hashed before an export reuses them: a zeroed, missing
    or extra weight file makes the whole export again."""
    from slingshot.export import merged_is_made
    from slingshot.io import sha256_file

    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "config.json").write_text("{}")
    weights = merged / "model.safetensors"
    weights.write_bytes(b"weights" + bytes(range(200)))
    manifest = {"merged": {"weights_sha256": {weights.name: sha256_file(weights)}}}
    assert merged_is_made(manifest, merged)
    assert not merged_is_made({"merged": {}}, merged)  # nothing recorded: nothing to trust
    (merged / "model-2.safetensors").write_bytes(b"more")
    assert not merged_is_made(manifest, merged)
    (merged / "model-2.safetensors").unlink()
    weights.write_bytes(bytes(weights.stat().st_size))  # same size, zeroed
    assert not merged_is_made(manifest, merged)
    weights.unlink()
    assert not merged_is_made(manifest, merged)
