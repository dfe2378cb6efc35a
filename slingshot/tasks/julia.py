"""Julia code generation, scored by the Julia-LLM-Leaderboard test cases.

The prompts are the leaderboard's own: for each (case, prompt template) the system and user
messages that PromptingTools rendered in the stored runs. Training rows are stored conversations
that scored full points; test rows are one prompt per (case, template) of a named split.
Bump PROMPT_VERSION whenever the choice of rendering or the message conversion changes.
"""
from slingshot.errors import DataError, UserError
from slingshot.layout import resolve
from slingshot.tasks.chat import prompt_of, prompt_text, user_messages  # noqa: F401  (data_prep uses task.prompt_of)

PROMPT_VERSION = "julia-leaderboard-v1"

# The leaderboard's five standard templates (stored runs also hold AsIs and two XML variants,
# used by few models; they are left out unless a recipe lists them).
PROMPT_TEMPLATES = ("InJulia", "JuliaExpertAsk", "JuliaExpertCoTTask", "JuliaRecapCoTTask", "JuliaRecapTask")

# PromptingTools message types -> chat roles.
ROLES = {"systemmessage": "system", "usermessage": "user", "aimessage": "assistant"}

# The three cases the Cheater-7B experiment kept out of training: they have (almost) no
# full-score solution to learn from, and they are the hardest of the leaderboard.
HELD_OUT_CASES = ("extract_julia_code", "pig_latinify", "q_and_a_extractor")
# The 14 cases of the carried leaderboard's code_generation tree (a `source:` folder may hold others).
CASES = ("FloatWithUnits", "add_yearmonth", "audi_filter", "clean_column", "count_model_rows", "event_scheduler",
         "ispersonal", "keep_only_names", "timezone_bumper", "weather_data_analyzer", "wrap_string",
         *HELD_OUT_CASES)


