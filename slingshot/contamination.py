"""Test-set contamination: does the data a recipe trains on contain its test examples?

    result = check("julia", train_rows + validation_rows, test_rows)
    enforce(result, allowed=block.get("allow_test_contamination", False), where="recipe.yml:60")
    print(contamination_statement(result))

Every task: test ids found among training ids, and test prompts (system + user text) found word
for word in training prompts. Each task module adds its own checks (contamination_overlap): Julia
test cases and task statements, SQuAD passages.
"""
from slingshot.errors import UserError
from slingshot.io import read_jsonl
from slingshot.layout import display_path
from slingshot.tasks import get_task, prompt_text


class ContaminationError(UserError):
    """A recipe trains on its own test examples without saying so."""


def check(task_name, train_rows, test_rows):
    """What of `test_rows` is in `train_rows` (pass train and validation rows together)."""
    task = get_task(task_name)
    train_rows, test_rows = list(train_rows), list(test_rows)
    train_ids = {str(r.get("id")) for r in train_rows}
    train_prompts = {prompt_text(r["messages"]) for r in train_rows}
    overlap = {
        "ids": [r["id"] for r in test_rows if str(r["id"]) in train_ids],
        "prompts": [r["id"] for r in test_rows if prompt_text(r["messages"]) in train_prompts],
    }
    affected = set(overlap["ids"]) | set(overlap["prompts"])
    result = {"task": task_name, "n_train": len(train_rows), "n_test": len(test_rows)}
    extra_overlap, affected, extra = task.contamination_overlap(train_rows, test_rows, affected)
    overlap.update(extra_overlap)
    result.update(extra)
    result.update(contaminated=bool(affected), n_test_affected=len(affected),
                  affected_ids=sorted(affected, key=str), overlap=overlap)
    return result


def enforce(result, allowed, where):
    """Raise ContaminationError when the training data holds test examples and the recipe
    did not say `allow_test_contamination: true`."""
    if result["contaminated"] and allowed is not True:
        raise ContaminationError(
            f"{where}: {contamination_statement(result)} Train on other data, pick a test split "
            f"without these examples, or set `allow_test_contamination: true` in the slingshot block "
            f"to train anyway (reports then mark the affected examples as seen).")


def _names(items, limit=14):
    items = list(items)
    shown = ", ".join(str(x) for x in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def contamination_statement(result):
    """One plain-language paragraph for reports and error messages."""
    task = get_task(result["task"])
    n_test, overlap = result["n_test"], result["overlap"]
    if not result["contaminated"]:
        return (f"No contamination found: none of the {n_test} test examples appears in the "
                f"{result['n_train']} training rows (checked {task.CONTAMINATION_CHECKS}).")
    if task.contamination_statement is not None:
        return task.contamination_statement(result, _names)
    parts = [f"{len(v)} by {k.replace('_', ' ')}" for k, v in overlap.items() if v]
    return (f"Contaminated: {result['n_test_affected']} of the {n_test} test examples appear in the training "
            f"data ({', '.join(parts)}). Scores on them measure recall, not skill on unseen examples.")


def check_recipe(recipe):
    """check() on a prepared recipe's files: train + validation against its test split."""
    paths = recipe.paths
    files = {k: paths[k] for k in ("train", "validation", "test")}
    missing = [display_path(p) for p in files.values() if not p.exists()]
    if missing:
        raise UserError(f"{recipe.path}: prepared data missing ({', '.join(missing)}); "
                        f"run `make prepare RECIPE={recipe.path}`")
    training = read_jsonl(files["train"]) + read_jsonl(files["validation"])
    return check(recipe.block["task"], training, read_jsonl(files["test"]))
