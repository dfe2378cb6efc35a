"""`python -m slingshot export RECIPE`: merge a run's LoRA adapter into its base and export GGUF files.

    runs/<recipe>/export/merged/                    the merged HF model, tokenizer and chat template
    runs/<recipe>/export/<recipe>-F32.gguf, -F16, -Q8_0, -Q4_K_M ...
    runs/<recipe>/export/<recipe>-LORA.gguf         the adapter alone (F16), for llama.cpp's --lora over
    runs/<recipe>/export/base-F16.gguf              the base model (with the run's tokenizer and template)
    runs/<recipe>/export/<recipe>-<TYPE>.Modelfile  Ollama's recipe for each file (slingshot.runtimes)
    runs/<recipe>/export/export.json                hashes, sizes, prompt checks and the commands that serve each file

The merge is peft's own (merge_and_unload). GGUF files come from llama.cpp's own tools: its
HF-to-GGUF converter (convert_hf_to_gguf.py, from the llama.cpp sources that the llama-cpp-python
sdist vendors; `make llamacpp` fetches them) writes F32/F16, and its quantizer
(llama_cpp.llama_model_quantize) writes the quantized types from the F32 file; its LoRA converter
(convert_lora_to_gguf.py) writes the adapter-only file. Export first checks that the disk holds
what it is asked to write. Finished files are kept: running again only makes what is missing or stale.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from slingshot import layout
from slingshot.errors import UserError
from slingshot.io import atomic_write_json, atomic_write_text, sha256_file
from slingshot.plan import DEFAULT_TYPES, export_needs, model_config
from slingshot.recipe import claim_folders
from slingshot.runtimes import (check_prompts, context_length, modelfile_text, ollama_name, read_conversations,
                                run_commands)

CONVERTED_TYPES = ("F32", "F16")             # written by the converter itself
QUANT_TYPES = ("Q8_0", "Q5_K_M", "Q4_K_M")   # written by the quantizer from the F32 file
ADAPTER_TYPE = "LORA"                        # the adapter alone, served over the base's F16 GGUF
ALL_TYPES = CONVERTED_TYPES + QUANT_TYPES + (ADAPTER_TYPE,)
LLAMA_CPP_VERSION = "0.3.36"
LLAMA_CPP_SRC_ENV = "SLINGSHOT_LLAMA_CPP_SRC"
EXPORT_MANIFEST = "export.json"
MERGED_DIR = "merged"


class ExportError(UserError):
    """An export that cannot be made or that came out wrong; the message says what to do."""


def export_dir(recipe):
    return recipe.output_dir / layout.EXPORT_DIR


def gguf_path(recipe, quant):
    return export_dir(recipe) / f"{recipe.name}-{quant}.gguf"


def base_gguf_path(recipe):
    return export_dir(recipe) / "base-F16.gguf"


def base_model_dir(recipe):
    """The base model's local folder (a hub id is fetched into the hub's cache once)."""
    local = layout.resolve(recipe.config["base_model"])
    if local.exists():
        return local
    from huggingface_hub import snapshot_download
    return Path(snapshot_download(recipe.config["base_model"]))


def llama_cpp_source():
    """The llama.cpp sources vendored by the llama-cpp-python sdist (unpacked by `make llamacpp`)."""
    folder = Path(os.environ.get(LLAMA_CPP_SRC_ENV, layout.ROOT / "third_party" /
                                 f"llama_cpp_python-{LLAMA_CPP_VERSION}" / "vendor" / "llama.cpp"))
    if not (folder / "convert_hf_to_gguf.py").exists():
        raise ExportError(f"{layout.display_path(folder)}: llama.cpp's convert_hf_to_gguf.py not found; "
                          f"run `make llamacpp` (or set {LLAMA_CPP_SRC_ENV} to a llama.cpp checkout)")
    return folder


def check_adapter(run):
    """A LoRA adapter peft can load: adapter_config.json a JSON object naming peft_type LORA and its rank, and
    adapter_model.safetensors with a readable header; else an ExportError naming the file."""
    config_file, weights = run / "adapter_config.json", run / layout.ADAPTER_FILE
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ExportError(f"{layout.display_path(config_file)}: not a readable adapter config ({e}); train again") from None
    if not isinstance(config, dict) or config.get("peft_type") != "LORA" or not isinstance(config.get("r"), int):
        raise ExportError(f"{layout.display_path(config_file)}: not a LoRA adapter's config (peft_type LORA and an "
                          f"integer r expected); train again with `make train`")
    with open(weights, "rb") as f:
        head = f.read(8)
        size = int.from_bytes(head, "little") if len(head) == 8 else -1
        header = f.read(size) if 0 < size <= min(weights.stat().st_size - 8, 100 << 20) else b""
    try:
        tensors = json.loads(header)
    except ValueError:
        tensors = None
    if not isinstance(tensors, dict) or not tensors:
        raise ExportError(f"{layout.display_path(weights)}: not a safetensors file (its header cannot be read); "
                          f"train again with `make train`")


def merge(recipe, out):
    """peft's merge of the run's adapter into its base, saved with the tokenizer the run trained with."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = recipe.output_dir
    base = layout.resolve(recipe.config["base_model"])
    base = base if base.exists() else recipe.config["base_model"]
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, run).merge_and_unload()
    # The run folder holds the tokenizer and chat template Axolotl trained with; the base is the fallback.
    tokenizer_source = run if (run / "tokenizer_config.json").exists() else base
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    if tokenizer.chat_template is None:
        raise ExportError(f"{layout.display_path(tokenizer_source)}: the tokenizer has no chat template; "
                          f"the merged model could not be prompted as it was trained")
    generation = merged.generation_config
    generation.eos_token_id = tokenizer.eos_token_id  # the token the run learned to end its turn with
    merged.config.eos_token_id = tokenizer.eos_token_id
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return {"weights_sha256": {f.name: sha256_file(f) for f in sorted(out.glob("*.safetensors"))},
            "adapter_sha256": sha256_file(run / layout.ADAPTER_FILE),
            "eos_token": tokenizer.eos_token}


