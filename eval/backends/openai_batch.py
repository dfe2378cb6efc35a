"""OpenAI's Batch API (and servers that copy it): a run's questions as one JSONL of requests, answered
within 24 hours at the batch price (half the list price on OpenAI).

    upload  POST /v1/files (purpose=batch)  the request lines (eval.backends.batch_files)
    create  POST /v1/batches                endpoint /v1/chat/completions, completion_window 24h, metadata
    poll    GET  /v1/batches/{id}           one status line each time it changes, until it ends
    fetch   GET  /v1/files/{id}/content     the output and error files; each answer is stored as a live one

Resume: the store's batch.json (written atomically) records the question ids of each batch before
anything is uploaded, the input file id as soon as the upload answers, and the batch id as soon as the
create answers, so a rerun of the same command polls the recorded batch and never creates a second.
A kill after the create was sent but before its id was written is covered by the batch's metadata
(slingshot_run = the store's key, slingshot_attempt = its number): before creating, the server's batches
are listed and one with that tag is taken up. A recorded input file is reused while the server still has it.

A batch that ends failed, expired or cancelled, or completed with failed lines, leaves questions without an
answer: what it did answer is stored, and the rest are asked live (finish="live", list price) or in a new
batch (finish="batch"); with neither, the run stops, naming both and how many questions are missing.
"""
import json
import re
import sys
import threading
import time

from tqdm import tqdm

from eval.backends.batch_files import ENDPOINT, Results, request_lines
from slingshot.errors import UserError, stop_signals
from slingshot.io import atomic_write_json

STATE_FILE = "batch.json"
TERMINAL = ("completed", "failed", "expired", "cancelled")
FINISH_CHOICES = ("live", "batch")
DEFAULT_POLL_S = 30.0
COMPLETION_WINDOW = "24h"
LIST_LIMIT = 100  # batches per page when looking for a tagged one
LIST_PAGES = 10   # a batch created in the last seconds is on the first page; ten pages is plenty
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")  # ids and statuses the server gives, as OpenAI's


class BatchError(UserError):
    """A Batch API call failed (the message names the server and the call, never the key)."""


class BatchIncomplete(UserError):
    """A batch ended without answering every question, and no --finish choice was given."""


