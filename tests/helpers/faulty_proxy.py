"""A real HTTP proxy that breaks chosen chat requests on purpose, for testing clients.

It sits in front of an OpenAI-compatible server and forwards every request, except
that a request whose messages hash is in `faults` gets that list's faults, one per
attempt, before it is let through:

    "429"    Too Many Requests with a Retry-After header (not forwarded)
    "500"    Internal Server Error (not forwarded)
    "500echo" Internal Server Error whose message and X-Echo header quote the Authorization header
    "drop"   forwarded, then the connection is closed halfway through the answer
    "stall"  nothing sent back for `stall_s` seconds, then the connection is closed
    "401"    Unauthorized, echoing the key it was sent, as some servers do (not forwarded)
    "quota"  429 with code insufficient_quota, OpenAI's "out of credit" (not forwarded)
    "slow"   forwarded after `slow_s` seconds, like a busy server
    "no_usage"        forwarded, the answer's `usage` removed
    "negative_usage"  forwarded, the answer's token counts made negative
    "huge"   forwarded, `huge_chars` characters added to the answer (a server ignoring max_tokens)
    "surrogate"       forwarded, the answer holding a lone surrogate (valid JSON, no UTF-8 for it)
    "usage_digits"    forwarded, completion_tokens a 5,000-digit integer
    "truncated"       forwarded, then only the first half of the 200 body sent (whole, as its length)
    "echo"   forwarded, the answer, model, id and system_fingerprint replaced by the Authorization header it
             was sent (decoded too)
             (a server that echoes credentials)

`always` names one fault every request gets when its own list is empty.

Requests whose hash is in `hold` wait until `release()` and are then hung up on,
never forwarded: a test can kill a client at a known point, with exactly the other
questions answered.

Every chat request is logged (hash of its messages, fault, status, times), so a test
can tell which questions were asked, how often, and how long a client waited.
"""
import base64
import http.client
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from slingshot.io import stable_hash

FAULTS = ("429", "500", "500echo", "surrogate", "usage_digits", "drop", "stall", "401", "quota", "slow", "no_usage", "negative_usage", "huge",
          "truncated", "echo")


def messages_hash(messages):
    return stable_hash(messages)


def without_usage(answer, handler):
    answer.pop("usage", None)
    return answer


def negative_usage(answer, handler):
    answer["usage"] = {"prompt_tokens": -100, "completion_tokens": -50, "total_tokens": -150}
    return answer


