"""Real servers on 127.0.0.1 for tests: the chat server in a thread, and a tiny backend.

WordBackend answers instantly and deterministically, so the HTTP, batching and
retry layers can be tested in milliseconds; tests marked slow serve the real model.
"""
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
