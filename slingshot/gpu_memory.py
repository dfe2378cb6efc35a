"""GPU memory of a training: the highest use NVML sees while it runs, and what the trainer logged,
beside the planner's prediction (train_summary.json). A CPU run records none."""
import threading

from slingshot.errors import UserError


class GpuMemoryMonitor:
    """Highest GPU memory in use on any device while training, polled through NVML (it counts the
    CUDA context and allocator cache too, so it reads above torch's max_memory_allocated)."""

    def __init__(self, interval_s=1.0):
        self.interval_s, self.peak, self._stop = interval_s, None, None

    def start(self):
        try:
            import pynvml
            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # no NVIDIA driver: a CPU run
            return self
        if not handles:
            return self
        self.peak, self._stop = 0, threading.Event()

        def poll():
            while not self._stop.wait(self.interval_s):
                self.peak = max([self.peak] + [pynvml.nvmlDeviceGetMemoryInfo(h).used for h in handles])
        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """The peak in GB, or None on a machine without an NVIDIA GPU."""
        if self._stop is None:
            return None
        self._stop.set()
        self._thread.join()
        return round(self.peak / 1e9, 2)


def gpu_measurements(recipe, records, gpu_used_gb, gpus):
    """On a GPU: measured peak memory and tokens/s beside the planner's prediction; {} on a CPU run."""
    allocated = [v for r in records for k, v in r.items() if "max_allocated" in k and isinstance(v, float) and v > 0]
    if gpu_used_gb is None and not allocated:
        return {}
    from slingshot.plan import estimate, model_config
    try:
        predicted = estimate(recipe.config, model_config(recipe.config["base_model"]), gpus=gpus)["peak_gb"]
    except UserError:
        predicted = None
    per_gpu = [r["tokens/train_per_sec_per_gpu"] for r in records
               if isinstance(r.get("tokens/train_per_sec_per_gpu"), float) and "loss" in r]
    return {"gpu_peak_memory_used_gb": gpu_used_gb,
            "trainer_tokens_per_s_per_gpu": round(sum(per_gpu) / len(per_gpu), 1) if per_gpu else None,
            "gpu_max_allocated_gb": round(max(allocated) * 2**30 / 1e9, 2) if allocated else None,
            "predicted_peak_gpu_memory_gb": predicted}
