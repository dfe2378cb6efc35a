"""Date normalization: a date written one of six ways ("March 3rd, 2021", "03/04/21 (US)",
"4 Mar 2021", "the fourth of March 2021", ...) -> "2021-03-04".

Every example is generated from a seed, so the task needs no download. Dates run from 1950 to 2049
(two-digit years are unambiguous); every TEST_EVERY-th day is kept for the test splits and never
trained on, so training and test examples never share a date, whatever the seeds.
Bump PROMPT_VERSION whenever the wording or a format changes: stored predictions are keyed by it.
"""
import random
import re
from datetime import date

from slingshot.errors import UserError
from slingshot.tasks.chat import chat, insert_shots

PROMPT_VERSION = "dates-v1"

SYSTEM_PROMPT = (
    "Rewrite the date you are given as YYYY-MM-DD and reply with nothing else. Two-digit years 50-99 "
    "are 1950-1999 and 00-49 are 2000-2049; (US) dates are month/day/year, (EU) dates day/month/year."
)

FIRST_DAY, LAST_DAY = date(1950, 1, 1), date(2049, 12, 31)
TEST_EVERY = 5  # days whose ordinal is a multiple of this belong to the test splits only

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
             "eighteenth", "nineteenth", "twentieth", "twenty-first", "twenty-second", "twenty-third",
             "twenty-fourth", "twenty-fifth", "twenty-sixth", "twenty-seventh", "twenty-eighth",
             "twenty-ninth", "thirtieth", "thirty-first")


def ordinal(n):
    """1 -> 1st, 2 -> 2nd, 11 -> 11th, 23 -> 23rd."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# How a date is written: format name -> renderer. Examples cycle through them in this order.
FORMATS = {
    "long": lambda d: f"{MONTHS[d.month - 1]} {ordinal(d.day)}, {d.year}",
    "us-numeric": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d} (US)",
    "eu-numeric": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d} (EU)",
    "day-month": lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    "words": lambda d: f"the {DAY_WORDS[d.day - 1]} of {MONTHS[d.month - 1]} {d.year}",
    "weekday": lambda d: f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}",
}


def read_date(text):
    """The date a text written in one of FORMATS names (their inverse), or None."""
    month = {m.lower(): i for i, m in enumerate(MONTHS, 1)} | {m[:3].lower(): i for i, m in enumerate(MONTHS, 1)}
    century = lambda yy: (1900 if int(yy) >= 50 else 2000) + int(yy)  # noqa: E731
    patterns = (
        (r"(\w+) (\d+)(?:st|nd|rd|th), (\d{4})", lambda m, d, y: (int(y), month[m.lower()], int(d))),
        (r"(\d\d)/(\d\d)/(\d\d) \(US\)", lambda m, d, y: (century(y), int(m), int(d))),
        (r"(\d\d)/(\d\d)/(\d\d) \(EU\)", lambda d, m, y: (century(y), int(m), int(d))),
        (r"(\d+) (\w{3}) (\d{4})", lambda d, m, y: (int(y), month[m.lower()], int(d))),
        (r"the ([\w-]+) of (\w+) (\d{4})", lambda d, m, y: (int(y), month[m.lower()], DAY_WORDS.index(d) + 1)),
        (r"\w+day, (\d+) (\w+) (\d{4})", lambda d, m, y: (int(y), month[m.lower()], int(d))),
    )
    for pattern, fields in patterns:
        found = re.fullmatch(pattern, text.strip())
        if found:
            try:
                return date(*fields(*found.groups()))
            except (KeyError, ValueError):
                return None
    return None


def is_test_day(day):
    return day.toordinal() % TEST_EVERY == 0


def days(test):
    """Every day of the test pool (test=True) or of the training pool, in calendar order."""
    return [date.fromordinal(o) for o in range(FIRST_DAY.toordinal(), LAST_DAY.toordinal() + 1)
            if (o % TEST_EVERY == 0) == test]


def example(day, form):
    """One example: its id (date and format: two rows share an id only if they share both)."""
    return {"id": f"{day.isoformat()}/{form}", "text": FORMATS[form](day), "format": form,
            "answer": day.isoformat()}


def sample(pool, n, stream):
    """n examples on distinct days of `pool`, drawn by the seed string `stream`; formats in turn."""
    if n > len(pool):
        raise UserError(f"{n} dates asked, but the pool holds only {len(pool)}")
    chosen = random.Random(stream).sample(pool, n)
    names = list(FORMATS)
    return [example(day, names[i % len(names)]) for i, day in enumerate(chosen)]


def build_messages(text, answer=None, shots=()):
    return chat(SYSTEM_PROMPT, text, answer, [(shot["text"], shot["answer"]) for shot in shots])


def with_shots(messages, shots):
    """A test row's messages with worked examples after the system prompt (a prefix shared by every row)."""
    return insert_shots(messages, [(shot["text"], shot["answer"]) for shot in shots])


