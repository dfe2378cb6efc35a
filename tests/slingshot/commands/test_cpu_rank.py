"""A CPU rank of a multi-process training places the model on the CPU, and leaves a one-process run as
Axolotl set it (the whole command runs in tests/e2e/test_multiprocess_train.py)."""
from types import SimpleNamespace

from slingshot.commands.cpu_rank import HELP, place_on_cpu


def test_ranks_of_a_multi_process_run_are_placed_on_the_cpu_and_a_single_process_is_left_alone():
    def normalize_config(cfg):
        cfg.device_map = {"": 1}  # what Axolotl sets: the rank's CUDA device index

    ranked, single = SimpleNamespace(world_size=2), SimpleNamespace(world_size=1)
    place_on_cpu(normalize_config)(ranked)
    place_on_cpu(normalize_config)(single)
    assert ranked.device_map == {"": "cpu"} and single.device_map == {"": 1}
    assert "torchrun" in HELP
