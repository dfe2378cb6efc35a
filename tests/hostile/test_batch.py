"""`eval run --batch` against a server that lies (tests/helpers/servers.FakeBatchServer, forged): ids that are a
path, a line break or the key echoed back; answers that are not JSON; a refusal that names the key; a
batch.json edited to point elsewhere. Each stops the run with a UserError naming the server or the file,
and the key is in no output and no file of the store."""
import json

import pytest

from eval.backends.openai_api import OpenAIBackend
from eval.backends.openai_batch import BatchError, BatchIncomplete
from eval.run import evaluate
from slingshot.errors import UserError
from tests.helpers import first_squad_questions
from tests.helpers.servers import FakeBatchServer

N = 4
SECRET = "sk-hostile-NeverShowThisKey-0123456789"


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return first_squad_questions(tmp_path_factory.mktemp("data"), N)


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("HOSTILE_KEY", SECRET)
    server = FakeBatchServer()
    yield server
    server.stop()


def run(server, split, results):
    backend = OpenAIBackend("word-model", base_url=server.url, api_key_env="HOSTILE_KEY", batch=True,
                            poll_interval=0.01)
    return evaluate(backend, split, 8, results_dir=results, quiet=True)


def assert_no_key(results, text):
    assert SECRET not in text
    for path in results.rglob("*"):
        assert not path.is_file() or SECRET not in path.read_text(errors="replace"), path


def rename_batches(server, new_id):
    create = server.create_batch

    def renamed(body, authorization):
        old = create(body, authorization)
        with server.lock:
            batch = server.batches.pop(old)
            batch["id"] = new_id
            server.batches[new_id] = batch
        return new_id
    server.create_batch = renamed


@pytest.mark.parametrize("batch_id", ["../files/file-1", "batch-1\nforged", "..", f"batch-{SECRET}", ""])
def test_a_batch_id_that_is_no_id_is_refused_before_it_is_stored_or_polled(server, split, tmp_path, capsys,
                                                                             batch_id):
    rename_batches(server, batch_id)
    with pytest.raises(BatchError, match="the batch id .* is not an id this run can use"):
        run(server, split, tmp_path)
    assert_no_key(tmp_path, capsys.readouterr().err)
    assert not server.requests("GET", "/v1/batches/")  # never put in a URL
    (state,) = tmp_path.rglob("batch.json")
    assert "batch_id" not in json.loads(state.read_text())["batches"][0]


def test_an_answer_that_is_not_json_is_a_user_error_naming_the_call(server, split, tmp_path, capsys):
    handler = server.http.RequestHandlerClass
    get = handler.do_GET

    def broken(self):
        if self.path.startswith("/v1/batches/"):
            data = b'{"id": "batch-1", ' + SECRET.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        return get(self)
    handler.do_GET = broken
    try:
        with pytest.raises(BatchError, match="could not poll the batch: the answer is not valid JSON"):
            run(server, split, tmp_path)
    finally:
        handler.do_GET = get
    assert_no_key(tmp_path, capsys.readouterr().err)


def test_a_model_name_or_error_line_that_echoes_the_key_is_redacted(server, split, tmp_path, capsys):
    def forge(lines):
        lines[0]["response"]["body"]["model"] = SECRET
        lines[1]["error"] = {"code": "server_error", "message": f"rejected for key {SECRET}"}
        return lines
    server.forge = forge
    with pytest.raises(BatchIncomplete):
        run(server, split, tmp_path)
    err = capsys.readouterr().err
    assert "questions without an answer" in err
    assert_no_key(tmp_path, err)


@pytest.mark.parametrize("key, value", [("batch_id", "../../etc/passwd"), ("input_file_id", "file-1\nX"),
                                        ("batch_id", 7)])
def test_a_batch_json_edited_to_point_elsewhere_is_refused_naming_the_key(server, split, tmp_path, key, value):
    server.outcomes = ["failed"]
    with pytest.raises(BatchIncomplete):
        run(server, split, tmp_path)
    (state_path,) = tmp_path.rglob("batch.json")
    state = json.loads(state_path.read_text())
    state["batches"][0].pop("delivered")
    state["batches"][0][key] = value
    state_path.write_text(json.dumps(state))
    with pytest.raises(UserError, match=rf"batch.json: key batches\[0\].{key} is .*not an id the server gave"):
        run(server, split, tmp_path)


def test_an_error_line_with_terminal_escapes_is_shown_on_one_line(server, split, tmp_path, capsys):
    def forge(lines):
        lines[0]["error"] = {"code": "x\x1b[2J", "message": "cleared\x1b]0;title\x07\nforged line"}
        return lines
    server.forge = forge
    with pytest.raises(BatchIncomplete):
        run(server, split, tmp_path)
    err = capsys.readouterr().err
    assert "questions without an answer" in err and "\x1b" not in err and "\nforged line" not in err
