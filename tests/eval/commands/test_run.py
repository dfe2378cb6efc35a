"""python -m eval run, in process, on what it refuses before any model is built or any split is read."""
import pytest

from eval.commands.run import batch_size, main


def test_a_wrong_spec_or_an_option_of_another_backend_exits_2(capsys):
    assert main(["--model", "gpt-4o", "--split", "dev-200"]) == 2
    assert "unknown model spec 'gpt-4o'" in capsys.readouterr().err
    assert main(["--model", "openai:gpt-4o-mini", "--adapter", "runs/x", "--split", "dev-200"]) == 2
    assert "--adapter applies to hf: models only" in capsys.readouterr().err


def test_a_missing_split_is_named(capsys):
    assert main(["--model", "hf:models/smollm2-135m-instruct", "--split", "no-such-split"]) == 2
    assert "split 'no-such-split' not found" in capsys.readouterr().err


@pytest.mark.parametrize("option,value,words", [("--limit", "0", "whole number >= 1"),
                                                 ("--timeout", "0", "finite number > 0"),
                                                 ("--batch-size", "0", "whole number >= 1")])
def test_numbers_are_checked_by_argparse(capsys, option, value, words):
    with pytest.raises(SystemExit) as stop:
        main(["--model", "hf:m", "--split", "s", option, value])
    assert stop.value.code == 2 and words in capsys.readouterr().err
    assert batch_size("auto") == "auto" and batch_size("4") == 4
