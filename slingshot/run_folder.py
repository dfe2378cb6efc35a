"""What a training keeps in its run folder besides the adapter: which training the checkpoints belong
to (checkpoints resume only the training that wrote them), whether the run is already trained, and
the tokenized-data folder it clears and remakes on every training."""
import json
import shutil

from slingshot.errors import UserError
from slingshot.io import atomic_write_json
from slingshot.layout import display_path

TRAINING_MARK = "training.json"  # in a run folder: which training its checkpoints belong to
SUPERSEDED = "superseded"        # in a run folder: checkpoints of earlier trainings, never resumed


def checkpoint_step(path):
    """The step of a `checkpoint-<digits>` entry (Axolotl resumes the highest), else None."""
    suffix = path.name.split("-")[-1]
    return int(suffix) if path.name == f"checkpoint-{suffix}" and suffix.isdigit() else None


def settle_checkpoints(recipe, fingerprint, fresh=False):
    """Checkpoints resume only the training that wrote them. Those of another recipe, data or base
    model (or all of them, `fresh`) are moved to superseded/<their fingerprint>/, where nothing resumes
    them, and so are entries Axolotl would take for a checkpoint but are not a complete one (a kill can
    leave one half-written; the trainer writes its state last). Then this training is marked as the run
    folder's. Returns the checkpoints left to resume, oldest first."""
    out = recipe.output_dir
    try:
        return _settle(out, recipe, fingerprint, fresh)
    except OSError as e:
        raise UserError(f"{display_path(out)}: cannot sort out its checkpoints ({e}); move the run folder "
                        f"away or fix the entry named") from None


def _settle(out, recipe, fingerprint, fresh):
    checkpoints = sorted((p for p in out.glob("checkpoint-*") if checkpoint_step(p) is not None),
                         key=checkpoint_step)
    mark = out / TRAINING_MARK
    try:
        owner = json.loads(mark.read_text()).get("fingerprint") if mark.is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        owner = None  # an unreadable mark proves nothing: its checkpoints are not resumed
    label = owner if isinstance(owner, str) and owner.isalnum() and len(owner) <= 64 else "unknown"
    if checkpoints and (fresh or owner != fingerprint):
        why = "--force" if fresh else "another recipe, data or base model"
        _move_aside(out, checkpoints, out / SUPERSEDED / label, f"of an earlier training ({why})")
        print(f"{display_path(out)}: training starts fresh")
        checkpoints = []
    incomplete = [c for c in checkpoints if c.is_symlink() or not (c / "trainer_state.json").is_file()]
    if incomplete:
        _move_aside(out, incomplete, out / SUPERSEDED / f"{label}-incomplete", "that are not complete")
        checkpoints = [c for c in checkpoints if c not in incomplete]
    if mark.is_dir() or mark.is_symlink():
        raise UserError(f"{display_path(mark)}: expected the run folder's training mark (a file); move it away")
    atomic_write_json(mark, {"fingerprint": fingerprint, "recipe": display_path(recipe.path)})
    return checkpoints


def _move_aside(out, checkpoints, aside, why):
    """Move checkpoints into `aside`; an earlier one of the same name there is kept (a suffix is added)."""
    if aside.exists() and not aside.is_dir() or (out / SUPERSEDED).is_file():
        raise UserError(f"{display_path(aside)}: expected a folder for superseded checkpoints; move it away")
    aside.mkdir(parents=True, exist_ok=True)
    for checkpoint in checkpoints:
        target, n = aside / checkpoint.name, 1
        while target.exists() or target.is_symlink():
            n += 1
            target = aside / f"{checkpoint.name}.{n}"
        checkpoint.rename(target)
    print(f"{display_path(out)}: {len(checkpoints)} checkpoint(s) {why} moved to {display_path(aside)}; "
          f"nothing resumes from there")


def is_trained(recipe, fingerprint):
    summary = recipe.paths["summary"]
    return (summary.exists() and recipe.paths["adapter"].exists()
            and json.loads(summary.read_text()).get("fingerprint") == fingerprint)


PREPARED_MARK = ".made-by-slingshot-train"  # in dataset_prepared_path: this folder is ours to clear


def fresh_prepared_folder(recipe):
    """Empty dataset_prepared_path (tokenized data of older files must not be reused) and mark it.

    Only a folder inside the run folder that training made (it holds PREPARED_MARK) is deleted;
    anything else there is an error naming the key, never a silent rmtree."""
    key = "dataset_prepared_path"
    prepared, run = recipe.paths["prepared"].resolve(), recipe.paths["run"].resolve()
    if prepared == run or not prepared.is_relative_to(run):
        raise UserError(f"{recipe.where(key)}: {key} {display_path(prepared)} is outside the run folder "
                        f"{display_path(run)}; training only clears folders it made inside the run folder")
    if prepared.exists():
        if not ((prepared / PREPARED_MARK).is_file() or _only_axolotl_output(prepared)):
            raise UserError(f"{recipe.where(key)}: {key} {display_path(prepared)} exists but was not made by "
                            f"training; move it away or name a new folder inside {display_path(run)}")
        shutil.rmtree(prepared)
    prepared.mkdir(parents=True)
    (prepared / PREPARED_MARK).write_text("made by `python -m slingshot train`; deleted and remade on every training\n")


AXOLOTL_PREP_FILES = {"datasets_prep.lock", "datasets_ready.flag", "process_counter.txt"}


def _only_axolotl_output(folder):
    """A folder left by training before it was marked: only Axolotl's lock files and saved
    datasets (folders holding a datasets `state.json`), or nothing."""
    return folder.is_dir() and all(
        entry.name in AXOLOTL_PREP_FILES if entry.is_file() else any(entry.rglob("state.json"))
        for entry in folder.iterdir())