def few_shot_examples(k, seed=0):
    """k examples from the training pool (never a test day), the same for every model."""
    shots = sample(days(test=False), k, f"dates-shots/{seed}")
    return [{**s, "messages": build_messages(s["text"], s["answer"])} for s in shots]


# Held-out test splits, drawn from the test pool by a seed of their own.
TEST_SPLITS = {
    "test-200": {"size": 200, "seed": 2021, "description": "CPU default: 200 dates, the six formats in turn"},
    "test-1000": {"size": 1000, "seed": 2021, "description": "1,000 dates, the six formats in turn"},
}

RECIPE_DEFAULTS = {
    "source": "local",       # the generator: the only source
    "train_size": 192,       # a count or "all" (every training day once)
    "validation_size": 32,   # further training-pool days, for eval loss
    "seed": 0,               # draws the training and validation days and their formats
    "test_split": "test-200",
}
SOURCES = ("local",)
SIZE_FORMS = {"train_size": ("count", "all"), "validation_size": ("count",)}
EVAL_DEFAULTS = {"max_new_tokens": 16, "shots": 3}

# For `plan`: days in the training pool, and mean tokens per training row (prompt and answer, with the
# SmolLM2 tokenizer's chat template, measured on the CPU recipe's prepared data).
SOURCE_ROWS = len(days(test=False))
TOKENS_PER_ROW = 119


def planned_train_rows(params):
    """Training rows as data prep draws them: from the training pool less the validation days."""
    from slingshot.tasks.sizes import parse_size
    return parse_size(params["train_size"], SOURCE_ROWS - params["validation_size"], "slingshot.train_size",
                      SIZE_FORMS["train_size"], "the training days left after the validation ones")


ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def extract_answer(raw_output):
    """The first non-empty line; the ISO date in it when there is one ("Answer: 2021-03-04." -> 2021-03-04)."""
    line = next((line.strip() for line in raw_output.splitlines() if line.strip()), "")
    found = ISO_DATE.search(line)
    return found.group(0) if found else line.strip("\"'`. ")


METRICS = {"exact_match": "EM"}
BINARY_METRICS = {"exact_match"}  # 0 or 100 per example: tested with exact McNemar
RESCORED_IN_REPORTS = True  # string comparison: every report scores the stored answers again
REFERENCE_BACKEND = None


def score(row, answer):
    return {"exact_match": 100.0 if answer == row["answer"] else 0.0}


CONTAMINATION_CHECKS = "example ids, exact prompts and dates"


def gold(row):
    """A row's date: a test row's answer, else its assistant turn."""
    if "answer" in row:
        return row["answer"]
    return next((m["content"] for m in reversed(row["messages"]) if m["role"] == "assistant"), None)


def contamination_overlap(train_rows, test_rows, affected):
    """Test dates found in training, in any format. Returns (overlap entries, affected ids, extra fields)."""
    trained = {gold(r) for r in train_rows} - {None}
    same_day = [r["id"] for r in test_rows if r["answer"] in trained]
    return {"dates": same_day}, affected | set(same_day), {}


contamination_statement = None  # the generic wording fits


# The results viewer (eval.viewer): the date as written, grouped by format, and the ISO answer.
VIEW_VERDICTS = ("EM",)


def view_example(row):
    return {"question": row["text"], "context": None, "gold": [row["answer"]], "group": row["format"]}


def view_answer(prediction, meta):
    return {"answer": prediction.get("answer"), "verdicts": [prediction["metrics"].get("exact_match")],
            "detail": None}