def to_chat(conversation):
    """PromptingTools messages (dicts with `_type` and `content`) -> chat `messages`."""
    messages = []
    for i, message in enumerate(conversation):
        kind = message.get("_type")
        if kind not in ROLES:
            raise ValueError(f"message {i}: unknown PromptingTools message type {kind!r}; "
                             f"known: {', '.join(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise ValueError(f"message {i}: 'content' must be a string")
        messages.append({"role": ROLES[kind], "content": message["content"]})
    return messages


def pick_rendering(renderings):
    """The evaluation prompt of one (case, template) from the renderings seen in stored runs.

    renderings: {prompt_text: {"messages": [...], "runs": n, "latest": timestamp}}. The template
    text changed over the leaderboard's life (e.g. the Recap templates' system message in 2024),
    so the most common rendering wins; ties go to the latest timestamp, then to the text itself.
    """
    best = max(renderings.items(), key=lambda kv: (kv[1]["runs"], kv[1]["latest"], kv[0]))
    return best[1]["messages"]


# Held-out test splits: one prompt per (case, template). Cases whose imports the local Julia
# cannot load (DataFrames for three data_analysis cases, unless installed) are left out at
# data-prep time and listed in the manifest, so every test row can be scored.
TEST_SPLITS = {
    "all-cases": {"cases": "all", "templates": PROMPT_TEMPLATES,
                  "description": "every case x the 5 standard templates (70 prompts with DataFrames)"},
    "held-out-3": {"cases": HELD_OUT_CASES, "templates": PROMPT_TEMPLATES,
                   "description": "the 3 cases Cheater-7B never trained on x 5 templates (15 prompts)"},
    "cpu-small": {"cases": ("clean_column", "ispersonal", "keep_only_names", "wrap_string"),
                  "templates": ("InJulia", "JuliaExpertAsk"),
                  "description": "4 utility cases x 2 short templates (8 prompts), for the CPU recipe"},
}

# Keys of a recipe's `slingshot:` block for this task, with their defaults.
RECIPE_DEFAULTS = {
    "source": "local",                  # local | a folder: a leaderboard checkout's code_generation/
    "train_cases": "all",               # list of case names, or "all"
    "top_n_per_case": 50,               # full-score conversations per case, best ranked first
    "train_size": "all",                # cap on training rows (taken round-robin over cases) or "all"
    "validation_size": 28,              # full-score conversations beyond the top N, for eval loss
    "prompt_templates": list(PROMPT_TEMPLATES),  # templates whose conversations may be trained on
    "allow_test_contamination": False,  # must be true when training data covers test cases
    "seed": 0,
    "test_split": "all-cases",
}
SOURCES = ("local", "folder")
SIZE_FORMS = {"train_size": ("count", "all"), "validation_size": ("count",)}
EVAL_DEFAULTS = {"max_new_tokens": 512, "shots": 0}

# Report columns: metric name -> label, the first one primary; every per-example score is 0..100.
METRICS = {"score": "Score"}
SECONDARY_METRICS = ("leaderboard_mode_score",)  # also 0..100, shown beside the score
REPORT_COLUMNS = {
    "group_by": "case",  # the per-case table: the score per test case, seen and unseen in training
    "scoring_modes": {"corrected": ("score", "corrected"),
                      "leaderboard": ("leaderboard_mode_score", "leaderboard mode")},
    "scoring_modes_note": (
        "Corrected mode scores the code as written; leaderboard mode reproduces the leaderboard's "
        "harness, bugs included (a `\"\"\"` anywhere in an answer scores 0 there). Leaderboard records "
        "were scored by that harness only."),
}
BINARY_METRICS = set()
RESCORED_IN_REPORTS = False  # scoring runs code in the sandbox: reports check the stored answers' sha256

# The leaderboard's recorded runs of GPT-4 & co. on the same prompts join every Julia report: the eval
# backend registered under this name writes them (eval/backends/leaderboard.py).
REFERENCE_BACKEND = "leaderboard"

CONTAMINATION_CHECKS = "case names, task statements and exact prompts"

# For `plan`: mean tokens per training row (prompt and solution; measured on the CPU recipe's prepared
# data with the SmolLM2 tokenizer).
TOKENS_PER_ROW = 260


def planned_train_rows(params):
    """Training rows a recipe's parameters ask for: top_n_per_case from each training case (an upper
    bound: a case may have fewer full-score solutions), capped by train_size, as data prep takes them."""
    from slingshot.tasks.sizes import parse_size
    known = CASES if params.get("source", "local") == "local" else None
    cases = case_list(params["train_cases"], known, "slingshot.train_cases")
    top_n = params["top_n_per_case"]
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise DataError(f"slingshot.top_n_per_case: expected a positive count, got {top_n!r}")
    return parse_size(params["train_size"], len(cases) * top_n, "slingshot.train_size", SIZE_FORMS["train_size"],
                      f"the top {top_n} per case")


def _positive_count(value):
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else f"expected an integer >= 1, got {value!r}"


# The Julia keys' checks when a recipe is read: (check, an example value).
RECIPE_VALUE_CHECKS = {"top_n_per_case": (_positive_count, 50)}


def case_list(value, known, key):
    """The distinct case names a recipe lists ('all': every known one), checked against `known` (None:
    cases of a folder source, known only once it is read)."""
    if value == "all":
        if known is None:
            raise DataError(f"{key}: 'all' cases of a folder source are known only once it is read")
        return sorted(known)
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(c, str) for c in value):
        raise DataError(f"{key}: expected a list of case names or 'all', got {value!r}")
    unknown = sorted(set(value) - set(known or value))
    if unknown:
        raise DataError(f"{key}: unknown case(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return sorted(set(value))


def contamination_overlap(train_rows, test_rows, affected):
    """Julia-specific overlap: task statements (the user message) found in training, whatever system
    message they came with, and test cases named in training rows. A test row counts as affected
    when its case is seen at all: a model that trained on a case's solutions recalls them under any
    template. Returns (overlap entries, affected ids, extra result fields)."""
    train_cases = {r.get("case") for r in train_rows}
    train_users = {u for r in train_rows for u in user_messages(r["messages"])}
    statements = [r["id"] for r in test_rows if set(user_messages(r["messages"])) & train_users]
    by_id = {r["id"]: r["case"] for r in test_rows}
    test_cases = sorted(set(by_id.values()))
    seen = {c for c in test_cases if c in train_cases}
    seen |= {by_id[i] for i in affected | set(statements)}
    affected = affected | {i for i, case in by_id.items() if case in seen}
    extra = {"seen_cases": sorted(seen), "unseen_cases": [c for c in test_cases if c not in seen]}
    return {"task_statements": statements, "cases": sorted(seen)}, affected, extra


def contamination_statement(result, names):
    """The Julia wording: which test cases the training data covers."""
    seen, unseen, overlap = result["seen_cases"], result["unseen_cases"], result["overlap"]
    text = (f"Contaminated: the training data covers {len(seen)} of the {len(seen) + len(unseen)} test "
            f"cases ({names(seen)}), which hold {result['n_test_affected']} of the {result['n_test']} test "
            f"prompts; {len(overlap['prompts'])} of those appear in it word for word. Scores on these cases "
            f"measure recall of answers seen in training, not skill on new problems")
    return text + (f"; only the unseen cases ({names(unseen)}) measure that." if unseen else ".")


def few_shot_examples(k, seed=0):
    """Few-shot prompts are defined for SQuAD only: a Julia worked example is a whole program
    for another case, which would leak solutions and dwarf the prompt."""
    if k:
        raise UserError(f"--shots {k}: few-shot prompts are defined for the squad task only; "
                        f"score Julia splits at 0 shots")
    return []


def with_shots(messages, shots):
    return messages


def extract_answer(raw_output):
    """The whole reply: the scorer finds the code blocks in it, as the leaderboard does."""
    return raw_output


SCORE_FIELDS = ("score", "parsed", "executed", "unit_tests_passed", "unit_tests_count",
                "examples_executed", "examples_count", "skipped", "reason", "errors", "forged")


# The results viewer (eval.viewer): each answer's code with its points in both scoring modes.
VIEW_VERDICTS = ("corrected", "leaderboard mode")


def view_example(row):
    """The task statement (the last user message), grouped by case; no passage and no gold code."""
    statement = next((m["content"] for m in reversed(row["messages"]) if m["role"] == "user"), "")
    return {"question": statement, "context": None, "gold": None, "group": row.get("case"),
            "variant": row.get("prompt_label")}


def view_answer(prediction, meta):
    """The whole reply (the code the scorer ran), the points in both modes and what they are made of.
    A leaderboard record holds no code and was scored in leaderboard mode only."""
    m = prediction["metrics"]
    if meta.get("backend") == "leaderboard":
        return {"answer": None, "verdicts": [None, m.get("score")],
                "detail": f"mean of {m.get('n_samples', '?')} recorded samples; no code stored"}
    parts = [f"{step} {'yes' if m[step] else 'no'}" for step in ("parsed", "executed") if step in m]
    for done, count, name in (("unit_tests_passed", "unit_tests_count", "unit tests"),
                              ("examples_executed", "examples_count", "examples")):
        if m.get(count):
            parts.append(f"{name} {m.get(done, 0):g}/{m[count]:g}")
    errors = m.get("errors")
    if errors:
        parts.append("errors: " + (errors if isinstance(errors, str) else "; ".join(map(str, errors)))[:2000])
    return {"answer": prediction.get("answer"), "verdicts": [m.get("score"), m.get("leaderboard_mode_score")],
            "detail": " · ".join(parts)}


def score(row, answer):
    """Leaderboard points (0..100) of one answer, with the parts they are made of.

    Runs the answer's code in the Julia sandbox ("corrected" mode: the leaderboard's steps
    without its quoting bugs). A case whose packages the local Julia lacks comes back as
    {"skipped": True, "reason": ...} with no score, never as 0 points. When Julia, the driver or
    the sandbox cannot start, this raises (ScorerFailure, SandboxUnavailable) and the run stops:
    a broken scorer is never stored as answers scoring 0. The answer's errors are kept."""
    from slingshot.metrics.julia.score import score_answer


    result = score_answer(resolve(row["case_dir"]), answer, mode="corrected")
    metrics = {k: result[k] for k in SCORE_FIELDS if k in result}
    if metrics.get("skipped"):
        metrics.pop("score", None)
    else:  # what the leaderboard's own harness would have given, for the report's comparison
        metrics["leaderboard_mode_score"] = score_answer(resolve(row["case_dir"]), answer, mode="leaderboard")["score"]
    return metrics
