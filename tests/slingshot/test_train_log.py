"""Training speaks plainly: one line per step read from Axolotl's real output (train.log keeps all of
it), the loss records read back, and a one-line summary with no machine path."""
from slingshot.layout import ROOT
from slingshot.train_log import StepLines, duration, parse_log, step_line, summary_line

# Axolotl 0.19's output on a pipe, as train.log keeps it (a CPU run of the default recipe): the
# trainer's bar, an evaluation before step 1 with its own bar, a log record per step, the end.
AXOLOTL_OUTPUT = """\
Loading weights: 100%|##########| 272/272 [00:00<00:00, 2058.10it/s]
  0%|          | 0/16 [00:00<?, ?it/s][2026-12-07 15:44:41,072] [INFO] [axolotl.core.trainers.base] Running evaluation step...
  6%|6         | 2/32 [00:00<00:04,  6.12it/s]
100%|##########| 32/32 [00:11<00:00,  2.14it/s]
{'eval_loss': '3.056', 'eval_runtime': '11.87', 'memory/max_allocated (GiB)': '0', 'epoch': 0}
  0%|          | 0/16 [00:11<?, ?it/s]
100%|##########| 32/32 [00:11<00:00,  2.14it/s]
  6%|6         | 1/16 [00:24<06:10, 24.67s/it]
{'loss': '5.631', 'grad_norm': '12.4', 'learning_rate': '0', 'memory/max_allocated (GiB)': '0', 'tokens/total': 1700, 'epoch': '0.0625'}
  6%|6         | 1/16 [00:24<06:10, 24.67s/it]
 12%|#2        | 2/16 [00:37<04:09, 17.83s/it]
{'loss': '3.119', 'learning_rate': '0.00025', 'memory/max_allocated (GiB)': '0', 'tokens/train_per_sec_per_gpu': '3.3', 'tokens/total': 3603, 'epoch': '0.125'}
 12%|#2        | 2/16 [00:37<04:09, 17.83s/it][2026-12-07 15:46:23,855] [INFO] [axolotl.core.trainers.base] Running evaluation step...
 97%|#########6| 31/32 [00:11<00:00,  2.48it/s]
{'eval_loss': '0.9854', 'eval_runtime': '12.74', 'epoch': '1'}
{'train_runtime': '239.6', 'train_loss': '1.774', 'epoch': '1'}
[2026-12-07 15:48:40,683] [INFO] [axolotl.train] Training completed! Saving trained model to runs/x.
ValueError: something Axolotl could not do
"""


def test_one_plain_line_per_step_from_axolotls_output():
    shown = [line for line in map(StepLines(), AXOLOTL_OUTPUT.splitlines()) if line]
    assert shown == [
        "validation loss 3.056 at step 0/16",
        "step 1/16  loss 5.631  lr 0  70.8 tok/s  00:24 elapsed, ~06:10 left",
        "step 2/16  loss 3.119  lr 0.00025  97.4 tok/s  00:37 elapsed, ~04:09 left",  # 3603 tokens in 37 s
        "validation loss 0.9854 at step 2/16",  # the evaluation's own bar (31/32) is not the step
        "ValueError: something Axolotl could not do",  # errors as they are
    ]
    assert [r["loss"] for r in parse_log(AXOLOTL_OUTPUT) if "loss" in r] == [5.631, 3.119]


def test_a_step_line_shows_gpu_memory_only_where_a_gpu_allocated_it_and_counts_without_a_bar():
    record = {"loss": 1.2, "learning_rate": 0.0002, "memory/max_allocated (GiB)": 17.9, "tokens/total": 3662000}
    assert step_line(record, ("3", "20", "1:01:02", "?"), 3) == \
        "step 3/20  loss 1.2  lr 0.0002  1000 tok/s  GPU 17.9 GiB  1:01:02 elapsed"  # 3662000 tokens in 3662 s
    assert step_line({"loss": 0.5, "tokens/total": 100}, None, 7) == "step 7  loss 0.5"  # no clock, no speed


def test_the_summary_is_one_line_naming_time_speed_loss_memory_and_the_adapter(tmp_path):
    from slingshot.layout import RUNS_DIR

    summary = {"steps": 16, "wall_s": 263.1, "tokens_per_s": 124.4, "final_train_loss": 1.918,
               "final_eval_loss": 0.9854, "peak_memory_gb": 3.29}
    line = summary_line("squad-x", summary, RUNS_DIR / "squad-x")
    assert line == ("trained squad-x: 16 steps in 4 min 23 s, 124 tokens/s, final loss 1.92 (validation 0.985), "
                    "peak memory 3.29 GB RAM; adapter in runs/squad-x/")
    gpu = summary_line("g", {**summary, "gpu_peak_memory_used_gb": 21.3, "final_eval_loss": None}, RUNS_DIR / "g")
    assert "final loss 1.92, peak memory 21.3 GB GPU;" in gpu
    assert "\n" not in line and str(ROOT) not in line
    assert (duration(42.4), duration(3725)) == ("42 s", "1 h 02 min")
