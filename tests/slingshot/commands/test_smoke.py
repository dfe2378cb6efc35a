"""`python -m slingshot smoke`'s data step: data_prep's preparation, called as a function, writes the
smoke recipe's data from the carried local source (the whole command runs in tests/project/test_gpu_pages.py)."""
import json

from slingshot.commands.smoke import HELP, prepare_data
from slingshot.layout import ROOT
from slingshot.recipe import load_recipe
from slingshot.smoke import smoke_recipe


def test_the_smoke_recipe_gets_its_data_from_data_prep_in_process():
    smoke = smoke_recipe(load_recipe(ROOT / "recipes/squad/llama-3.1-8b/qlora.yml"), name="smoke-command-test")
    manifest = prepare_data(smoke)
    assert manifest["params"]["source"] == "local"
    assert json.loads(smoke.paths["manifest"].read_text())["outputs"]["train"]["rows"] == smoke.block["train_size"]
    assert "CPU" in HELP
