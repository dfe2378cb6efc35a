"""python -m eval evaluate-v1.1, in process, on a tiny dataset file: the official script's JSON."""
import json

from eval.commands.official_squad import main


def write(tmp_path, predictions, version="1.1"):
    dataset = {"version": version, "data": [{"title": "t", "paragraphs": [{"context": "Ann met Bob in Paris.", "qas": [
        {"id": "q1", "question": "Who met Bob?", "answers": [{"text": "Ann", "answer_start": 0}]},
        {"id": "q2", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 14},
                                                        {"text": "in Paris", "answer_start": 11}]}]}]}]}
    (tmp_path / "dev.json").write_text(json.dumps(dataset))
    (tmp_path / "pred.json").write_text(json.dumps(predictions))
    return [str(tmp_path / "dev.json"), str(tmp_path / "pred.json")]


def test_scores_as_the_official_script(tmp_path, capsys):
    assert main(write(tmp_path, {"q1": "Ann", "q2": "Paris France", "other": "x"})) == 0
    captured = capsys.readouterr()
    scores = json.loads(captured.out)
    assert scores["exact_match"] == 50.0 and round(scores["f1"], 2) == round((100 + 100 * 2 / 3) / 2, 2)
    assert "1 prediction ids are not questions of the dataset" in captured.err


def test_a_wrong_version_exits_2_naming_the_key(tmp_path, capsys):
    assert main(write(tmp_path, {}, version="2.0")) == 2
    assert "key 'version' is '2.0', expected '1.1'" in capsys.readouterr().err