def run_converter(script, args, out_file, source):
    """One of llama.cpp's own converters, run from its sources, writing out_file through a partial file."""
    src = llama_cpp_source()
    if not (src / script).exists():
        raise ExportError(f"{layout.display_path(src / script)} not found; run `make llamacpp`")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), str(src / "gguf-py"), os.environ.get("PYTHONPATH", "")]),
               NO_LOCAL_GGUF="")
    partial = out_file.with_suffix(".gguf.partial")
    result = subprocess.run([sys.executable, str(src / script), *args, "--outfile", str(partial)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExportError(f"{script} failed on {layout.display_path(source)} "
                          f"(exit {result.returncode}):\n{result.stderr[-2000:]}")
    os.replace(partial, out_file)


def convert(merged_dir, out_file, outtype):
    """llama.cpp's HF-to-GGUF converter."""
    run_converter("convert_hf_to_gguf.py", [str(merged_dir), "--outtype", outtype.lower()], out_file, merged_dir)


def quantize(source, out_file, quant):
    """llama.cpp's own quantizer (llama_model_quantize, through llama-cpp-python's bindings)."""
    try:
        import llama_cpp
    except ImportError as e:
        raise ExportError("llama-cpp-python is not installed; run `make llamacpp`") from e
    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant}", None)
    if ftype is None:
        raise ExportError(f"unknown quantization type {quant!r}; use one of {', '.join(QUANT_TYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = os.cpu_count() or 1
    partial = out_file.with_suffix(".gguf.partial")
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), params)
    if code != 0 or not partial.exists():
        raise ExportError(f"llama_model_quantize {source.name} -> {quant} failed (code {code})")
    os.replace(partial, out_file)


