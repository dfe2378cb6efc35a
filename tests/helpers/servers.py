"""Real servers on 127.0.0.1 for tests: the chat server in a thread, and a tiny backend.

WordBackend answers instantly and deterministically, so the HTTP, batching and
retry layers can be tested in milliseconds; tests marked slow serve the real model.
"""
import json
import threading
import time

from eval.backends import Generation
from eval.serve import ChatServer


class WordBackend:
    """Answers with the last user message's words, reversed, cut to max_new_tokens words."""
    spec = "test:words"

    def __init__(self, fail_on=None, delay_s=0.0):
        self.batches = []  # the prompts of each generate call, to observe batching
        self.fail_on = fail_on  # a message text that makes generate raise
        self.delay_s = delay_s  # time each generate call takes, like a real model

    def identity(self):
        return {"backend": "test-words"}

    def info(self):
        return {"backend": "test-words", "device": "cpu"}

    def generate(self, items, max_new_tokens, on_result):
        self.batches.append([messages[-1]["content"] for _, messages in items])
        time.sleep(self.delay_s)
        for item_id, messages in items:
            prompt = messages[-1]["content"]
            if prompt == self.fail_on:
                raise RuntimeError("boom (test backend)")
            words = prompt.split()[::-1][:max_new_tokens]
            tokens_in = sum(len(m["content"].split()) for m in messages)
            on_result(item_id, Generation(" ".join(words), tokens_in, len(words), 0.0))


def start_server(backend, served_name="word-model", **options):
    server = ChatServer(("127.0.0.1", 0), backend, served_name, quiet=True, **options)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def stop_server(server):
    server.shutdown()
    server.server_close()


# ---------- a fake OpenAI Files + Batch API (eval.backends.openai_batch) ----------

def word_answer(messages, max_tokens):
    """WordBackend's answer to one chat request: (text, prompt tokens, completion tokens)."""
    words = messages[-1]["content"].split()[::-1][:max_tokens]
    return " ".join(words), sum(len(m["content"].split()) for m in messages), len(words)


class FakeBatchServer:
    """OpenAI's /v1/files, /v1/batches and /v1/chat/completions on 127.0.0.1, answering every request (a
    batch's lines and live ones) by WordBackend's rule, with usage. `log` records each request it gets:
    {"method", "path", "body"} (an upload's body: its purpose, filename and request lines).

    outcomes: what each created batch does, in order ("complete" when the list runs out): "complete",
    "partial" (every third line fails, in the error file), "failed" (validation error, no output), "expired"
    and "cancelled" (the first half answered, the rest in the error file), "hold" (in progress while
    `hold_polls` is set). polls_to_end: GETs of a batch before it ends. forge: a function given the output
    lines of a batch and returning the lines written. list_status: what GET /v1/batches answers (200: the
    list; 404: a server without it). block_create: an Event a POST /v1/batches waits on after
    it created the batch (answer lost: the client was killed); block_before_create: one it waits on before,
    then answers 503 without creating."""

    def __init__(self, model="word-model", outcomes=()):
        from http.server import ThreadingHTTPServer
        self.model, self.outcomes = model, list(outcomes)
        self.log, self.files, self.batches = [], {}, {}
        self.polls_to_end, self.forge, self.list_status = 2, None, 200
        self.hold_polls = threading.Event()
        self.block_create = self.block_before_create = None
        self.lock = threading.Lock()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _batch_handler(self))
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        for event in (self.block_create, self.block_before_create):
            if event is not None:
                event.set()
        self.http.shutdown()
        self.http.server_close()

    def requests(self, method, path_start):
        return [e for e in self.log if e["method"] == method and e["path"].startswith(path_start)]

    def chat(self, body):
        text, tokens_in, tokens_out = word_answer(body["messages"], body.get("max_tokens") or 16)
        with self.lock:
            n = len(self.log)
        return {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                          "total_tokens": tokens_in + tokens_out}}

    def add_file(self, purpose, filename, data):
        with self.lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0,
                                   "filename": filename, "purpose": purpose, "data": data}
        return file_id

    def create_batch(self, body, authorization):
        with self.lock:
            batch_id = f"batch-{len(self.batches) + 1}"
            outcome = self.outcomes[len(self.batches)] if len(self.batches) < len(self.outcomes) else "complete"
            lines = self.files[body["input_file_id"]]["data"].decode().splitlines()
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "status": "validating",
                "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                "created_at": 0, "metadata": body.get("metadata"), "output_file_id": None, "error_file_id": None,
                "errors": None, "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_outcome": outcome, "_polls": 0, "_auth": authorization}
        return batch_id

    def poll(self, batch_id):
        with self.lock:
            batch = self.batches[batch_id]
            batch["_polls"] += 1
            if batch["status"] in ("completed", "failed", "expired", "cancelled"):
                return batch
            if batch["_outcome"] == "hold" and self.hold_polls.is_set() or batch["_polls"] < self.polls_to_end:
                batch["status"] = "in_progress"
                return batch
        self.end_batch(batch)
        return batch

    def end_batch(self, batch):
        """Answer a batch's lines as its outcome says, and write its output and error files."""
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]]["data"].decode().splitlines()]
        outcome = "cancelled" if batch["status"] == "cancelling" else batch["_outcome"].replace("hold", "complete")
        if outcome == "failed":
            batch.update(status="failed", errors={"object": "list", "data": [{
                "code": "invalid_request", "line": 1,
                "message": f"rejected (request sent with authorization {batch['_auth']})"}]})
            return
        output, errors = [], []
        for i, line in enumerate(lines):
            failed = (outcome == "partial" and i % 3 == 1) or (outcome in ("expired", "cancelled") and i >= len(lines) // 2)
            if failed:
                code = {"partial": "server_error", "expired": "batch_expired"}.get(outcome, "batch_cancelled")
                errors.append({"id": f"req-{i}", "custom_id": line["custom_id"], "response": None,
                               "error": {"code": code, "message": f"request {code.replace('_', ' ')}"}})
            else:
                output.append({"id": f"req-{i}", "custom_id": line["custom_id"], "error": None,
                               "response": {"status_code": 200, "request_id": f"r{i}", "body": self.chat(line["body"])}})
        if self.forge:
            output = self.forge(output)
        as_file = (lambda rows: self.add_file("batch_output", "out.jsonl",
                                              "".join(json.dumps(r) + "\n" for r in rows).encode()))
        batch.update(status={"partial": "completed", "complete": "completed"}.get(outcome, outcome),
                     output_file_id=as_file(output) if output else None, error_file_id=as_file(errors) if errors else None,
                     request_counts={"total": len(lines), "completed": len(output), "failed": len(errors)})

    def public(self, batch):
        return {k: v for k, v in batch.items() if not k.startswith("_")}


def _batch_handler(server):
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, status, body, raw=False):
            data = body if raw else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def record(self, body):
            with server.lock:
                server.log.append({"method": self.command, "path": self.path.split("?")[0], "body": body})

        def do_GET(self):
            path = self.path.split("?")[0]
            self.record(None)
            parts = path.strip("/").split("/")  # v1, files|batches, id, content
            if path == "/v1/batches" and server.list_status != 200:
                return self.send(server.list_status, {"error": {"message": "listing batches is not supported"}})
            if path == "/v1/batches":
                data = [server.public(b) for b in reversed(list(server.batches.values()))]
                return self.send(200, {"object": "list", "data": data, "has_more": False,
                                       "first_id": data[0]["id"] if data else None,
                                       "last_id": data[-1]["id"] if data else None})
            if parts[1:2] == ["batches"] and len(parts) == 3 and parts[2] in server.batches:
                return self.send(200, server.public(server.poll(parts[2])))
            if parts[1:2] == ["files"] and len(parts) >= 3 and parts[2] in server.files:
                file = server.files[parts[2]]
                if parts[3:] == ["content"]:
                    return self.send(200, file["data"], raw=True)
                return self.send(200, {k: v for k, v in file.items() if k != "data"})
            self.send(404, {"error": {"message": f"no such object: {path}", "code": "not_found"}})

        def do_POST(self):
            path = self.path.split("?")[0]
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if path == "/v1/files":
                return self.upload(data)
            body = json.loads(data)
            self.record(body)
            if path == "/v1/chat/completions":
                return self.send(200, server.chat(body))
            if path == "/v1/batches":
                return self.create(body)
            if path.endswith("/cancel") and path.split("/")[3] in server.batches:
                batch = server.batches[path.split("/")[3]]
                batch["status"] = "cancelling"
                return self.send(200, server.public(batch))
            self.send(404, {"error": {"message": f"no such endpoint: POST {path}"}})

        def upload(self, data):
            from email.parser import BytesParser
            from email.policy import default
            message = BytesParser(policy=default).parsebytes(
                b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + data)
            fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
            content = fields["file"].get_payload(decode=True)
            purpose = fields["purpose"].get_content().strip()
            self.record({"purpose": purpose, "filename": fields["file"].get_filename(),
                         "lines": [json.loads(line) for line in content.decode().splitlines()]})
            file_id = server.add_file(purpose, fields["file"].get_filename(), content)
            self.send(200, {k: v for k, v in server.files[file_id].items() if k != "data"})

        def create(self, body):
            if body.get("input_file_id") not in server.files:
                return self.send(400, {"error": {"message": f"no file {body.get('input_file_id')}"}})
            if server.block_before_create is not None:
                server.block_before_create.wait(60)
                return self.send(503, {"error": {"message": "not now"}})
            batch_id = server.create_batch(body, self.headers.get("Authorization"))
            if server.block_create is not None:
                server.block_create.wait(60)
            self.send(200, server.public(server.batches[batch_id]))

    return Handler
