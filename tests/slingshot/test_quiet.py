"""Known start-up noise is dropped by its words only: every other record and warning still gets through."""
import logging
import os
import warnings

from slingshot.quiet import ENVIRONMENT, KNOWN_NOISE, DropMessages, silence_known_noise


def record(name, message):
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)


def test_drop_messages_drops_only_its_phrases():
    drop = DropMessages(["needle"])
    assert not drop.filter(record("x", "a needle in it"))
    assert drop.filter(record("x", "something else"))


def test_each_noisy_logger_drops_its_message_and_keeps_the_rest():
    silence_known_noise()
    for name, phrase in KNOWN_NOISE:
        logger = logging.getLogger(name)
        assert not logger.filter(record(name, f"Failed: {phrase} (noise)"))
        assert logger.filter(record(name, "a real error"))


def test_silencing_twice_adds_no_second_filter():
    silence_known_noise()
    silence_known_noise()
    for name, _ in KNOWN_NOISE:
        assert sum(isinstance(f, DropMessages) for f in logging.getLogger(name).filters) == 1


def test_known_warnings_are_ignored_and_others_shown():
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        silence_known_noise()
        warnings.warn("Skipping publisher trust check for 'kernels-community/gemm'", UserWarning)
        warnings.warn("a new warning", UserWarning)
    assert [str(w.message) for w in caught] == ["a new warning"]


def test_the_environment_defaults_keep_what_the_user_set(monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "0")
    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY", raising=False)
    silence_known_noise()
    assert os.environ["DO_NOT_TRACK"] == "0"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == ENVIRONMENT["HF_HUB_DISABLE_TELEMETRY"]