def huge(answer, handler):
    answer["choices"][0]["message"]["content"] += " x" * (handler.server.huge_chars // 2)
    return answer


def echo_authorization(answer, handler):
    header = handler.headers.get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    decoded = base64.b64decode(token).decode(errors="replace") if scheme == "Basic" else token
    answer["choices"][0]["message"]["content"] = f"you sent {header!r}, that is {decoded!r}"
    answer["model"], answer["id"], answer["system_fingerprint"] = f"model {header}", f"id-{decoded}", header
    return answer


def lone_surrogate(answer, handler):
    answer["choices"][0]["message"]["content"] = "half a pair: \ud800 then the rest"  # valid JSON, not UTF-8
    return answer


def usage_digits(answer, handler):
    answer["usage"]["completion_tokens"] = -424242  # written as 5,000 digits below: json.dumps stops at 4,300
    return json.dumps(answer).replace("-424242", "9" * 5000).encode()


REWRITES = {"no_usage": without_usage, "negative_usage": negative_usage, "huge": huge,
            "echo": echo_authorization, "surrogate": lone_surrogate, "usage_digits": usage_digits}


class FaultyProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_url, faults=None, retry_after_s=1, stall_s=3.0,
                 hold=(), address=("127.0.0.1", 0), always=None, slow_s=0.5, huge_chars=1_000_000):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port or 80)
        self.upstream_prefix = parts.path.rstrip("/")  # e.g. /v1
        self.faults = {h: list(plan) for h, plan in (faults or {}).items()}
        for plan in self.faults.values():
            unknown = set(plan) - set(FAULTS)
            if unknown:
                raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        if always is not None and always not in FAULTS:
            raise ValueError(f"unknown fault {always!r}; known: {FAULTS}")
        self.retry_after_s, self.stall_s, self.slow_s, self.huge_chars = retry_after_s, stall_s, slow_s, huge_chars
        self.always = always
        self.log = []  # one dict per chat request, in arrival order
        self.hold, self.released = set(hold), threading.Event()
        self.lock = threading.Lock()
        super().__init__(address, ProxyHandler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{self.upstream_prefix}"

    def next_fault(self, digest):
        with self.lock:
            plan = self.faults.get(digest)
            return plan.pop(0) if plan else self.always

    def admit(self, digest):
        """True if this request may be forwarded; False for a held one, once released."""
        if digest not in self.hold:
            return True
        self.released.wait()
        return False

    def release(self):
        self.released.set()

    def record(self, entry):
        with self.lock:
            self.log.append(entry)

    def requested_hashes(self, since=0):
        with self.lock:
            return [e["hash"] for e in self.log[since:]]

    def start(self):
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.forward(b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            digest = messages_hash(json.loads(body)["messages"])
        except (ValueError, KeyError, TypeError):
            digest = None  # not a chat request we can name; forwarded untouched
        if digest is None:
            self.forward(body)
            return
        entry = {"hash": digest, "path": self.path, "start": time.monotonic(),
                 "authorization": self.headers.get("Authorization"), "fault": None,
                 "status": None, "end": None}
        self.server.record(entry)  # at arrival, so requests still in flight are seen too
        if not self.server.admit(digest):
            entry.update(fault="held", end=time.monotonic())
            self.hang_up()
            return
        fault = self.server.next_fault(digest)
        entry["fault"] = fault
        if fault == "401":
            key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key}. (injected)"
            self.reply(401, json.dumps({"error": {"message": message}}).encode())
            entry["status"] = 401
        elif fault == "quota":
            self.reply(429, b'{"error": {"message": "You exceeded your current quota (injected)",'
                            b' "code": "insufficient_quota"}}')
            entry["status"] = 429
        elif fault == "429":
            self.reply(429, b'{"error": {"message": "rate limited (injected)"}}',
                       {"Retry-After": str(self.server.retry_after_s)})
            entry["status"] = 429
        elif fault == "500echo":  # a server error that quotes the request's credentials back
            header = self.headers.get("Authorization") or ""
            self.reply(500, json.dumps({"error": {"message": f"upstream said no to {header} (injected)"}}).encode(),
                       {"X-Echo": header})
            entry["status"] = 500
        elif fault == "500":
            self.reply(500, b'{"error": {"message": "server error (injected)"}}')
            entry["status"] = 500
        elif fault == "stall":
            time.sleep(self.server.stall_s)
            self.hang_up()
            entry["status"] = None
        else:
            if fault == "slow":
                time.sleep(self.server.slow_s)
            entry["status"] = self.forward(body, fault)
        entry["end"] = time.monotonic()

    def forward(self, body, fault=None):
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=600)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("content-type", "authorization", "accept")}
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            status, content_type = response.status, response.getheader("Content-Type", "")
        finally:
            upstream.close()
        if status == 200 and fault in REWRITES:
            data = REWRITES[fault](json.loads(data), self)
            data = data if isinstance(data, bytes) else json.dumps(data).encode()
        if fault == "truncated" and status == 200:
            data = data[: len(data) // 2]  # a whole response whose JSON body stops halfway
        if fault == "drop":
            # Promise the whole body, send half, hang up: the client sees a cut connection.
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.hang_up()
            return status
        self.reply(status, data, {"Content-Type": content_type})
        return status

    def reply(self, status, data, headers=None):
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def hang_up(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format, *args):
        pass
