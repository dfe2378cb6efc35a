"""python -m slingshot export RECIPE [--types Q8_0,Q4_K_M,LORA] [--force] (make export): a trained recipe
merged and converted to GGUF files, a LoRA GGUF and Modelfiles, with the commands that run them
(slingshot/export.py; docs/export.md)."""
import argparse

from slingshot.errors import cli

HELP = "merge a trained adapter and write GGUF files, a LoRA GGUF and Modelfiles"


@cli
def main(argv=None):
    from slingshot.export import ADAPTER_TYPE, ALL_TYPES, DEFAULT_TYPES, export
    from slingshot.recipe import load_recipe

    parser = argparse.ArgumentParser(prog="python -m slingshot export", description=HELP)
    parser.add_argument("recipe")
    parser.add_argument("--types", default=",".join(DEFAULT_TYPES),
                        help=f"comma-separated GGUF types of {','.join(ALL_TYPES)} (default {','.join(DEFAULT_TYPES)}; "
                             f"{ADAPTER_TYPE}: the adapter alone, over the base's F16 GGUF)")
    parser.add_argument("--force", action="store_true", help="merge and convert again")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    manifest = export(recipe, [t.strip().upper() for t in args.types.split(",") if t.strip()], args.force)
    for quant, entry in manifest["gguf"].items():
        print(f"{quant:8s} {entry['bytes'] / 1e6:8.1f} MB  {entry['path']}  (EOS {entry['eos_token']})")
    print(f"\nRun an export where you run models (context {manifest['context_length']} tokens fits every test prompt):")
    for quant, entry in manifest["gguf"].items():
        prompts = entry["prompts"]
        template = (f"Ollama template {prompts['ollama_layout']}: {prompts['ollama_prompts_identical']}/{prompts['n']} "
                    f"prompts identical" if prompts["ollama_template"] else "no checked Ollama template")
        print(f"  {quant} ({template}; llama.cpp {prompts['llama_cpp_prompts_identical']}/{prompts['n']}):")
        for line in entry["commands"]:
            print(f"    {line}")
    return 0
