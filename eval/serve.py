"""Serve a local model (and a tuned LoRA adapter) behind an OpenAI-compatible HTTP API.

    python -m eval serve --model hf:models/smollm2-135m-instruct [--adapter runs/<run>] \
        --host 127.0.0.1 --port 8000
    python -m eval serve --model hf:... --adapter a=runs/<a> --adapter b=runs/<b>   (many adapters)

    POST /v1/chat/completions   non-streaming, greedy; answer, finish_reason and token usage
    GET  /v1/models             the models served here: the one model, or the base and each named adapter
    POST /tokenize              vLLM's: {"model", "messages"} -> the prompt's token ids (and, here, its text)
    GET  /health                liveness, queue length and batching counters

Requests that arrive together are gathered for a few milliseconds into one
backend.generate call, so concurrent clients share a batch instead of queuing
one by one. With named adapters a request's "model" picks the base or one adapter, and a
batch only ever holds requests for one of them (eval/serving.py builds this server's and
vLLM's command lines for `make serve`). Any OpenAI client (and `python -m eval run --model openai:<name>
--base-url http://host:port/v1`) can talk to it.
"""
import json
import queue
import re
import select
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


ROLES = ("system", "user", "assistant")
MAX_BODY_BYTES = 4 << 20
READ_TIMEOUT_S = 60


class RequestError(Exception):
    """A request this server will not answer; becomes an OpenAI-style error response."""

    def __init__(self, status, message, param=None, code=None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self):
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param,
                          "code": self.code}}


def message_text(content, where):
    """A message's text: a string, or a list of {"type": "text", "text": ...} parts; valid Unicode."""
    if isinstance(content, list):
        for j, part in enumerate(content):
            if not (isinstance(part, dict) and part.get("type") == "text"
                    and isinstance(part.get("text"), str)):
                raise RequestError(400, f"{where}.content[{j}]: only text parts are supported",
                                   param=f"{where}.content")
        content = "".join(part["text"] for part in content)
    if not isinstance(content, str):
        raise RequestError(400, f"{where}.content must be a string", param=f"{where}.content")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, f"{where}.content is not valid Unicode (a lone surrogate)",
                           param=f"{where}.content") from None
    return content


def parse_chat_request(body, served_name, default_max_tokens, max_tokens_limit):
    """Validate a chat completion request; returns (messages, max_tokens). `served_name`: the one name
    served, or a collection of them (the base and its named adapters)."""
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    if "model" not in body:
        raise RequestError(400, "'model' is required", param="model")
    names = [served_name] if isinstance(served_name, str) else list(served_name)
    if not isinstance(body["model"], str) or body["model"] not in names:
        serves = repr(names[0]) if len(names) == 1 else ", ".join(repr(n) for n in names)
        raise RequestError(404, f"model {body['model']!r} is not served here; "
                                f"this server serves {serves}",
                           param="model", code="model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty list", param="messages")
    clean = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise RequestError(400, f"{where} must be an object", param=where)
        if message.get("role") not in ROLES:
            raise RequestError(400, f"{where}.role must be one of {', '.join(ROLES)}, "
                                    f"got {message.get('role')!r}", param=f"{where}.role")
        clean.append({"role": message["role"], "content": message_text(message.get("content"), where)})

    # This server decodes greedily, one answer per request: refuse what it cannot honour.
    if body.get("stream"):
        raise RequestError(400, "streaming is not supported; send stream: false", param="stream")
    if body.get("n", 1) != 1:
        raise RequestError(400, "only n = 1 is supported", param="n")
    if body.get("temperature") not in (None, 0):
        raise RequestError(400, "this server decodes greedily: temperature must be 0 or absent",
                           param="temperature")
    if body.get("top_p") not in (None, 1):
        raise RequestError(400, "top_p must be 1 or absent", param="top_p")
    for unsupported in ("stop", "tools", "logprobs"):
        if body.get(unsupported):
            raise RequestError(400, f"'{unsupported}' is not supported", param=unsupported)

    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = body.get(key)
    if max_tokens is None:
        max_tokens = default_max_tokens
    elif isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError(400, f"'{key}' must be a positive integer", param=key)
    elif max_tokens > max_tokens_limit:
        raise RequestError(400, f"'{key}' is {max_tokens}; this server allows at most "
                                f"{max_tokens_limit}", param=key)
    return clean, max_tokens