class BatchJob:
    """The batch half of an OpenAIBackend: owns the store's batch.json and the Batch API calls."""

    def __init__(self, backend, finish=None, poll_interval=None, enabled=True):
        if not enabled:
            raise UserError("--finish and --poll-interval apply to --batch runs only")
        if finish is not None and finish not in FINISH_CHOICES:
            raise UserError(f"--finish {finish!r}: choose live or batch")
        self.backend, self.finish = backend, finish
        self.poll_s = DEFAULT_POLL_S if poll_interval is None else float(poll_interval)
        if not self.poll_s > 0:
            raise UserError(f"--poll-interval {poll_interval!r}: need seconds > 0")
        self.store = None
        self.state = {"batches": []}
        # polls, lists and downloads are safe to repeat; a create is sent once (a lost answer is found by its tag)
        self.client = backend._client.with_options(max_retries=3)
        self.create_client = backend._client.with_options(max_retries=0)

    def attach(self, store):
        self.store = store
        self.path = store.folder / STATE_FILE
        if self.path.exists():
            self.state = read_state(self.path, store)
        self.key = store.folder.name.rsplit("-", 1)[-1]

    def save(self):
        atomic_write_json(self.path, self.state)

    def summary(self):
        """What meta.json records of the run's batches: each batch, and the questions a batch answered
        (eval.cost prices those at the batch price)."""
        batches = self.state["batches"]
        return {"batches": [{k: b.get(k) for k in ("attempt", "batch_id", "input_file_id", "output_file_id",
                                                     "error_file_id", "status", "n")} for b in batches],
                "answered": sorted({i for b in batches for i in b.get("ok_ids", [])}, key=str)}

    def generate(self, items, max_new_tokens, on_result):
        if self.store is None:
            raise UserError("a batch run needs its store (eval.run attaches it)")
        pending = list(items)
        batches = self.state["batches"]
        if batches and not batches[-1].get("delivered"):
            pending = self.run_batch(batches[-1], pending, max_new_tokens, on_result)
        elif not batches and pending:
            pending = self.run_batch(self.start(pending), pending, max_new_tokens, on_result)
        if pending:
            self.finish_missing(pending, max_new_tokens, on_result)

    def finish_missing(self, pending, max_new_tokens, on_result):
        last = self.state["batches"][-1]
        ended = f"batch {last.get('batch_id')} ended ({last.get('status')})"
        if self.finish == "live":
            say(f"{ended}; asking its {len(pending)} missing questions live")
            self.backend.generate_live(pending, max_new_tokens, on_result)
            return
        if self.finish == "batch":
            say(f"{ended}; asking its {len(pending)} missing questions in a new batch")
            pending = self.run_batch(self.start(pending), pending, max_new_tokens, on_result)
            if not pending:
                return
            last = self.state["batches"][-1]
            ended = f"batch {last.get('batch_id')} ended ({last.get('status')})"
        raise BatchIncomplete(
            f"{ended}: {len(pending)} questions have no answer ({self.path}); the answers it gave are stored. "
            f"Run the same command again with --finish live (ask them live, at the list price) or "
            f"--finish batch (a new batch, at the batch price)")

    # ---------- one batch: upload, create, poll, fetch ----------

    def start(self, pending):
        """A new batch entry: its questions are recorded before anything is uploaded."""
        entry = {"attempt": len(self.state["batches"]) + 1, "n": len(pending), "ids": [i for i, _ in pending],
                 "status": "uploading"}
        self.state["batches"].append(entry)
        self.save()
        return entry

    def run_batch(self, entry, pending, max_new_tokens, on_result):
        """Create the entry's batch if it has none, wait for it, store its answers; returns what is still missing."""
        if not entry.get("batch_id"):
            self.create(entry, pending, max_new_tokens)
        batch = self.poll(entry)
        results = self.fetch(entry, batch)
        entry["ok_ids"] = [i for i in entry["ids"] if i in results.answers]
        self.save()  # which answers are the batch's is known before any is stored (the cost prices them)
        delivered = self.deliver(results, pending, max_new_tokens, on_result)
        asked = {i for i, _ in pending}  # an answer refused on delivery is not the batch's (it may be asked live)
        entry["ok_ids"] = [i for i in entry["ok_ids"] if i in delivered or i not in asked]
        entry["delivered"] = True
        self.save()
        failed = [results.failed.get(i, "no line in the output or error file") for i, _ in pending
                  if i not in delivered]
        if failed:
            say(self.backend._redact(f"batch {entry['batch_id']}: {len(failed)} questions without an answer "
                                     f"(first: {failed[0]})"))
        return [(i, m) for i, m in pending if i not in delivered]

    def create(self, entry, pending, max_new_tokens):
        tag = {"slingshot_run": self.key, "slingshot_attempt": str(entry["attempt"])}
        found = self.find_tagged(tag)
        if found is None:
            if not (entry.get("input_file_id") and self.file_exists(entry["input_file_id"])):
                wanted = set(entry["ids"])
                lines = request_lines(self.backend.model, [p for p in pending if p[0] in wanted], max_new_tokens)
                uploaded = self.call(lambda: self.client.files.create(
                    file=(f"slingshot-{self.key}-{entry['attempt']}.jsonl", lines, "application/jsonl"),
                    purpose="batch"), "upload the requests")
                entry.update(input_file_id=self.checked(getattr(uploaded, "id", None), "the uploaded file's id"), status="uploaded")
                self.save()
            found = self.call(lambda: self.create_client.batches.create(
                input_file_id=entry["input_file_id"], endpoint=ENDPOINT, completion_window=COMPLETION_WINDOW,
                metadata=tag), "create the batch")
        entry.update(batch_id=self.checked(getattr(found, "id", None), "the batch id"),
                     status=self.checked(getattr(found, "status", None), "the batch's status"))
        self.save()
        say(f"batch {found.id}: {entry['n']} requests (input file {entry['input_file_id']}); recorded in {self.path}")

    def find_tagged(self, tag):
        """A batch the server already holds with this run's tag (its create answered, or was cut off)."""
        try:
            page = self.client.batches.list(limit=LIST_LIMIT)
        except ValueError as e:
            raise self.not_json(e, "list batches") from None
        except self.backend._openai.APIStatusError as e:
            if e.status_code not in (404, 405):
                raise self.failure(e, "list batches") from None
            say(f"{self.backend.base_url} cannot list batches (HTTP {e.status_code}); a batch created by a run "
                f"killed before it recorded the batch id cannot be found there")
            return None
        for _ in range(LIST_PAGES):
            for batch in page.data:
                metadata = getattr(batch, "metadata", None) or {}
                if all(metadata.get(k) == v for k, v in tag.items()):
                    return batch
            if not page.has_next_page():
                return None
            page = self.call(page.get_next_page, "list batches")
        return None

    def file_exists(self, file_id):
        try:
            self.client.files.retrieve(file_id)
            return True
        except self.backend._openai.NotFoundError:
            return False

    def poll(self, entry):
        """The batch once it has ended, with a status line each time its counts change."""
        started, shown = time.monotonic(), None
        while True:
            batch = self.call(lambda: self.client.batches.retrieve(entry["batch_id"]), "poll the batch")
            self.checked(getattr(batch, "status", None), "the batch's status")
            self.checked(getattr(batch, "id", None), "the batch id")
            counts = getattr(batch, "request_counts", None)
            done, failed, total = (getattr(counts, k, None) or 0 for k in ("completed", "failed", "total"))
            line = f"batch {batch.id}: {batch.status}, {done}/{total} completed, {failed} failed"
            if line != shown:
                say(f"{line}, {time.monotonic() - started:.0f} s")
                shown = line
            if entry.get("status") != batch.status:
                entry["status"] = batch.status
                self.save()
            if batch.status in TERMINAL:
                return batch
            time.sleep(self.poll_s)

    def fetch(self, entry, batch):
        """The batch's output and error files, read and checked (batch_files.Results)."""
        results = Results(entry["ids"], self.backend.model, self.backend._secrets)
        for kind in ("output_file_id", "error_file_id"):
            file_id = getattr(batch, kind, None)
            entry[kind] = file_id = file_id and self.checked(file_id, kind)
            if file_id:
                data = self.call(lambda: self.client.files.content(file_id).content, f"download {file_id}")
                results.read(data, f"{kind.split('_')[0]} file {file_id}")
        errors = getattr(getattr(batch, "errors", None), "data", None) or []
        for error in errors[:3]:
            results.note(f"batch {batch.id}: {getattr(error, 'code', None)}: {getattr(error, 'message', '')}")
        for note in results.shown_notes():
            say(note)
        with self.backend._lock:
            self.backend.requests += results.lines
        return results

    def deliver(self, results, pending, max_new_tokens, on_result):
        """Hand each answer over as the live path does (same checks, same redaction); a stop waits for it."""
        delivered, stopping = set(), threading.Event()
        with stop_signals(lambda signum, frame: stopping.set()):
            for item_id, _ in pending:
                response = results.answers.get(item_id)
                if response is None:
                    continue
                try:
                    generation = self.backend.batch_generation(response, max_new_tokens)
                except UserError as e:  # no answer in it, or usage no bill can hold
                    results.failed[item_id] = str(e)
                    say(f"{e} (not stored)")
                    continue
                on_result(item_id, generation)
                delivered.add(item_id)
        if stopping.is_set():
            raise KeyboardInterrupt
        return delivered

    def call(self, request, what):
        """One API call; a failure is a BatchError naming the server and what was asked, key redacted."""
        try:
            return request()
        except self.backend._openai.APIError as e:
            raise self.failure(e, what) from None
        except ValueError as e:  # an answer that is not JSON (json.JSONDecodeError)
            raise self.not_json(e, what) from None

    def not_json(self, error, what):
        return BatchError(self.backend._redact(f"{self.backend.base_url}: could not {what}: the answer is not "
                                               f"valid JSON ({type(error).__name__}: {error})")[:400])

    def checked(self, value, what):
        """An id or status the server gave, before it is stored or put in a URL: OpenAI's are short words
        (batch_abc123, file-xyz); anything else (a path, a line break, the key echoed) is a BatchError."""
        if not isinstance(value, str) or not SAFE_ID.fullmatch(value) or ".." in value or \
                self.backend._redact(value) != value:
            shown = self.backend._redact(repr(value))[:80]
            raise BatchError(f"{self.backend.base_url}: {what} {shown} is not an id this run can use "
                             f"(expected letters, digits, _ - . :); the server's answer is not OpenAI's")
        return value

    def failure(self, error, what):
        status = getattr(error, "status_code", None)
        detail = f"HTTP {status}: {error.message}" if status else f"{type(error).__name__}: {error}"
        return BatchError(self.backend._redact(f"{self.backend.base_url}: could not {what}: {detail}")[:400])


def say(text):
    """A line on stderr that leaves the run's progress bar whole."""
    tqdm.write(text, file=sys.stderr)


def read_state(path, store):
    """batch.json as written, or a UserError naming the file and key."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e}); it records the run's batches: restore it, or delete "
                        f"{store.folder.name} to start again") from None
    batches = state.get("batches") if isinstance(state, dict) else None
    if not isinstance(batches, list) or not all(isinstance(b, dict) and isinstance(b.get("ids"), list)
                                                for b in batches):
        raise UserError(f"{path}: key batches must be a list of batches, each with its question ids (key ids)")
    for n, batch in enumerate(batches):
        for key in ("batch_id", "input_file_id", "output_file_id", "error_file_id"):
            value = batch.get(key)
            if value is not None and not (isinstance(value, str) and SAFE_ID.fullmatch(value) and ".." not in value):
                raise UserError(f"{path}: key batches[{n}].{key} is {str(value)[:60]!r}, not an id the server gave; "
                                f"restore the file, or delete {store.folder.name} to start again")
    return state
