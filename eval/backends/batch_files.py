"""The files of a Batch API run: the request JSONL a batch is made from, and the output and error files
it leaves, read back line by line and never trusted.

A request line:  {"custom_id": "<question id>", "method": "POST", "url": "/v1/chat/completions",
                  "body": <exactly the body a live request sends (request_body)>}
An output line:  {"custom_id", "response": {"status_code": 200, "body": <a chat completion>}, "error": null}
An error line:   {"custom_id", "response": {"status_code": 4xx|5xx, ...} or null, "error": {"code", "message"}}

Each line of a downloaded file is checked: a custom_id the batch did not ask is ignored, a custom_id that
comes twice is refused (neither answer is kept), and an answer from a model other than the one asked (or
a dated snapshot of it) is refused; each with a note naming the file and line. A refused question stays
missing and can be asked again.
"""
import json
import re
from types import SimpleNamespace

from eval.format import one_line
from eval.redact import redact

ENDPOINT = "/v1/chat/completions"
MAX_NOTES = 5  # notes shown per file; the rest are counted


def request_body(model, messages, max_new_tokens):
    """The body of one chat request: a live request sends it (openai_api), a batch's request line carries it."""
    return {"model": model, "messages": messages, "temperature": 0, "max_tokens": max_new_tokens}


def custom_id(item_id):
    return str(item_id)


def request_lines(model, items, max_new_tokens):
    """The JSONL (bytes) of one batch: a request line per (id, messages)."""
    lines = [json.dumps({"custom_id": custom_id(item_id), "method": "POST", "url": ENDPOINT,
                         "body": request_body(model, messages, max_new_tokens)}, ensure_ascii=False)
             for item_id, messages in items]
    return ("\n".join(lines) + "\n").encode("utf-8")


def same_model(asked, answered):
    """The answer is the asked model's: the same name, or a dated snapshot of it (gpt-4o-mini-2024-07-18)."""
    return answered is None or answered == asked or bool(
        re.fullmatch(re.escape(asked) + r"-(\d{4}-\d{2}-\d{2}|\d{4})", str(answered)))


class Results:
    """What a batch's output and error files say about each question it asked."""

    def __init__(self, ids, model, secrets=()):
        self.by_custom_id = {custom_id(i): i for i in ids}
        self.model, self.secrets = model, secrets
        self.answers = {}  # question id -> the chat completion (attributes, as the client's objects)
        self.failed = {}   # question id -> why it has no answer
        self.notes = []
        self.lines = 0     # request lines the files account for (answered or failed)

    def note(self, text):
        self.notes.append(redact(text, self.secrets)[:300])

    def read(self, data, name):
        """Read one downloaded file (bytes); `name` says which in notes."""
        seen = {}
        for lineno, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            row = parse_line(line)
            if row is None:
                self.note(f"{name} line {lineno}: not a JSON object; ignored")
                continue
            cid = row.get("custom_id")
            if not isinstance(cid, str) or cid not in self.by_custom_id:
                self.note(f"{name} line {lineno}: custom_id {str(cid)[:60]!r} is not a question of this batch; "
                          f"ignored")
                continue
            item_id = self.by_custom_id[cid]
            if item_id in seen or item_id in self.answers or item_id in self.failed:
                self.answers.pop(item_id, None)
                self.failed[item_id] = f"custom_id {cid!r} comes twice"
                self.note(f"{name} line {lineno}: custom_id {cid!r} comes twice (also line "
                          f"{seen.get(item_id, '?')}); neither answer is kept")
                continue
            seen[item_id] = lineno
            self.lines += 1
            self.take(item_id, row, f"{name} line {lineno}")

    def take(self, item_id, row, where):
        response = row.get("response") if isinstance(row.get("response"), dict) else {}
        error = row.get("error")
        body = response.get("body")
        if error or response.get("status_code") != 200 or not isinstance(body, dict):
            self.failed[item_id] = redact(error_text(error, response), self.secrets)
            return
        if not same_model(self.model, body.get("model")):
            self.failed[item_id] = redact(f"answered by model {str(body.get('model'))[:80]!r}", self.secrets)
            self.note(f"{where}: answered by model {str(body.get('model'))[:80]!r}, not {self.model!r}; refused")
            return
        self.answers[item_id] = to_object(body)

    def shown_notes(self):
        n_notes = len(self.notes)
        shown = self.notes[:MAX_NOTES] + ([f"... and {n_notes - MAX_NOTES} more"] if n_notes > MAX_NOTES else [])
        return shown


def parse_line(line):
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


def error_text(error, response):
    """A failed line's reason, as the server gave it (status, code, message)."""
    if isinstance(error, dict):
        return one_line(f"{str(error.get('code') or 'error')[:60]}: {str(error.get('message') or '')[:200]}")
    body = response.get("body") if isinstance(response.get("body"), dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    status = response.get("status_code")
    return one_line(f"HTTP {str(status)[:20]}: {str(inner.get('message') or 'no answer')[:200]}")


def to_object(value):
    """A JSON value with attribute access, as openai_api reads a chat completion (answer_text, usage)."""
    if isinstance(value, dict):
        return SimpleNamespace(**{str(k): to_object(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_object(v) for v in value]
    return value
