"""A real HTTP proxy that records every request body it forwards to an OpenAI-compatible server, for tests
that check what a client sends byte for byte (`bodies`: the raw bytes of each POST, in arrival order)."""
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class RecordingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_url):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port)
        self.bodies, self.lock = [], threading.Lock()
        super().__init__(("127.0.0.1", 0), RecordingHandler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self):
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


class RecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.forward(None)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.bodies.append((self.path, body))
        self.forward(body)

    def forward(self, body):
        connection = http.client.HTTPConnection(*self.server.upstream, timeout=600)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass
