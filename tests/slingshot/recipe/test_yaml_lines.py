"""Reading a recipe's YAML: lines kept for every key, and files no recipe is (nested thousands deep, huge,
keys given twice, alias bombs) refused with the file named, never a traceback."""
import pytest

from slingshot.recipe.core import RecipeError
from slingshot.recipe.yaml_lines import MAX_RECIPE_BYTES, key_lines, read_yaml_mapping


def test_every_key_keeps_its_line(tmp_path):
    path = tmp_path / "r.yml"
    path.write_text("base_model: x\nslingshot:\n  task: squad\n  eval:\n    shots: 3\ndatasets:\n  - path: a\n")
    config, lines = read_yaml_mapping(path)
    assert config["slingshot"]["eval"]["shots"] == 3
    assert lines["slingshot.eval.shots"] == 5 and lines["datasets[0].path"] == 7 and lines["base_model"] == 1


@pytest.mark.parametrize("text, message", [
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("a: 1\na: 2\n", "key 'a' is given twice"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("a: [b\n", "not valid YAML"),
])
def test_files_no_recipe_is_are_named(tmp_path, text, message):
    path = tmp_path / "r.yml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=message) as error:
        read_yaml_mapping(path)
    assert str(path) in str(error.value)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "r.yml"
    with open(path, "wb") as f:
        f.truncate(MAX_RECIPE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(RecipeError, match="a recipe is a few kB"):
        read_yaml_mapping(path)


def test_key_lines_of_an_empty_mapping_is_empty():
    import yaml
    assert key_lines(yaml.compose("{}")) == {}
