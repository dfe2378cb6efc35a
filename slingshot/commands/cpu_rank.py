"""python -m slingshot cpu-rank AXOLOTL_YML: one rank of a multi-process training on a machine without a
GPU (`make train GPUS=2` on the CPU); torchrun starts one per rank (slingshot.train.launch_command).

Axolotl assumes every multi-process run has a GPU per rank, in two places, and each rank dies
at start-up without one:
- it asks torch whether this rank's GPU can reach a neighbour's (`check_cuda_p2p_support`, to decide
  NCCL_P2P_DISABLE); without a GPU torch raises "Found no NVIDIA driver" instead of answering;
- `normalize_config` places the model with `device_map={"": LOCAL_RANK}`, a CUDA device index.
Here the first question gets its true answer on such a machine (no), and the model is placed on the
CPU, where the rank's process runs. Then the rank runs Axolotl's own per-rank entry point,
`python -m axolotl.cli.train`, unchanged. Nothing is changed where CUDA is available (and on GPU
machines `make train` launches through Axolotl's own launcher, not this module).
"""
import runpy
import sys

from slingshot.errors import cli

HELP = "one rank of a CPU multi-process training (torchrun starts it; not for typing)"


def place_on_cpu(normalize_config):
    def normalize_config_on_cpu(cfg):
        normalize_config(cfg)
        if cfg.world_size != 1:
            cfg.device_map = {"": "cpu"}
    return normalize_config_on_cpu


@cli
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m slingshot cpu-rank AXOLOTL_YML [axolotl options]\n\n{HELP}\n\n{__doc__}")
        return 0 if argv else 2
    import torch

    if not torch.cuda.is_available():
        import axolotl.utils.config

        torch.cuda.can_device_access_peer = lambda device, peer_device: False
        # before axolotl.cli imports it by name
        axolotl.utils.config.normalize_config = place_on_cpu(axolotl.utils.config.normalize_config)
    sys.argv = ["axolotl.cli.train", *argv]
    runpy.run_module("axolotl.cli.train", run_name="__main__", alter_sys=True)
    return 0
