"""Known start-up noise from the libraries under the stack, silenced in one place.

Imported first by `slingshot/__init__.py`, so every command (`python -m slingshot ...`,
`python -m eval ...`, `python -m data_prep ...`) starts quiet. Each entry names the logger and the
words of the one message it drops, so anything else those libraries log (a real error, a new
warning) still prints.
"""
import logging
import os
import re
import warnings

# Environment defaults: no usage telemetry. setdefault keeps whatever the user set.
ENVIRONMENT = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "AXOLOTL_DO_NOT_TRACK": "1",
    "DO_NOT_TRACK": "1",
}

# (logger, words of the message): why each is noise, not news.
KNOWN_NOISE = (
    # torchao ships GPU-only (sm90 cutlass, mxfp8) extensions; on other machines they cannot load and
    # torchao falls back to its Python kernels, which is all slingshot uses.
    ("torchao", "/torchao/_C"),  # "Failed to load .../torchao/_C_mxfp8...so: Could not load this library"
    # torchao registers two Enums with torch's pytree at import; torch 2.13 deprecates that for Enums
    # and warns on every start. Nothing slingshot can change.
    ("torch.utils._pytree", "is an Enum subclass and is now natively supported"),
    # bitsandbytes' CPU backend tries a hub kernel for 4-bit matmuls at import and, when the hub
    # refuses or cannot be reached, falls back to its own kernel; slingshot never runs 4-bit on the CPU.
    ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward from kernels-community"),
)

# (warning category, start of the message): the same hub kernel, asked for in offline mode.
KNOWN_WARNINGS = (
    (UserWarning, "Skipping publisher trust check for 'kernels-community/"),
)


class DropMessages(logging.Filter):
    """Drops records whose message holds one of `phrases`; lets every other record through."""

    def __init__(self, phrases):
        super().__init__()
        self.phrases = tuple(phrases)

    def filter(self, record):
        message = record.getMessage()
        return not any(phrase in message for phrase in self.phrases)


def silence_known_noise():
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    for category, start in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(start), category=category)
    by_logger = {}
    for name, phrase in KNOWN_NOISE:
        by_logger.setdefault(name, []).append(phrase)
    for name, phrases in by_logger.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropMessages) for f in logger.filters):
            logger.addFilter(DropMessages(phrases))


silence_known_noise()
