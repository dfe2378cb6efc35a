"""OpenAI's chat API, or any OpenAI-compatible server (eval serve, vLLM, llama.cpp, ...).

Requests run on a bounded thread pool. Rate limits (429), server errors (5xx),
timeouts and dropped connections are retried here rather than inside the client,
with exponential backoff, jitter and the server's Retry-After, so every retry is
counted and lands in meta.json. Answers are handed to `on_result` on the calling
thread as each one finishes; if a request fails for good, the answers already
finished are still handed over before the error is raised, so nothing paid for is lost.

The API key is read from the environment, sent only to the server it belongs to,
and never appears in identity(), info(), logs or error messages; nor does a user:password
in the base URL (sent as the server's basic auth, redacted from answers and errors).

A 200 whose body is cut short or is not JSON is retried like a dropped connection. A usage
block with negative or impossible token counts stops the run: a cost is never computed from it.
An answer without usage keeps tokens None (cost unknown), never 0.

With batch=True the questions go through the Batch API instead (eval.backends.openai_batch), each
request line's body built by the same request_body as a live request's.
"""
import base64
import math
import os
import random
import re
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from urllib.parse import unquote, urlsplit, urlunsplit

from eval.backends.base import Backend, Generation, register
from eval.backends.batch_files import request_body
from eval.redact import redact, short_number
from slingshot.errors import UserError, stop_signals

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
NO_KEY_PLACEHOLDER = "no-key"  # the client insists on a key; local servers ignore it
MAX_RETRY_AFTER_S = 120.0
# A request's wait in a self-hosted server's queue counts against its timeout, so a slow CPU
# server needs more than OpenAI; a hung one should still fail in minutes, not an hour
# (--timeout and --max-retries change both).
OPENAI_TIMEOUT_S, SELF_HOSTED_TIMEOUT_S = 60.0, 120.0
DEFAULT_MAX_RETRIES = 4
RETRIABLE_STATUS = {408, 409, 429}  # and every 5xx
# No model's context holds more; a larger count is a broken server, not a bill to pay.
MAX_PROMPT_TOKENS = 10_000_000
MIN_SECRET_CHARS = 4  # a shorter password cannot be redacted without mangling answers


class Interrupted(Exception):
    """The run is stopping (Ctrl-C): a request in flight finishes its attempt but is not retried."""


class BadResponse(Exception):
    """A 200 answer that holds no usable answer (no choices, null content, not JSON): retried."""


class BackendError(UserError):
    """A request failed for good (after retries, or with an error retrying cannot fix)."""


def clean_base_url(url):
    """The base URL without credentials, query or trailing slash: safe to store and print."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--base-url {redact_userinfo(url)!r}: expected http(s)://host[:port]/path")
    host = parts.hostname + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def redact_userinfo(url):
    """The URL with anything before an '@' in its authority replaced, for error messages."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/@]*@", lambda m: (m.group(1) or "") + "***@", url)


