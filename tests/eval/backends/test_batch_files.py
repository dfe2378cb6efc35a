"""A batch's request file and the reading of its output and error files, line by line."""
import json

from eval.backends.batch_files import Results, request_body, request_lines, same_model

MESSAGES = [{"role": "user", "content": "zwei Wörter"}]


def output_line(cid, model="m", content="ok", status=200):
    return {"custom_id": cid, "error": None, "response": {"status_code": status, "body": {
        "model": model, "choices": [{"message": {"content": content}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1}}}}


def as_file(*rows):
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_each_request_line_carries_the_live_body():
    lines = [json.loads(x) for x in request_lines("m", [("q1", MESSAGES), (7, MESSAGES)], 8).decode().splitlines()]
    assert [x["custom_id"] for x in lines] == ["q1", "7"]
    assert all(x["method"] == "POST" and x["url"] == "/v1/chat/completions" for x in lines)
    assert lines[0]["body"] == request_body("m", MESSAGES, 8)
    assert "zwei Wörter" in request_lines("m", [("q1", MESSAGES)], 8).decode()  # the prompt's bytes as they are


def test_answers_failures_and_forged_lines_are_told_apart():
    results = Results(["a", "b", "c", "d", 5], "m", secrets=["sk-secretsecret"])
    results.read(as_file(output_line("a"), output_line("b"), output_line("b"), output_line("zz"),
                         output_line("c", model="other"), output_line("5", model="m-2024-07-18")) + b"not json\n",
                 "output file f1")
    results.read(as_file({"custom_id": "d", "response": None,
                          "error": {"code": "batch_expired", "message": "key sk-secretsecret"}}), "error file f2")
    assert sorted(results.answers, key=str) == [5, "a"]
    assert results.answers["a"].choices[0].message.content == "ok"
    assert set(results.failed) == {"b", "c", "d"} and results.failed["d"].startswith("batch_expired")
    notes = " | ".join(results.notes)
    assert "comes twice" in notes and "'zz' is not a question of this batch" in notes
    assert "'other', not 'm'; refused" in notes and "line 7: not a JSON object" in notes
    assert "sk-secretsecret" not in notes


def test_a_snapshot_of_the_asked_model_is_the_same_model():
    assert same_model("gpt-4o-mini", "gpt-4o-mini-2024-07-18") and not same_model("gpt-4o", "gpt-4o-mini")


def test_notes_beyond_five_are_counted():
    results = Results(["a"], "m")
    results.read(as_file(*[output_line(f"x{i}") for i in range(8)]), "output file f")
    shown = results.shown_notes()
    assert len(shown) == 6 and shown[-1] == "... and 3 more"
