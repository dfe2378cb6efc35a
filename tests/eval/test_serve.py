"""The OpenAI-compatible server: protocol, validation, micro-batching, and the real model behind it."""
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from eval.serve import RequestError, default_served_name, parse_chat_request
from slingshot.layout import ROOT
from eval.backends import Generation
from tests.helpers.servers import WordBackend, start_server, stop_server

MODEL_DIR = ROOT / "models" / "smollm2-135m-instruct"
needs_model = pytest.mark.skipif(
    not (MODEL_DIR / "config.json").exists(),
    reason=f"{MODEL_DIR.relative_to(ROOT)} is missing: run `make model` first")


def call(server, method, path, body=None, raw=None):
    """(status, parsed JSON) of one request to a server."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"} if data is not None else {}
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    status, payload = response.status, json.loads(response.read())
    connection.close()
    return status, payload


def chat(text, **extra):
    return {"model": "word-model", "messages": [{"role": "user", "content": text}], **extra}


def test_a_request_is_parsed_into_messages_and_max_tokens():
    body = chat("hi", max_completion_tokens=7, temperature=0, top_p=1)
    parts = [{"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]
    body["messages"].insert(0, {"role": "system", "content": parts})
    assert parse_chat_request(body, "word-model", 32, 64) == (
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], 7)
    assert parse_chat_request(chat("hi"), "word-model", 32, 64)[1] == 32  # no limit given: the server's default
    with pytest.raises(RequestError) as error:
        parse_chat_request(chat("hi", max_tokens=True), "word-model", 32, 64)  # a bool is not a count
    assert (error.value.status, error.value.param) == (400, "max_tokens")
    assert error.value.body()["error"]["type"] == "invalid_request_error"


def test_the_served_name_is_the_model_folders_plus_the_adapter_runs():
    assert default_served_name("hf:models/smollm2-135m-instruct/") == "smollm2-135m-instruct"
    assert default_served_name("hf:models/m", "runs/squad-lora/") == "m+squad-lora"


@pytest.fixture
def word_server():
    backend = WordBackend(fail_on="explode now")
    server = start_server(backend)
    yield server
    stop_server(server)


def test_models_and_health(word_server):
    status, models = call(word_server, "GET", "/v1/models")
    assert status == 200 and [m["id"] for m in models["data"]] == ["word-model"]
    status, health = call(word_server, "GET", "/health")
    assert status == 200 and health["status"] == "ok" and health["model"] == "word-model"


def test_chat_completion_answer_usage_and_finish_reason(word_server):
    status, reply = call(word_server, "POST", "/v1/chat/completions",
                         chat("one two three four five", max_tokens=3))
    assert status == 200
    assert reply["model"] == "word-model" and reply["object"] == "chat.completion"
    choice = reply["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "five four three"}
    assert choice["finish_reason"] == "length"
    assert reply["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}

    status, reply = call(word_server, "POST", "/v1/chat/completions",
                         chat("short", max_completion_tokens=10))
    assert status == 200 and reply["choices"][0]["finish_reason"] == "stop"
    # Text parts, as newer clients send them, are joined into one message.
    parts = {"model": "word-model", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "a "}, {"type": "text", "text": "b"}]}]}
    status, reply = call(word_server, "POST", "/v1/chat/completions", parts)
    assert status == 200 and reply["choices"][0]["message"]["content"] == "b a"


@pytest.mark.parametrize("body, status, needle", [
    ([1, 2], 400, "JSON object"),
    ({"messages": [{"role": "user", "content": "x"}]}, 400, "'model' is required"),
    (chat("x") | {"model": "gpt-4o"}, 404, "not served here"),
    (chat("x") | {"messages": []}, 400, "'messages' must be a non-empty list"),
    (chat("x") | {"messages": [{"role": "robot", "content": "x"}]}, 400, "messages[0].role"),
    (chat("x") | {"messages": [{"role": "user", "content": 7}]}, 400, "messages[0].content"),
    (chat("x") | {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400,
     "only text parts"),
    (chat("x", stream=True), 400, "streaming is not supported"),
    (chat("x", n=2), 400, "n = 1"),
    (chat("x", temperature=0.7), 400, "greedily"),
    (chat("x", max_tokens=0), 400, "'max_tokens' must be a positive integer"),
    (chat("x", max_tokens="10"), 400, "'max_tokens' must be a positive integer"),
    (chat("x", max_tokens=10**6), 400, "at most"),
    (chat("x", stop=["\n"]), 400, "'stop' is not supported"),
])
def test_bad_requests_get_clear_errors(word_server, body, status, needle):
    got_status, reply = call(word_server, "POST", "/v1/chat/completions", body)
    assert got_status == status
    assert needle in reply["error"]["message"]


def test_malformed_json_and_unknown_paths(word_server):
    status, reply = call(word_server, "POST", "/v1/chat/completions", raw=b'{"model": ')
    assert status == 400 and "not valid JSON" in reply["error"]["message"]
    assert call(word_server, "GET", "/v1/nothing")[0] == 404
    assert call(word_server, "POST", "/v1/completions", chat("x"))[0] == 404


def raw_exchange(server, data, wait_s=2):
    """Send raw bytes on a fresh connection; everything the server answers until it closes or goes quiet (an
    answer comes at once; a connection kept open is read until it has been quiet for wait_s)."""
    with socket.create_connection(server.server_address[:2], timeout=wait_s) as s:
        s.sendall(data)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except TimeoutError:
            pass
    return got.decode("utf-8", "replace")


def post(headers, body):
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers
    return head.encode() + b"\r\n" + body


@pytest.mark.parametrize("headers, body, status, needle", [
    ("Content-Length: -1\r\n", b"", 400, "expected one byte count"),
    ("Content-Length: +2\r\n", b"{}", 400, "expected one byte count"),
    ("Content-Length: 2\r\nContent-Length: 3\r\n", b"{}", 400, "expected one byte count"),
    ("Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n", 411, "Content-Length header is required"),
    ("Content-Length: 40\r\n", b"[" * 20 + b"]" * 20, 400, None),
    ("", b"", 411, "Content-Length header is required"),
])
def test_bodies_the_server_cannot_read_get_a_reason_and_the_connection_closes(word_server, headers, body, status,
                                                                               needle):
    answer = raw_exchange(word_server, post(headers, body))
    assert answer.startswith(f"HTTP/1.1 {status} ") and "Traceback" not in answer, answer[:300]
    assert needle is None or needle in answer
    assert answer.count("HTTP/1.1 ") == 1, "the rest of the stream was read as another request"
    assert call(word_server, "POST", "/v1/chat/completions", chat("still here"))[0] == 200


def test_numbers_past_4300_digits_deep_nesting_and_lone_surrogates_are_400s(word_server):
    for body in ('{"model": "word-model", "messages": [{"role": "user", "content": "x"}], "max_tokens": %s}' % ("9" * 5000),
                 "[" * 100_000 + "]" * 100_000,
                 '{"model": "word-model", "messages": [{"role": "user", "content": "a \\ud800 b"}]}'):
        status, answer = call(word_server, "POST", "/v1/chat/completions", raw=body.encode())
        assert status == 400 and "error" in answer, (status, answer)
    assert call(word_server, "POST", "/v1/chat/completions", chat("still here"))[0] == 200


def test_a_client_that_stops_sending_lets_go_of_its_thread(word_server, monkeypatch):
    from eval.serve import Handler
    monkeypatch.setattr(Handler, "timeout", 1)
    answer = raw_exchange(word_server, post("Content-Length: 100\r\n", b'{"model": '), wait_s=30)
    assert answer.startswith("HTTP/1.1 408 ") and "did not arrive within 1 s" in answer, answer[:300]


def test_backend_failure_is_a_500_and_the_server_keeps_serving(word_server):
    status, reply = call(word_server, "POST", "/v1/chat/completions", chat("explode now"))
    assert status == 500 and "boom" in reply["error"]["message"]
    status, reply = call(word_server, "POST", "/v1/chat/completions", chat("still alive"))
    assert status == 200 and reply["choices"][0]["message"]["content"] == "alive still"


def test_concurrent_requests_share_batches_and_get_their_own_answers():
    backend = WordBackend()
    server = start_server(backend, max_batch=4, batch_wait_s=0.3)
    try:
        texts = [f"first{i} second{i} third{i}" for i in range(10)]
        start = threading.Barrier(len(texts))

        def ask(text):
            start.wait()
            return call(server, "POST", "/v1/chat/completions", chat(text, max_tokens=8))

        with ThreadPoolExecutor(len(texts)) as pool:
            replies = list(pool.map(ask, texts))
    finally:
        stop_server(server)
    for text, (status, reply) in zip(texts, replies):
        assert status == 200
        assert reply["choices"][0]["message"]["content"] == " ".join(text.split()[::-1])
    sizes = [len(batch) for batch in backend.batches]
    assert sum(sizes) == len(texts)
    assert max(sizes) > 1, f"no request shared a batch: {sizes}"
    assert max(sizes) <= 4, f"a batch went over --max-batch: {sizes}"


def test_different_max_tokens_in_one_batch_are_generated_separately():
    backend = WordBackend()
    server = start_server(backend, max_batch=8, batch_wait_s=0.3)
    try:
        with ThreadPoolExecutor(2) as pool:
            long, short = pool.map(lambda n: call(server, "POST", "/v1/chat/completions",
                                                  chat("a b c d e f", max_tokens=n)), [5, 2])
    finally:
        stop_server(server)
    assert long[1]["choices"][0]["message"]["content"] == "f e d c b"
    assert short[1]["choices"][0]["message"]["content"] == "f e"


def test_requests_whose_client_hung_up_are_not_generated():
    backend = WordBackend(delay_s=0.5)
    server = start_server(backend, max_batch=1, batch_wait_s=0)
    try:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(call, server, "POST", "/v1/chat/completions", chat("keeps waiting"))
            time.sleep(0.1)  # the first request now holds the generator
            body = json.dumps(chat("gives up")).encode()
            with socket.create_connection(server.server_address[:2]) as impatient:
                impatient.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Type: application/json\r\n"
                                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                time.sleep(0.1)
            status, reply = first.result()
        assert status == 200 and reply["choices"][0]["message"]["content"] == "waiting keeps"
        deadline = time.monotonic() + 5
        while call(server, "GET", "/health")[1]["abandoned"] < 1:
            assert time.monotonic() < deadline, "the hung-up request was not dropped"
            time.sleep(0.02)
    finally:
        stop_server(server)
    assert backend.batches == [["keeps waiting"]]


@pytest.mark.slow
@needs_model
def test_cli_serves_the_real_model_like_the_backend_answers_directly():
    from eval.backends import make_backend
    from slingshot.tasks.squad import build_messages

    messages = build_messages("The Eiffel Tower was completed in 1889 in Paris.",
                              "When was the Eiffel Tower completed?")
    spec = f"hf:{MODEL_DIR.relative_to(ROOT)}"
    process = subprocess.Popen(
        [sys.executable, "-m", "eval", "serve", "--model", spec, "--port", "0", "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.match(r"serving (\S+) at (http://\S+)", line)
        assert match, f"unexpected first line {line!r}; stderr: {process.stderr.read()[-2000:]}"
        served_name, url = match.groups()
        assert served_name == "smollm2-135m-instruct"

        import openai
        client = openai.OpenAI(base_url=url, api_key="no-key", max_retries=0, timeout=120)
        reply = client.chat.completions.create(model=served_name, messages=messages,
                                               temperature=0, max_tokens=24)
    finally:
        process.terminate()
        process.wait(timeout=30)

    direct = {}
    make_backend(spec).generate([("q", messages)], 24, lambda i, g: direct.__setitem__(i, g))
    assert reply.choices[0].message.content == direct["q"].text
    assert reply.usage.prompt_tokens == direct["q"].tokens_in > 0
    assert reply.usage.completion_tokens == direct["q"].tokens_out > 0
    assert reply.choices[0].finish_reason in ("stop", "length")


class AdapterWordBackend(WordBackend):
    """WordBackend with named adapters: an answer starts with the adapter that made it; records each call's."""

    def __init__(self, names):
        super().__init__()
        self.adapters, self.active, self.calls = {n: {} for n in names}, None, []

    def select_adapter(self, name):
        assert name is None or name in self.adapters
        self.active = name

    def generate(self, items, max_new_tokens, on_result):
        self.calls.append((self.active, [messages[-1]["content"] for _, messages in items]))
        time.sleep(0.05)
        for item_id, messages in items:
            on_result(item_id, Generation(f"{self.active or 'base'}: {messages[-1]['content']}", 1, 1, 0.0))

    def render(self, messages, adapter=None):
        text = f"<{adapter or 'base'}>" + "".join(m["content"] for m in messages)
        return text, [ord(c) for c in text]


