"""What a server sends is redacted before it is stored or printed: the client's exact secrets, longest
first, and anything shaped like an OpenAI key or a bearer token; other text passes unchanged. A huge
number from a server is described, not printed."""
import re

import pytest

from eval.redact import redact, short_number


def test_exact_secrets_are_replaced_longest_first():
    # the shorter secret first would leave "***word" with the rest of the longer one readable
    assert redact("user:hunter2password@host", ["hunter2", "hunter2password"]) == "user:***@host"
    assert redact("hunter2 and hunter2", ["hunter2"]) == "*** and ***"
    assert redact("nothing here", ["", "absent"]) == "nothing here"  # an empty secret is not everywhere


@pytest.mark.parametrize("text, expected", [
    ("key sk-proj-AbC123_xyz-9 echoed", "key sk-*** echoed"),
    ("(sk-abcdef)", "(sk-***)"),
    ("Authorization: Bearer eyJhbGciOi.J9.abc_DEF-123", "Authorization: Bearer ***"),
    ("bearer header: Bearer\tabcdefgh12345678 end", "bearer header: Bearer *** end"),
])
def test_key_and_token_shapes_are_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "basic concepts", "a risk-free task-abcdefgh",  # "sk-" inside a word is not a key
    "sk-abc is too short to be a key", "Bearer of bad news", "Bearer short", "",
])
def test_text_without_secrets_is_unchanged(text):
    assert redact(text) == text


def test_anything_is_redacted_as_its_text():
    assert redact(KeyError("sk-1234567890"), ["nope"]) == "'sk-***'"
    assert redact(12345, ["234"]) == "1***5"


def test_a_5000_digit_integer_is_described_not_printed():
    shown = short_number(10 ** 4999)  # str() of it raises past Python's 4,300-digit limit
    assert shown == "an integer of about 5000 digits"
    assert short_number(-(10 ** 4999)) == shown
    digits = int(re.search(r"\d+", short_number(2 ** 65)).group())
    assert digits == len(str(2 ** 65))


def test_small_values_are_shown_as_python_writes_them_cut_to_40_characters():
    assert short_number(2 ** 64 - 1) == "18446744073709551615"  # 64 bits: still printed
    assert [short_number(v) for v in (0, -7, 1.5)] == ["0", "-7", "1.5"]
    # what is not a number is never echoed: a server may have put the API key there
    assert [short_number(v) for v in (True, None, "k3y-secret")] == ["a bool, not a number", "a NoneType, not a number",
                                                                     "a str, not a number"]
