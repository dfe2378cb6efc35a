"""Modelfiles and run commands (fast layer): which turn layout reproduces which chat template, what a
Modelfile holds, and export's disk check before anything is written."""
import importlib.util
from pathlib import Path

import pytest

from slingshot.errors import DataError
from slingshot.export import ExportError, check_room
from slingshot.recipe import load_recipe
from slingshot.runtimes import LAYOUTS, match_layout, modelfile_text, read_conversations, run_commands
from tests.conftest import DEFAULT_RECIPE, ROOT

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
    assert 'PARAMETER stop "<|im_end|>"' in text and "ollama create squad-x:q4_k_m" in text


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
    made = {"merged": {}, "gguf": {"F32": {}, "Q4_K_M": {}}}  # files already made need no room
    assert check_room(recipe, ["F32", "Q4_K_M"], made, free_bytes=10**8) == 0


def test_read_conversations_names_an_empty_split(tmp_path):
    empty = tmp_path / "test.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="test.jsonl holds no test rows"):
        read_conversations(empty)