def test_named_adapters_are_listed_picked_per_request_and_never_share_a_call():
    backend = AdapterWordBackend(["alpha", "beta"])
    server = start_server(backend, served_name="base-model", max_batch=8, batch_wait_s=0.3,
                          models={"base-model": None, "alpha": "alpha", "beta": "beta"})
    try:
        status, models = call(server, "GET", "/v1/models")
        assert status == 200 and [m["id"] for m in models["data"]] == ["base-model", "alpha", "beta"]
        asks = [(name, f"q{i}") for i in range(3) for name in ("base-model", "alpha", "beta")]
        start = threading.Barrier(len(asks))

        def ask(pair):
            start.wait()
            return call(server, "POST", "/v1/chat/completions",
                        {"model": pair[0], "messages": [{"role": "user", "content": pair[1]}]})

        with ThreadPoolExecutor(len(asks)) as pool:
            replies = list(pool.map(ask, asks))
        status, unknown = call(server, "POST", "/v1/chat/completions", {**chat("x"), "model": "gamma"})
        status_t, tokens = call(server, "POST", "/tokenize", {"model": "beta", "messages": [
            {"role": "user", "content": "hi"}]})
    finally:
        stop_server(server)
    for (name, text), (status_c, reply) in zip(asks, replies):
        assert status_c == 200 and reply["model"] == name
        assert reply["choices"][0]["message"]["content"] == f"{'base' if name == 'base-model' else name}: {text}"
    assert all(len(texts) >= 1 for _, texts in backend.calls)
    assert sum(len(texts) for _, texts in backend.calls) == len(asks)
    assert len(backend.calls) < len(asks), f"no two requests for one adapter shared a call: {backend.calls}"
    assert status == 404 and "'base-model', 'alpha', 'beta'" in unknown["error"]["message"]
    assert status_t == 200 and tokens["prompt"] == "<beta>hi" and tokens["count"] == len("<beta>hi")


def test_a_call_never_mixes_adapters_even_when_one_batch_gathers_them():
    """The batch gathered holds requests for two adapters: each adapter is its own generate call."""
    backend = AdapterWordBackend(["alpha"])
    server = start_server(backend, served_name="base-model", max_batch=8, batch_wait_s=0.5,
                          models={"base-model": None, "alpha": "alpha"})
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda name: call(server, "POST", "/v1/chat/completions",
                                            {"model": name, "messages": [{"role": "user", "content": name}]}),
                          ["alpha", "base-model", "alpha", "base-model"]))
    finally:
        stop_server(server)
    for active, texts in backend.calls:
        assert set(texts) == {"alpha" if active == "alpha" else "base-model"}, backend.calls