def url_secrets(url):
    """What of a URL's user:password may come back in a server's text: the password (as written and
    decoded), user:password, and the basic-auth token the client sends for it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if parts.password is None:
        return []
    user, password = unquote(parts.username or ""), unquote(parts.password)
    pair = f"{user}:{password}"
    token = base64.b64encode(pair.encode()).decode()
    return [s for s in {pair, token, password, parts.password} if len(s) >= MIN_SECRET_CHARS]


def is_openai(base_url):
    return urlsplit(base_url).hostname == "api.openai.com"


@register
class OpenAIBackend(Backend):
    PREFIX, NAME, SPEC = "openai", "openai", "<model name>"
    OPTIONS = {"base_url": "base_url", "concurrency": "concurrency", "timeout": "timeout",
               "max_retries": "max_retries", "api_key_env": "api_key_env", "batch": "batch",
               "finish": "finish", "poll_interval": "poll_interval"}

    @classmethod
    def cost(cls, meta, predictions, prices):
        """Token usage at the price table's prices for the model; wall time x usd_per_hour for a
        model the table does not price, when one was given."""
        from eval.cost import PRICES_ENV, api_model_name, find_price, priced_by_mode
        priced_name, price = find_price(meta.get("model", ""), prices)
        note = (f"no price for {api_model_name(meta.get('model', ''))!r} in the price table; "
                f"add it to a YAML file passed with --prices or ${PRICES_ENV}")
        return priced_by_mode(meta, predictions, (priced_name, price) if price is not None else None, note)

    def __init__(self, model, base_url=None, concurrency=8, timeout=None, max_retries=DEFAULT_MAX_RETRIES,
                 api_key_env=None, backoff_s=1.0, max_backoff_s=60.0, batch=False, finish=None, poll_interval=None):
        """`timeout` is per attempt: 60 s for OpenAI, 120 s for a self-hosted server unless
        given. `api_key_env` names the variable holding the key. OpenAI itself defaults to
        OPENAI_API_KEY; another base URL gets a key only when a variable is named,
        so an OpenAI key is never sent to a third-party server by accident."""
        import openai  # imported here so hf-only installs never need it

        self.model = model
        self.base_url = clean_base_url(base_url or OPENAI_BASE_URL)
        self.spec = f"{self.PREFIX}:{model}"
        self.concurrency = int(concurrency)
        if timeout is None:
            timeout = OPENAI_TIMEOUT_S if is_openai(self.base_url) else SELF_HOSTED_TIMEOUT_S
        self.timeout = float(timeout)
        self.max_retries = DEFAULT_MAX_RETRIES if max_retries is None else int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        if self.concurrency < 1 or self.max_retries < 0 or not (math.isfinite(self.timeout) and self.timeout > 0):
            raise UserError("concurrency >= 1, max_retries >= 0 and a finite timeout > 0 are required")

        if api_key_env is None and is_openai(self.base_url):
            api_key_env = DEFAULT_KEY_ENV
        self._api_key = os.environ.get(api_key_env, "").strip() if api_key_env else ""
        if api_key_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", api_key_env):
            # never echo it: a pasted key instead of a variable's name is the usual cause
            raise BackendError("--api-key-env takes the NAME of an environment variable that holds the key "
                               "(e.g. HOSTED_KEY), not the key itself")
        if self._api_key and not re.fullmatch(r"[\x21-\x7e]+", self._api_key):  # never echo it
            raise BackendError(f"{api_key_env}: the key holds characters an HTTP header cannot carry (spaces, line "
                               f"breaks or non-ASCII letters); copy the key again")
        if api_key_env and not self._api_key:
            raise BackendError(
                f"{api_key_env} is not set: export your API key in {api_key_env} "
                f"to use {self.base_url}")
        self._secrets = sorted({self._api_key, *url_secrets(base_url or "")} - {""}, key=len, reverse=True)
        self._openai = openai
        # base_url is passed as given (it may carry credentials); the clean one is for display.
        self._client = openai.OpenAI(
            api_key=self._api_key or NO_KEY_PLACEHOLDER, base_url=base_url or OPENAI_BASE_URL,
            timeout=self.timeout, max_retries=0)

        self._lock = threading.Lock()
        self.requests = 0
        self.retries = Counter()  # reason -> count: "429", "500", "timeout", "connection", ...
        self.missing_usage = 0
        self.served_models = set()
        self._stopping = threading.Event()
        self.batch = None
        if batch or finish is not None or poll_interval is not None:
            from eval.backends.openai_batch import BatchJob
            self.batch = BatchJob(self, finish=finish, poll_interval=poll_interval, enabled=batch)

    def attach_store(self, store):
        """The store a batch run records its files and batches in (eval.run calls it before generating)."""
        if self.batch is not None:
            self.batch.attach(store)

    def __repr__(self):
        return f"OpenAIBackend({self.model!r}, base_url={self.base_url!r})"

    def identity(self):
        return {"backend": self.NAME, "model": self.model, "base_url": self.base_url,
                "temperature": 0}

    def info(self):
        with self._lock:
            return {
                "backend": self.NAME, "device": "api", "base_url": self.base_url,
                "concurrency": self.concurrency, "timeout_s": self.timeout,
                "max_retries": self.max_retries, "requests": self.requests,
                "retries": sum(self.retries.values()), "retry_reasons": dict(self.retries),
                "missing_usage": self.missing_usage,
                # The snapshot the server actually answered with, e.g. gpt-4o-mini-2024-07-18.
                "served_models": sorted(self.served_models),
                **({"batch": self.batch.summary()} if self.batch is not None and self.batch.store else {}),
            }

    def generate(self, items, max_new_tokens, on_result):
        """Answer every (id, messages), live or (batch=True) through the Batch API."""
        if self.batch is not None:
            return self.batch.generate(items, max_new_tokens, on_result)
        return self.generate_live(items, max_new_tokens, on_result)

    def generate_live(self, items, max_new_tokens, on_result):
        """Answer every (id, messages); call on_result(id, Generation) as each finishes.

        Ctrl-C stops asking: requests in flight finish their attempt (not retried) and their
        answers are handed over, since they are paid for; then KeyboardInterrupt is raised.
        A second Ctrl-C quits at once, keeping only the answers already in."""
        todo = iter(items)
        pending = {}  # future -> id; at most `concurrency`, so a huge split costs no memory
        failure = None
        self._stopping.clear()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai")
        try:
            with ctrl_c_sets(self._stopping):
                while True:
                    while failure is None and not self._stopping.is_set() and len(pending) < self.concurrency:
                        item = next(todo, None)
                        if item is None:
                            break
                        item_id, messages = item
                        pending[pool.submit(self._complete, messages, max_new_tokens)] = item_id
                    if not pending:
                        break
                    done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    failed = deliver(done, pending, on_result)  # always: it empties `pending`
                    failure = failure or failed
        except BaseException:
            self._stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            deliver([f for f in pending if f.done()], pending, on_result)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._stopping.is_set():
            raise KeyboardInterrupt
        if failure is not None:
            raise failure

    def _complete(self, messages, max_new_tokens):
        openai = self._openai
        for attempt in range(self.max_retries + 1):
            with self._lock:
                self.requests += 1
            start = time.perf_counter()
            try:
                response = self._client.chat.completions.create(
                    **request_body(self.model, messages, max_new_tokens))
                latency = time.perf_counter() - start
                return self._generation(response, latency, max_new_tokens)
            except (BadResponse, openai.APIResponseValidationError) as e:
                reason, retry_after, detail = "bad_response", None, self._redact(str(e))[:300]
            except BackendError:  # a ValueError too, but one this backend raised on purpose: not retried
                raise
            except ValueError as e:  # a 200 body cut short, not JSON, not UTF-8, or a number of 5,000 digits
                reason, retry_after = "bad_response", None
                detail = (f"the server answered 200 with a body that is not valid JSON "
                          f"({type(e).__name__}: {self._redact(str(e))[:120]})")
            except openai.APITimeoutError:
                reason, retry_after, detail = "timeout", None, f"no answer within {self.timeout:g}s"
            except openai.APIConnectionError as e:
                reason, retry_after = "connection", None
                detail = f"connection failed ({type(e.__cause__ or e).__name__})"
            except openai.APIStatusError as e:
                status = e.status_code
                detail = f"HTTP {status}: {self._redact(status_message(e))[:300]}"
                if status == 429 and error_code(e) == "insufficient_quota":
                    raise BackendError(f"{self.base_url}: {detail} (out of credit: waiting "
                                       f"will not help)") from None
                if status not in RETRIABLE_STATUS and status < 500:
                    hint = " (check the API key in the environment)" if status in (401, 403) else ""
                    raise BackendError(f"{self.base_url} refused the request: {detail}{hint}") from None
                reason, retry_after = str(status), parse_retry_after(e.response.headers)
            if self._stopping.is_set():
                raise Interrupted(detail)
            if attempt == self.max_retries:
                raise BackendError(
                    f"{self.base_url}: request failed after {attempt + 1} attempts; "
                    f"last error: {detail}") from None
            with self._lock:
                self.retries[reason] += 1
            if self._stopping.wait(self._backoff(attempt, retry_after)):
                raise Interrupted(detail)

    def _backoff(self, attempt, retry_after):
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S)
        # Jitter keeps many threads from retrying in lockstep after a shared outage.
        return random.uniform(0.5, 1.0) * min(self.max_backoff_s, self.backoff_s * 2 ** attempt)

    def _generation(self, response, latency, max_new_tokens):
        text = answer_text(response)
        tokens_in, tokens_out = self._usage(response, max_new_tokens)
        with self._lock:
            if getattr(response, "model", None):
                self.served_models.add(self._redact(response.model)[:200])
            if tokens_in is None:
                self.missing_usage += 1
        return Generation(text=self._redact(text),  # a server that echoes the key must not get it stored
                          tokens_in=tokens_in, tokens_out=tokens_out, latency_s=round(latency, 4))

    def batch_generation(self, response, max_new_tokens):
        """An answer from a batch's output file, checked and redacted as a live one (a batch times no single
        answer: latency 0); BackendError when it holds no answer or impossible usage."""
        try:
            return self._generation(response, 0.0, max_new_tokens)
        except BadResponse as e:
            raise BackendError(f"{self.base_url}: {e}") from None

    def _usage(self, response, max_new_tokens):
        """(prompt tokens, completion tokens), or (None, None) when the server reported no usage;
        BackendError for counts no bill can hold (negative, not whole, beyond any context)."""
        usage = getattr(response, "usage", None)
        counts = (getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))
        if usage is None or None in counts:
            return None, None
        # The server may stop a token or two past max_tokens; twice that is not a rounding slip.
        limits = (MAX_PROMPT_TOKENS, 2 * max_new_tokens + 16)
        for name, count, limit in zip(("prompt_tokens", "completion_tokens"), counts, limits):
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= limit:
                said = self._redact(f"response {getattr(response, 'id', None) or '(no id)'} of model "
                                    f"{getattr(response, 'model', None) or self.model!r}")[:300]
                raise BackendError(
                    f"{self.base_url}: {said} reports usage.{name} = {short_number(count)}; "
                    f"expected a whole number from 0 to {limit:,} (max_tokens was {max_new_tokens}). "
                    f"The server's token accounting is broken: no cost is computed from it; fix the "
                    f"server, then run the same command again to resume")
        return counts

    def _redact(self, text):
        return redact(text, self._secrets)


def ctrl_c_sets(event):
    """While inside, the first Ctrl-C (or SIGTERM, SIGHUP: slingshot.errors.STOP_SIGNALS) sets `event` instead
    of raising wherever the main thread happens to be (perhaps halfway through storing an answer); a second
    one ends the process at once (slingshot.errors.stop_signals)."""
    def on_stop(signum, frame):
        event.set()
        print(f"\nstopping ({signal.Signals(signum).name}): storing the answers in flight (again to quit now)",
              file=sys.stderr)

    return stop_signals(on_stop)


def deliver(futures, pending, on_result):
    """Hand each finished future's answer to on_result, removing it from `pending` once handed
    over (so an interrupt in on_result leaves it pending, to be delivered on the way out);
    returns the first request's failure, if any."""
    failure = None
    for future in futures:
        if future.cancelled() or not future.done():
            pending.pop(future, None)
            continue
        try:
            generation = future.result()
        except Exception as e:  # stop asking, but keep what is already in flight
            failure = failure or e
            pending.pop(future, None)
            continue
        on_result(pending[future], generation)
        pending.pop(future, None)
    return failure


def answer_text(response):
    """The answer of a chat completion; BadResponse when the 200 holds none (never stored as '')."""
    if isinstance(response, (str, bytes)):  # the client hands over a non-JSON body as text
        raise BadResponse(f"the server answered 200 with a body that is not a chat completion: "
                          f"{str(response)[:80]!r}")
    choices = getattr(response, "choices", None)
    if not choices:
        raise BadResponse("the server answered 200 with no choices")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str):
        raise BadResponse(f"the server answered 200 with {type(content).__name__} content, not text")
    return content


def error_fields(error):
    """The server's error object: {"message", "code", ...}, at the top or under "error"."""
    body = error.body if isinstance(error.body, dict) else {}
    inner = body.get("error")
    return inner if isinstance(inner, dict) else body


def error_code(error):
    return error_fields(error).get("code")


def status_message(error):
    message = error_fields(error).get("message") or error.message
    return str(message)  # cut after redaction, so a key across the cut cannot leak in part


def parse_retry_after(headers):
    """Seconds to wait from a Retry-After (or retry-after-ms) header, or None."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after"):
            return max(0.0, float(headers["retry-after"]))
    except ValueError:
        return None  # an HTTP date; fall back to exponential backoff
    return None