class Pending:
    """One request waiting for its share of a batch."""

    def __init__(self, messages, max_tokens, connection=None, adapter=None):
        self.messages, self.max_tokens, self.connection = messages, max_tokens, connection
        self.adapter = adapter  # the named adapter it asked for (None: the base, or the one model)
        self.done = threading.Event()
        self.generation = self.error = None

    def client_gone(self):
        """True if the client hung up while waiting (it timed out): no use answering it."""
        if self.connection is None:
            return False
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


class MicroBatcher:
    """Gathers requests for up to `wait_s` (or `max_batch` of them) into one generate call.

    One thread owns the backend, so the backend never sees two calls at once.
    """

    def __init__(self, backend, max_batch=8, wait_s=0.01):
        self.backend, self.max_batch, self.wait_s = backend, max_batch, wait_s
        self.queue = queue.Queue()
        self.batches = self.requests = self.largest_batch = self.abandoned = 0
        threading.Thread(target=self._loop, name="micro-batcher", daemon=True).start()

    def submit(self, messages, max_tokens, connection=None, adapter=None):
        """Blocks until the request is answered; returns its Generation or raises."""
        pending = Pending(messages, max_tokens, connection, adapter)
        self.queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.generation

    def _gather(self):
        batch = [self.queue.get()]
        deadline = time.monotonic() + self.wait_s
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                batch.append(self.queue.get(timeout=left) if left > 0 else self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _loop(self):
        while True:
            batch = []
            for pending in self._gather():
                if pending.client_gone():
                    self.abandoned += 1
                    pending.error = RequestError(499, "client closed the connection")
                    pending.done.set()
                else:
                    batch.append(pending)
            if not batch:
                continue
            self.batches += 1
            self.requests += len(batch)
            self.largest_batch = max(self.largest_batch, len(batch))
            # generate takes one max_new_tokens and one adapter, so each distinct pair is its own call:
            # a call never mixes adapters.
            by_call = {}
            for pending in batch:
                by_call.setdefault((pending.adapter, pending.max_tokens), []).append(pending)
            for (adapter, max_tokens), group in by_call.items():
                self._run(group, max_tokens, adapter)

    def _run(self, group, max_tokens, adapter=None):
        def on_result(index, generation):
            group[index].generation = generation
            group[index].done.set()

        try:
            if getattr(self.backend, "adapters", None):
                self.backend.select_adapter(adapter)
            self.backend.generate([(i, p.messages) for i, p in enumerate(group)], max_tokens, on_result)
        except Exception as e:  # answer every waiting client instead of leaving it hanging
            error = RequestError(500, f"generation failed: {type(e).__name__}: {e}")
        else:
            error = RequestError(500, "generation returned no answer for this request")
        for pending in group:
            if not pending.done.is_set():
                pending.error = error
                pending.done.set()

    def stats(self):
        return {"queued": self.queue.qsize(), "batches": self.batches,
                "requests": self.requests, "largest_batch": self.largest_batch,
                "abandoned": self.abandoned}


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, backend, served_name, max_batch=8, batch_wait_s=0.01,
                 default_max_tokens=256, max_tokens_limit=2048, quiet=False, models=None):
        """`models`: {served name: adapter name or None (the base)} for a backend with named adapters;
        by default `served_name` alone, the backend as loaded."""
        self.backend, self.served_name = backend, served_name
        self.models = dict(models) if models else {served_name: None}
        self.default_max_tokens, self.max_tokens_limit = default_max_tokens, max_tokens_limit
        self.quiet = quiet
        self.created = int(time.time())
        self.batcher = MicroBatcher(backend, max_batch=max_batch, wait_s=batch_wait_s)
        super().__init__(address, Handler)

    def root(self, name):
        """What a served name is loaded from, as vLLM's /v1/models says it (its `root`): the base model as given,
        or the adapter's run folder; None where the backend does not say. Clients check it (eval.serving)."""
        adapter = self.models.get(name)
        if adapter is None:
            return getattr(self.backend, "model_name", None)
        path = (getattr(self.backend, "adapters", None) or {}).get(adapter, {}).get("path")
        return str(path) if path else None

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection per thread
    timeout = READ_TIMEOUT_S  # a client that stops sending (headers or body) lets go of its thread

    def do_GET(self):
        server = self.server
        if self.path == "/health":
            self.send_json(200, {"status": "ok", "model": server.served_name, "models": list(server.models),
                                 **server.batcher.stats()})
        elif self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{
                "id": name, "object": "model", "created": server.created, "owned_by": "slingshot",
                **({"root": server.root(name)} if server.root(name) else {})} for name in server.models]})
        else:
            self.send_error_json(RequestError(404, f"no such endpoint: GET {self.path}"))

    def do_POST(self):
        if self.path == "/tokenize":
            self.tokenize()
            return
        if self.path != "/v1/chat/completions":
            self.send_error_json(RequestError(404, f"no such endpoint: POST {self.path}"))
            return
        try:
            body = self.read_json()
            server = self.server
            messages, max_tokens = parse_chat_request(
                body, list(server.models), server.default_max_tokens, server.max_tokens_limit)
            generation = server.batcher.submit(messages, max_tokens, self.connection, server.models[body["model"]])
        except RequestError as e:
            self.send_error_json(e)
            return
        finish = "length" if generation.tokens_out >= max_tokens else "stop"
        self.send_json(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": generation.text}}],
            "usage": {"prompt_tokens": generation.tokens_in,
                      "completion_tokens": generation.tokens_out,
                      "total_tokens": generation.tokens_in + generation.tokens_out},
        })

    def tokenize(self):
        """vLLM's /tokenize for chat messages: the token ids the model is given for them (the chat template of
        the model or adapter asked for), and, beyond vLLM's answer, the prompt text itself."""
        server = self.server
        render = getattr(server.backend, "render", None)
        try:
            body = self.read_json()
            messages, _ = parse_chat_request(body, list(server.models), 1, server.max_tokens_limit)
            if render is None:
                raise RequestError(404, "this backend does not tokenize")
            try:
                text, tokens = render(messages, server.models[body["model"]])
            except Exception as e:  # a template that fails on these messages: an answer, not a dropped connection
                raise RequestError(500, f"tokenize failed: {type(e).__name__}: {e}") from None
        except RequestError as e:
            self.send_error_json(e)
            return
        self.send_json(200, {"count": len(tokens), "tokens": tokens, "prompt": text})

    def read_json(self):
        lengths = set(self.headers.get_all("Content-Length") or [])
        if len(lengths) != 1 or not re.fullmatch(r"[0-9]{1,15}", next(iter(lengths)).strip()):
            self.close_connection = True  # no body length to trust: the rest of the stream is unreadable
            if not lengths:
                raise RequestError(411, "a Content-Length header is required (chunked bodies are not read)")
            raise RequestError(400, f"Content-Length {', '.join(sorted(lengths))!r}: expected one byte count >= 0")
        length = int(next(iter(lengths)))
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would poison a kept-alive connection
            raise RequestError(413, f"request body is {length} bytes; the limit is {MAX_BODY_BYTES}")
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise RequestError(408, f"the request body did not arrive within {self.timeout} s") from None
        if len(raw) < length:
            self.close_connection = True
            raise RequestError(400, f"the request body ended after {len(raw)} of {length} bytes")
        try:
            return json.loads(raw)
        except RecursionError:
            raise RequestError(400, "request body is nested too deeply to read") from None
        except ValueError as e:  # not JSON, not UTF-8, or a number of more than 4,300 digits
            raise RequestError(400, f"request body is not valid JSON: {str(e)[:200]}") from None

    def send_json(self, status, obj):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace")  # a model may emit a lone surrogate
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting

    def send_error_json(self, error):
        self.send_json(error.status, error.body())

    def log_message(self, format, *args):
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def default_served_name(spec, adapter=None):
    """The model name clients ask for: the model folder's name, plus the adapter run's."""
    name = Path(spec.partition(":")[2].rstrip("/")).name
    return f"{name}+{Path(adapter.rstrip('/')).name}" if adapter else name