def read_gguf_meta(path):
    """The chat template, EOS/EOT tokens and file type a GGUF declares, read with llama.cpp's gguf-py."""
    sys.path.insert(0, str(llama_cpp_source() / "gguf-py"))
    try:
        from gguf import GGUFReader
    finally:
        sys.path.pop(0)
    try:
        reader = GGUFReader(path)
    except (ValueError, OSError, IndexError) as e:
        raise ExportError(f"{layout.display_path(path)}: not a readable GGUF file ({type(e).__name__}: {str(e)[:200]})") from None

    def value(key):
        field = reader.fields.get(key)
        return None if field is None else field.contents()

    tokens = value("tokenizer.ggml.tokens") or []
    eos = value("tokenizer.ggml.eos_token_id")
    eot = value("tokenizer.ggml.eot_token_id")
    return {"chat_template": value("tokenizer.chat_template"), "file_type": value("general.file_type"),
            "tokenizer_model": value("tokenizer.ggml.model"), "tokenizer_pre": value("tokenizer.ggml.pre"),
            "eos_token": tokens[eos] if eos is not None and eos < len(tokens) else None,
            "eot_token": tokens[eot] if eot is not None and eot < len(tokens) else None}


def check_gguf(path, tokenizer_dir):
    """A GGUF must carry the merged model's chat template and end turns where the model does."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    meta = read_gguf_meta(path)
    problems = []
    if meta["chat_template"] != tokenizer.chat_template:
        problems.append("its chat template differs from the merged model's")
    if meta["eos_token"] != tokenizer.eos_token:
        problems.append(f"its EOS is {meta['eos_token']!r}, the model ends turns with {tokenizer.eos_token!r}")
    decoder = json.loads(tokenizer.backend_tokenizer.to_str()).get("decoder") or {}
    byte_level = decoder.get("type") == "ByteLevel"
    if byte_level and meta["tokenizer_model"] != "gpt2":
        # what a byte-fallback tokenizer makes llama.cpp's converter write; llama.cpp's server then aborts
        problems.append(f"its vocabulary is {meta['tokenizer_model']!r}, the model's tokenizer is GPT-2 byte-level "
                        f"BPE ('gpt2'); rebuild the base model's tokenizer (`make model`) and train again")
    if problems:
        raise ExportError(f"{layout.display_path(path)}: " + "; ".join(problems))
    return meta


def convert_adapter(recipe, base_dir, out_file):
    """llama.cpp's LoRA converter: the run's peft adapter alone, as an F16 GGUF."""
    run_converter("convert_lora_to_gguf.py", ["--base", str(base_dir), "--outtype", "f16", str(recipe.output_dir)],
                  out_file, recipe.output_dir)


def base_with_run_tokenizer(recipe, merged_dir, folder):
    """A folder that llama.cpp's converter reads as the base model: the base's weights and config
    (linked, not copied) with the tokenizer and chat template the run trained with, so the base GGUF
    prompts as the adapter was trained."""
    tokenizer_prefixes = ("tokenizer", "chat_template", "special_tokens")
    folder.mkdir(parents=True, exist_ok=True)
    for f in base_model_dir(recipe).iterdir():
        if f.is_file() and not f.name.startswith(tokenizer_prefixes):
            link = folder / f.name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(f.resolve())
    for f in merged_dir.iterdir():
        if f.name.startswith(tokenizer_prefixes):
            shutil.copyfile(f, folder / f.name)
    return folder


ENTRY_KEYS = {"path", "bytes", "sha256", "eos_token", "eot_token", "vocabulary", "pre_tokenizer"}
PROMPT_KEYS = {"n", "llama_cpp_prompts_identical", "ollama_layout", "ollama_prompts_identical", "ollama_template",
               "default_system"}


def read_manifest(path):
    """export.json as a dict with a `gguf` dict, or {} (made again) when it is unreadable or from
    another format; entries missing what a finished file records are dropped (made again)."""
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        print(f"{layout.display_path(path)}: unreadable ({type(e).__name__}); making the export again")
        return {}
    if not isinstance(manifest, dict) or not isinstance(manifest.get("merged"), dict) \
            or not isinstance(manifest.get("gguf"), dict):
        print(f"{layout.display_path(path)}: not an export manifest slingshot wrote; making the export again")
        return {}
    manifest["gguf"] = {quant: entry for quant, entry in manifest["gguf"].items()
                        if isinstance(entry, dict) and ENTRY_KEYS <= entry.keys()}
    return manifest


def is_made(recipe, quant, entry):
    """A file counts as made when it is there with the hash the manifest recorded for it (and, for the
    adapter alone, its base too): a damaged or replaced file of the same size is made again."""
    if not entry:
        return False
    files = [(gguf_path(recipe, quant), entry["sha256"])]
    if quant == ADAPTER_TYPE:
        files.append((base_gguf_path(recipe), entry.get("base_sha256")))
    return all(path.is_file() and sha256_file(path) == sha for path, sha in files)


def merged_is_made(manifest, merged_dir):
    """The merged model is reused only when its weight files are the ones export.json hashed."""
    recorded = (manifest.get("merged") or {}).get("weights_sha256")
    if not (merged_dir / "config.json").is_file() or not isinstance(recorded, dict) or not recorded:
        return False
    present = {f.name for f in merged_dir.glob("*.safetensors")}
    return present == set(recorded) and all(sha256_file(merged_dir / name) == sha for name, sha in recorded.items())


def planned_types(types):
    """What each requested type makes: the F32 file comes along with any quantized type."""
    need_f32 = "F32" in types or any(t in QUANT_TYPES for t in types)
    return [t for t in ALL_TYPES if t in types or (t == "F32" and need_f32)]


def check_room(recipe, types, manifest, free_bytes=None):
    """Refuse before anything is written when the disk cannot hold the export (files already made count
    as made). The sizes are plan's (slingshot.plan.export_needs) for the recipe's base model."""
    folder = export_dir(recipe)
    made = manifest.get("gguf", {})
    missing = [t for t in planned_types(types)  # the adapter alone is MBs: what it needs is its base's file
               if not (base_gguf_path(recipe) if t == ADAPTER_TYPE else gguf_path(recipe, t)).is_file()
               or (t != ADAPTER_TYPE and t not in made)]
    needs = export_needs(model_config(recipe.config["base_model"]), missing)["files_gb"]
    if "merged" in manifest:
        needs.pop("merged")
    need_gb = sum(needs.values())
    probe = next(p for p in (folder, *folder.parents) if p.exists())
    free = shutil.disk_usage(probe).free if free_bytes is None else free_bytes
    if need_gb > free / 1e9:
        parts = ", ".join(f"{k} {v} GB" for k, v in needs.items())
        raise ExportError(f"export of {recipe.name} needs ~{need_gb:.1f} GB ({parts}) and "
                          f"{layout.display_path(probe)} has {free / 1e9:.1f} GB free: free disk"
                          + (", or export fewer types (make export TYPES=Q4_K_M)" if missing != ["Q4_K_M"] else ""))
    return need_gb


def export(recipe, types=DEFAULT_TYPES, force=False):
    """Merge, convert and quantize; returns the export manifest (also written to export.json)."""
    if not types:
        raise ExportError(f"--types names no GGUF type; use some of {', '.join(ALL_TYPES)}")
    unknown = [t for t in types if t not in ALL_TYPES]
    if unknown:
        raise ExportError(f"--types {','.join(unknown)}: unknown; use {', '.join(ALL_TYPES)}")
    folder = export_dir(recipe)
    if not (recipe.output_dir / layout.ADAPTER_FILE).exists():
        raise ExportError(f"{layout.display_path(recipe.output_dir)} holds no trained adapter; "
                          f"run `make train RECIPE={layout.display_path(recipe.path)}`")
    manifest_path = folder / EXPORT_MANIFEST
    adapter_sha = sha256_file(recipe.output_dir / layout.ADAPTER_FILE)
    manifest = read_manifest(manifest_path)
    merged_dir = folder / MERGED_DIR
    if force or manifest.get("adapter_sha256") != adapter_sha or not merged_is_made(manifest, merged_dir):
        manifest = {}  # a new adapter (or a merged model gone or changed): everything made from it is stale
    check_room(recipe, types, manifest)
    claim_folders(recipe, {recipe.output_dir: "output_dir", folder: f"output_dir (its {layout.EXPORT_DIR}/ folder)"})
    try:
        ollama_name(recipe.name, types[0])  # before anything is made: a name Ollama cannot take stops here
    except ValueError as e:
        raise ExportError(f"{layout.display_path(recipe.path)}: {e}") from None
    check_adapter(recipe.output_dir)
    if "merged" not in manifest:
        print(f"merging {layout.display_path(recipe.output_dir)} into {recipe.config['base_model']}")
        info = merge(recipe, merged_dir)
        manifest = {"recipe": layout.display_path(recipe.path), "adapter_sha256": info.pop("adapter_sha256"),
                    "merged": {"path": layout.display_path(merged_dir), **info}, "gguf": {}}
        atomic_write_json(manifest_path, manifest)
    conversations = read_conversations(recipe.paths["test"])
    if "context_length" not in manifest:
        manifest["context_length"] = context_length(merged_dir, conversations, recipe.eval_settings()["max_new_tokens"])
    for quant in planned_types(types):
        if quant in CONVERTED_TYPES:
            build = (lambda out, q=quant: convert(merged_dir, out, q))
        elif quant in QUANT_TYPES:
            build = (lambda out, q=quant: quantize(gguf_path(recipe, "F32"), out, q))
        else:
            base_sha = (manifest["gguf"].get(ADAPTER_TYPE) or {}).get("base_sha256")
            build = (lambda out: _make_adapter(recipe, merged_dir, out, base_sha))
        _make(manifest, manifest_path, recipe, quant, merged_dir, build, conversations)
    return manifest


def _make_adapter(recipe, merged_dir, out, base_sha):
    """The adapter's GGUF, and its base's unless the base file is the one this export recorded."""
    base_dir = base_with_run_tokenizer(recipe, merged_dir, export_dir(recipe) / "base")
    base_gguf = base_gguf_path(recipe)
    if not (base_gguf.is_file() and sha256_file(base_gguf) == base_sha):
        print(f"writing {layout.display_path(base_gguf)}")
        convert(base_dir, base_gguf, "F16")
    convert_adapter(recipe, base_dir, out)


def _make(manifest, manifest_path, recipe, quant, merged_dir, build, conversations):
    out = gguf_path(recipe, quant)
    entry = manifest["gguf"].get(quant)
    made = is_made(recipe, quant, entry)
    prompts_checked = made and isinstance(entry.get("prompts"), dict) and PROMPT_KEYS <= entry["prompts"].keys()
    if not prompts_checked:  # a new file, or one from before prompt checks (it gets them now)
        if not made:
            print(f"writing {layout.display_path(out)}")
            build(out)
        served = base_gguf_path(recipe) if quant == ADAPTER_TYPE else out
        meta = check_gguf(served, merged_dir)
        prompts = check_prompts(served, merged_dir, conversations)
        if prompts["llama_cpp_prompts_identical"] != prompts["n"]:
            raise ExportError(f"{layout.display_path(served)}: llama.cpp's server builds a different prompt from the "
                              f"GGUF's template on {prompts['n'] - prompts['llama_cpp_prompts_identical']} of "
                              f"{prompts['n']} test questions; first difference: {prompts['first_difference']}")
        entry = {"bytes": out.stat().st_size, "sha256": sha256_file(out),
                 "eos_token": meta["eos_token"], "eot_token": meta["eot_token"], "chat_template_matches": True,
                 "vocabulary": meta["tokenizer_model"], "pre_tokenizer": meta["tokenizer_pre"], "prompts": prompts}
        if quant == ADAPTER_TYPE:
            entry.update(base_bytes=served.stat().st_size, base_sha256=sha256_file(served))
    entry["path"] = layout.display_path(out)  # the recipe's own files, also when the run folder was moved
    if quant == ADAPTER_TYPE:
        entry["base_path"] = layout.display_path(base_gguf_path(recipe))
    files = ({"base": base_gguf_path(recipe).name, "adapter": out.name} if quant == ADAPTER_TYPE
             else {"model": out.name})
    stops = list(dict.fromkeys(t for t in (entry["eot_token"], entry["eos_token"]) if t))
    modelfile = out.with_suffix(".Modelfile")
    try:
        text = modelfile_text(recipe.name, quant, files, entry["prompts"], stops, manifest["context_length"])
    except ValueError as e:
        raise ExportError(f"{layout.display_path(modelfile)}: {e}") from None
    atomic_write_text(modelfile, text)
    entry["modelfile"] = layout.display_path(modelfile)
    entry["commands"] = run_commands(recipe.name, quant, entry, manifest["context_length"])
    manifest["gguf"][quant] = entry
    atomic_write_json(manifest_path, manifest)
