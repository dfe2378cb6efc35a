"""The one redaction every string from a server passes before it is stored or printed: the exact secrets the
client holds (the API key, a password in the base URL), and anything shaped like a key or a bearer token."""
import re

# An OpenAI-style key, and an Authorization header's bearer token (as a server echoing headers writes it).
KEY_SHAPE = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")
BEARER_SHAPE = re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=\-]{8,}")


def redact(text, secrets=()):
    """`text` with each of `secrets` (longest first) and every key- or token-shaped word replaced by ***."""
    text = str(text)
    for secret in sorted(set(secrets) - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return BEARER_SHAPE.sub("Bearer ***", KEY_SHAPE.sub("sk-***", text))


def short_number(value):
    """A number from a server as an error message can show it: a 5,000-digit integer is not printed whole, and
    what is not a number is named by its type only (a server may put anything there, a key included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"a {type(value).__name__}, not a number"
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)
