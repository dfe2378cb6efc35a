"""What a training says: Axolotl's output turned into one plain line per step on the terminal (the
whole output stays in the run folder's train.log), the loss records read back from that log (loss.csv,
loss.png) and the one-line summary of a finished training."""
import ast
import csv
import re

from slingshot.layout import display_path

RECORD = re.compile(r"\{'(?:loss|eval_loss|train_runtime)'.*\}")
# a tqdm bar as it reaches a pipe: "19%|█▉   | 3/16 [00:48<03:11, 14.76s/it]"
BAR = re.compile(r"\|\s*(\d+)/(\d+) \[([\d:]+)<([\d:?]+)")
EVAL_STARTS = "Running evaluation step"
SHOWN_AS_IS = ("Traceback", "Error", "error:")


def parse_record(line):
    """The trainer's log record on a line ({'loss': ...} etc., values made numbers), else None."""
    match = RECORD.search(line)
    if not match:
        return None
    try:
        record = ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError):
        return None
    return {k: _number(v) for k, v in record.items()} if isinstance(record, dict) else None


def parse_log(text):
    """Loss records from the trainer's log lines: {'loss': ..., 'epoch': ...}."""
    return [record for record in map(parse_record, text.splitlines()) if record is not None]


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


class StepLines:
    """Reads Axolotl's output line by line and says what a user wants of it: `step 3/16  loss 1.34
    lr 0.0005  114 tok/s  00:48 elapsed, ~03:11 left` once per logged step, the validation loss, and
    errors as they are. Progress bars, dicts and library chatter are left to train.log."""

    def __init__(self):
        self.bar, self.in_eval, self.steps = None, False, 0

    def __call__(self, line):
        bars = BAR.findall(line)
        if bars and not self.in_eval:  # the trainer's bar; an evaluation's own bar is not the step
            self.bar = bars[-1]
        if EVAL_STARTS in line:
            self.in_eval = True
        record = parse_record(line)
        if record is None:
            return line.rstrip() if any(s in line for s in SHOWN_AS_IS) else None
        if "eval_loss" in record:
            self.in_eval = False
            return f"validation loss {record['eval_loss']:.4g} {self.where()}".rstrip()
        if "loss" in record:
            self.steps += 1
            return step_line(record, self.bar, self.steps)
        return None

    def where(self):
        return f"at step {self.bar[0]}/{self.bar[1]}" if self.bar else ""


def step_line(record, bar, count):
    """One training step's line from its log record and the trainer's progress bar (n, total,
    elapsed, left), or the count of records seen where no bar was read."""
    step = f"step {bar[0]}/{bar[1]}" if bar else f"step {count}"
    parts = [step, f"loss {record['loss']:.4g}"]
    if isinstance(record.get("learning_rate"), float):
        parts.append(f"lr {record['learning_rate']:.2g}")
    seconds = clock_seconds(bar[2]) if bar else 0
    if isinstance(record.get("tokens/total"), (int, float)) and seconds > 0:
        # every token the trainer has seen (prompts too, as the summary counts), over the bar's time:
        # Axolotl's own tokens/train_per_sec_per_gpu counts only the tokens the loss is taken on
        speed = record["tokens/total"] / seconds
        parts.append(f"{speed:.0f} tok/s" if speed >= 100 else f"{speed:.3g} tok/s")
    memory = record.get("memory/max_allocated (GiB)")
    if isinstance(memory, float) and memory > 0:  # Axolotl logs 0 where no GPU allocator runs
        parts.append(f"GPU {memory:.3g} GiB")
    if bar:
        parts.append(f"{bar[2]} elapsed" + (f", ~{bar[3]} left" if bar[3] != "?" else ""))
    return "  ".join(parts)


def clock_seconds(text):
    """Seconds of a tqdm clock: 02:01 or 1:02:01."""
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def duration(seconds):
    """43 s, 4 min 23 s, 2 h 05 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def summary_line(name, summary, adapter_folder):
    """`trained NAME: 16 steps in 4 min 23 s, 124 tokens/s, final loss 1.92 (validation 0.985), peak
    memory 3.3 GB RAM; adapter in runs/NAME/` from a train_summary.json."""
    parts = [f"{summary.get('steps', '?')} steps in {duration(summary.get('wall_s') or 0)}"]
    if summary.get("tokens_per_s"):
        parts.append(f"{summary['tokens_per_s']:.0f} tokens/s")
    loss = summary.get("final_train_loss")
    if loss is not None:
        validation = summary.get("final_eval_loss")
        parts.append(f"final loss {loss:.3g}" + (f" (validation {validation:.3g})" if validation is not None else ""))
    gpu = summary.get("gpu_peak_memory_used_gb") or summary.get("gpu_max_allocated_gb")
    if gpu:
        parts.append(f"peak memory {gpu:.3g} GB GPU")
    elif summary.get("peak_memory_gb"):
        parts.append(f"peak memory {summary['peak_memory_gb']:.3g} GB RAM")
    return f"trained {name}: {', '.join(parts)}; adapter in {display_path(adapter_folder)}/"


def write_loss_curve(records, folder):
    """loss.csv and loss.png of a run folder from its loss records."""
    steps = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval_loss" in r]
    with open(folder / "loss.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "epoch", "loss", "eval_loss", "learning_rate"])
        for i, r in enumerate(steps, 1):
            writer.writerow([i, r.get("epoch"), r.get("loss"), "", r.get("learning_rate")])
        for r in evals:
            writer.writerow(["", r.get("epoch"), "", r.get("eval_loss"), ""])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    if steps:
        ax.plot([r["epoch"] for r in steps], [r["loss"] for r in steps], marker=".", label="training loss")
    if evals:
        ax.plot([r["epoch"] for r in evals], [r["eval_loss"] for r in evals], "o--", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(folder.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "loss.png")
    plt.close(fig)
