"""index.html, the report's results viewer: hostile answers stay text, the page stays small, and
in a real browser (headless Chromium, `make browser`) a real eval's page loads offline and filters."""
import json
import random
from html.parser import HTMLParser
from pathlib import Path

import pytest

from eval.report import build_report
from eval.viewer import as_text, rounded, script_json, store_link
from slingshot.io import atomic_write_jsonl, sha256_file
from slingshot.tasks import squad as task
from tests.helpers import run_module, squad_test_rows, write_squad_split

CHROMIUM = Path("/usr/bin/chromium")
# what lets Chromium run as root in a container, and keeps it from calling home
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = ["</script><script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<!-- <script>",
           "</SCRIPT ><b>bold</b>", "\u2028{{data}}&amp;"]


@pytest.fixture(scope="module")
def dev_rows():
    return squad_test_rows("dev-1000")


def write_split(folder, rows, name="dev-1000"):
    return write_squad_split(folder, rows, name)


def write_store(folder, split, rows, label, answer_of, adapter=None):
    """A finished run folder as `eval run` writes it, each answer scored by the task's own scorer."""
    predictions = []
    for row in rows:
        answer = answer_of(row)
        predictions.append({"id": row["id"], "prompt_hash": "h", "raw_output": answer, "answer": answer,
                            "tokens_in": len(row["messages"][-1]["content"]) // 4, "tokens_out": 4,
                            "latency_s": 0.1, "metrics": task.score(row, answer)})
    atomic_write_jsonl(folder / "predictions.jsonl", predictions)
    meta = {"key": folder.name, "label": label, "task": "squad", "split": split.stem,
            "split_sha256": sha256_file(split), "split_path": str(split), "n_expected": len(rows),
            "n_stored": len(rows), "model": "hf:synthetic", "adapter": adapter, "backend": "hf",
            "prompt_version": task.PROMPT_VERSION, "generation": {"max_new_tokens": 32, "temperature": 0},
            "status": "done", "wall_s": 10.0, "usage": {"tokens_in": 1, "tokens_out": 1}, "device": "cpu",
            "usd_per_hour": 0.1}
    (folder / "meta.json").write_text(json.dumps(meta))


def synthetic_report(tmp_path, rows, n_rows, hostile=False):
    """A report over n_rows runs of made-up answers (gold, near misses, passage words, hostile text)."""
    split = write_split(tmp_path, rows)
    for k in range(n_rows):
        rng = random.Random(k)

        def answer_of(row):
            r = rng.random()
            if hostile and r < 0.3:
                return rng.choice(HOSTILE)
            gold = row["answers"][0]
            return gold if r < 0.3 + 0.1 * k else gold + " in it" if r < 0.8 else "the " + gold.split()[0]
        write_store(tmp_path / "results" / f"row{k}", split, rows, f"row {k}", answer_of,
                    adapter="runs/tuned" if k == n_rows - 1 else None)
    out = tmp_path / "report"
    build_report([tmp_path / "results"], out, n_boot=200)
    return out / "index.html"


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.data_block, self._in_data = [], None, False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_data = tag == "script" and ("type", "application/json") in attrs

    def handle_data(self, data):
        if self._in_data:
            self.data_block = (self.data_block or "") + data

    def handle_endtag(self, tag):
        self._in_data = False


def test_the_data_block_holds_no_angle_bracket_and_reads_back_unchanged():
    data = {"answer": "</script><!-- x", "lone": "\ud800 surrogate", "n": [1, 2.5, None]}
    text = script_json(data)
    assert "<" not in text and "\\u003c/script>" in text
    assert json.loads(text) == data
    text.encode("utf-8")  # a lone surrogate is written as an escape, so the page can be written


def test_values_as_the_page_shows_them(tmp_path):
    assert [rounded(v) for v in (12.345, 3, True, float("nan"), "1")] == [12.3, 3.0, None, None, None]
    assert [as_text(v) for v in (None, "x", {"k": "é"}, 3)] == [None, "x", '{"k": "é"}', "3"]
    store = tmp_path / "results" / "a #1 50%" / "predictions.jsonl"
    assert store_link(store, tmp_path / "report") == "../results/a%20%231%2050%25/predictions.jsonl"


def test_hostile_answers_cannot_leave_the_data_block(tmp_path, dev_rows):
    rows = [{**r, "answers": r["answers"] + [HOSTILE[0]]} for r in dev_rows[:30]]
    page = synthetic_report(tmp_path, rows, 3, hostile=True).read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(page)
    assert parser.tags.count("script") == 2 and "img" not in parser.tags and "b" not in parser.tags
    data = json.loads(parser.data_block)
    answers = {a[0] for q in data["questions"] for a in q["a"]}
    assert set(HOSTILE) <= answers  # every hostile answer is in the page, as data
    assert all(HOSTILE[0] in q["g"] for q in data["questions"])
    assert page.lower().count("</script") == 2


def test_page_size_for_1000_questions_and_5_rows(tmp_path, dev_rows):
    assert len(dev_rows) == 1000
    path = synthetic_report(tmp_path, dev_rows, 5)
    size = path.stat().st_size
    print(f"\nindex.html for 1,000 questions x 5 rows: {size / 1e6:.2f} MB")
    parser = Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    data = json.loads(parser.data_block)
    assert len(data["questions"]) == 1000 and all(len(q["a"]) == 5 for q in data["questions"])
    assert len(data["contexts"]) <= 1000 and set(data["plots"]) == {"models", "by_input_tokens", "cost"}
    assert size < 5e6


def test_odd_stored_answers_and_folders_keep_the_page_whole(tmp_path, dev_rows):
    """A lone surrogate in an answer (an API can send one) and a store folder whose name holds '#', '%'
    and a space: the page is written, keeps the answer as text, and links to the right file. A number
    for an answer, or no answer at all, is a damaged store: the report refuses it, naming the line."""
    rows = dev_rows[:6]
    split = write_split(tmp_path, rows)
    folder = tmp_path / "results" / "odd #1 100%"
    write_store(folder, split, rows, "odd", lambda row: row["answers"][0])
    stored = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    stored[1].update(answer="x\ud800y", metrics=task.score(rows[1], "x\ud800y"))  # scored as eval run would
    (folder / "predictions.jsonl").write_text("".join(json.dumps(p) + "\n" for p in stored))
    build_report([tmp_path / "results"], tmp_path / "report", n_boot=50)
    parser = Tags()
    parser.feed((tmp_path / "report" / "index.html").read_text(encoding="utf-8"))
    data = json.loads(parser.data_block)
    answers = {q["id"]: q["a"][0][0] for q in data["questions"]}
    assert answers[rows[1]["id"]] == "x\ud800y"
    link = data["rows"][0]["store"]
    assert link == "../results/odd%20%231%20100%25/predictions.jsonl"
    from urllib.parse import unquote
    assert ((tmp_path / "report") / unquote(link)).resolve() == (folder / "predictions.jsonl").resolve()

    from slingshot.errors import UserError
    stored = (folder / "predictions.jsonl").read_text().splitlines(keepends=True)
    for line, damaged in ((1, 42), (3, None)):
        prediction = json.loads(stored[line - 1])
        prediction["answer"] = damaged
        (folder / "predictions.jsonl").write_text("".join(stored[:line - 1] + [json.dumps(prediction) + "\n"]
                                                           + stored[line:]))
        with pytest.raises(UserError, match=rf"odd #1 100%/predictions.jsonl:{line}: key answer must be the "
                                            rf"answer's text, got {damaged}"):
            build_report([tmp_path / "results"], tmp_path / "report", n_boot=50)


def test_a_metric_outside_0_to_100_is_named(tmp_path, dev_rows):
    from slingshot.errors import UserError

    rows = dev_rows[:4]
    split = write_split(tmp_path, rows)
    folder = tmp_path / "results" / "nan"
    write_store(folder, split, rows, "nan", lambda row: row["answers"][0])
    text = (folder / "predictions.jsonl").read_text().replace('"f1": 100.0', '"f1": NaN', 1)
    (folder / "predictions.jsonl").write_text(text)
    with pytest.raises(UserError, match=r"predictions.jsonl:1: id '.*': key metrics.f1 must be a score from 0 to 100, got nan"):
        build_report([tmp_path / "results"], tmp_path / "report", n_boot=50)


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: run `make browser`")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(tmp_path / "profile", executable_path=str(CHROMIUM),
                                                       headless=True, args=CHROMIUM_FLAGS,
                                                       viewport={"width": 1280, "height": 1400})
        try:
            yield context
        finally:
            context.close()


def open_page(context, path):
    """The page at file://path, and what it did: console errors, requests, dialogs."""
    page = context.new_page()
    seen = {"errors": [], "requests": [], "dialogs": []}
    page.on("console", lambda m: m.type in ("error", "warning") and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("#count", timeout=10_000)
    return page, seen


def shown(page):
    return page.locator("article.q:visible").count()


def test_hostile_answers_render_as_text_in_the_browser(tmp_path, dev_rows, browser):
    rows = dev_rows[:40]
    path = synthetic_report(tmp_path, rows, 3, hostile=True)
    page, seen = open_page(browser, path)
    assert seen == {"errors": [], "requests": [path.resolve().as_uri()], "dialogs": []}
    assert page.locator("img[src=x], b:has-text('bold')").count() == 0
    texts = page.locator("td.answer").all_inner_texts()
    assert any(HOSTILE[0] in t for t in texts) and any(HOSTILE[1] in t for t in texts)
    # "tuned wrong, base right", counted from the stores: base is the report's baseline, or the best
    # row that is not tuned when the baseline is the tuned row itself
    right = {}
    for k in range(3):
        lines = (tmp_path / "results" / f"row{k}" / "predictions.jsonl").read_text().split("\n")
        for line in lines[:-1]:  # not splitlines(): a hostile answer holds U+2028
            p = json.loads(line)
            right.setdefault(p["id"], {})[f"row {k}"] = p["metrics"]["exact_match"] == 100
    models = json.loads((path.parent / "report.json").read_text())["models"]
    baseline = next(m for m in models if m["is_baseline"])
    base = baseline["name"] if not baseline["adapter"] else next(m["name"] for m in models if not m["adapter"])
    regressions = sum(r[base] and not r["row 2"] for r in right.values())
    assert 0 < regressions < len(rows)
    page.check("#regress")
    assert shown(page) == regressions
    assert seen["errors"] == [] and seen["dialogs"] == []


def julia_report(tmp_path):
    """A Julia report: a local model's code, scored in both modes, beside a leaderboard record."""
    rows = [{"id": f"{case}/{template}", "case": case, "prompt_label": template, "case_dir": "x",
             "messages": [{"role": "system", "content": "Act as a helpful AI assistant"},
                          {"role": "user", "content": f"In Julia, write a function `{case}`."}]}
            for case in ("clean_column", "wrap_string") for template in ("InJulia", "JuliaExpertAsk")]
    split = tmp_path / "data" / "julia" / "test" / "cpu-small.jsonl"
    atomic_write_jsonl(split, rows)
    stores = {"tuned": [], "leaderboard": []}
    for k, row in enumerate(rows):
        code = f'function {row["case"]}(x)\n    """{k}"""\n    x\nend'
        stores["tuned"].append({"id": row["id"], "answer": f"```julia\n{code}\n```", "raw_output": code,
                                "case": row["case"], "tokens_in": 50, "tokens_out": 20, "latency_s": 1.0,
                                "metrics": {"score": 100.0 * (k % 2), "leaderboard_mode_score": 0.0, "parsed": True,
                                            "executed": bool(k % 2), "unit_tests_passed": k % 2,
                                            "unit_tests_count": 1, "errors": ["UndefVarError: `y` not defined"]}})
        stores["leaderboard"].append({"id": row["id"], "case": row["case"], "tokens_in": 50, "tokens_out": 20,
                                      "metrics": {"score": 25.0 * k, "n_samples": 3}})
    for name, predictions in stores.items():
        atomic_write_jsonl(tmp_path / "results" / name / "predictions.jsonl", predictions)
        (tmp_path / "results" / name / "meta.json").write_text(json.dumps({
            "label": name, "task": "julia", "split": "cpu-small", "split_sha256": sha256_file(split),
            "split_path": str(split), "status": "done", "backend": name if name == "leaderboard" else "hf",
            "adapter": "runs/tuned" if name == "tuned" else None, "model": "hf:x", "wall_s": 4.0,
            **({"n_samples": 12, "recorded": {"first": "2024-03-01", "last": "2024-06-01", "n_same_prompt": 12},
                "harness": {"before_20240201": 0, "before_20240812": 12}} if name == "leaderboard" else {})}))
    build_report([tmp_path / "results"], tmp_path / "report", baseline="leaderboard", n_boot=200)
    return tmp_path / "report" / "index.html"


def test_julia_page_shows_code_and_both_scoring_modes(tmp_path):
    parser = Tags()
    parser.feed(julia_report(tmp_path).read_text(encoding="utf-8"))
    data = json.loads(parser.data_block)
    assert data["verdicts"] == ["corrected", "leaderboard mode"] and [r["name"] for r in data["rows"]] == [
        "tuned", "leaderboard"]
    first = data["questions"][1]
    assert (first["grp"], first["var"], first["q"]) == ("clean_column", "JuliaExpertAsk",
                                                       "In Julia, write a function `clean_column`.")
    code, verdicts, detail, right = first["a"][0]
    assert code.startswith("```julia\nfunction clean_column") and verdicts == [100.0, 0.0] and right
    assert "unit tests 1/1" in detail and "UndefVarError" in detail
    code, verdicts, detail, right = first["a"][1]  # the leaderboard record: no code, leaderboard mode only
    assert code is None and verdicts == [None, 25.0] and "3 recorded samples" in detail and not right


def test_julia_page_filters_by_case_in_the_browser(tmp_path, browser):
    page, seen = open_page(browser, julia_report(tmp_path))
    assert shown(page) == 4 and page.locator("td.answer pre").count() == 4
    page.select_option("#group", label="wrap_string")
    assert shown(page) == 2
    assert "case wrap_string · InJulia" in page.locator("article.q:visible .meta").all_inner_texts()[0]
    page.check("#regress")  # tuned below full marks where the leaderboard record scored 100: none
    assert shown(page) == 0
    assert seen["errors"] == [] and len(seen["requests"]) == 1


@pytest.mark.slow
def test_real_eval_page_in_chromium(tmp_path, model_dir, dev_rows, browser):
    """The embedded base model, 0-shot and 3-shot, on 12 questions; the report's page in Chromium."""
    n = 12
    split = write_split(tmp_path, dev_rows, "dev-1000")
    results, report = tmp_path / "results", tmp_path / "report"
    for shots in (0, 3):
        run_module("eval", "run", "--model", "hf:models/smollm2-135m-instruct", "--split", split, "--limit", n,
                   "--shots", shots, "--label", f"smollm2-135m-instruct (base, {shots}-shot)",
                   "--results-dir", results, check=True, timeout=600,
                   env={"SLINGSHOT_RESULTS_DIR": str(results)})
    run_module("eval", "report", results, "--out", report, check=True, env={"SLINGSHOT_RESULTS_DIR": str(results)})
    page_file = report / "index.html"
    print(f"\nindex.html for {n} questions x 2 rows: {page_file.stat().st_size / 1e3:.0f} kB")

    right = {}
    for store in sorted(results.rglob("predictions.jsonl")):
        for line in store.read_text().splitlines():
            p = json.loads(line)
            right.setdefault(p["id"], set()).add(p["metrics"]["exact_match"] == 100)
    assert len(right) == n
    disagree = sum(len(r) > 1 for r in right.values())

    page, seen = open_page(browser, page_file)
    assert seen["errors"] == [] and seen["requests"] == [page_file.resolve().as_uri()]
    assert page.locator("article.q").count() == shown(page) == n
    assert page.locator(".headline tr").count() == 3 and page.locator(".plots img").count() == 3
    for href in set(page.locator("td.row a").evaluate_all("links => links.map(a => a.getAttribute('href'))")):
        assert (report / href).resolve().is_file() and href.endswith("predictions.jsonl")
    page.check("#disagree")
    assert shown(page) == disagree
    assert page.locator("#count").inner_text() == f"{disagree} of {n} questions shown"
    page.uncheck("#disagree")
    first = json.loads(split.read_text().splitlines()[0])["id"]
    page.fill("#search", first)
    assert shown(page) == 1
    page.fill("#search", "no such words anywhere xyzzy")
    assert shown(page) == 0
    page.fill("#search", "")
    assert shown(page) == n
    page.screenshot(path=tmp_path / "viewer.png", full_page=False)
    assert seen["errors"] == [] and seen["dialogs"] == [] and len(seen["requests"]) == 1


def tuned_report(tmp_path, dev_rows):
    """A report of a base row and a tuned row whose run folder records how it was trained."""
    from tests.helpers import write_recipe
    run = tmp_path / "runs" / "tuned"
    run.mkdir(parents=True)
    write_recipe(run, edit=lambda c: c.update(lora_r=16, lora_alpha=32, num_epochs=2, base_model=HOSTILE[0]))
    (run / "train_summary.json").write_text(json.dumps({"train_rows": 128}))
    split = write_split(tmp_path, dev_rows[:20])
    write_store(tmp_path / "results" / "base", split, dev_rows[:20], "base", lambda row: "no")
    write_store(tmp_path / "results" / "tuned", split, dev_rows[:20], "tuned", lambda row: row["answers"][0],
                adapter=str(run))
    build_report([tmp_path / "results"], tmp_path / "report", n_boot=200)
    return tmp_path / "report" / "index.html"


def test_the_page_names_what_each_tuned_row_was_trained_with(tmp_path, dev_rows):
    """The tuned row's rank, alpha, rows, epochs and base model, from its run folder's record, reach the page's
    data as text (a hostile base model name included) and nothing is said of untuned rows."""
    parser = Tags()
    page = tuned_report(tmp_path, dev_rows).read_text(encoding="utf-8")
    parser.feed(page)
    rows = {r["name"]: r for r in json.loads(parser.data_block)["rows"]}
    assert rows["base"]["trained"] is None
    assert rows["tuned"]["trained"] == f"LoRA rank 16, alpha 32; 128 training rows, 2 epochs; base {HOSTILE[0]}"
    assert parser.tags.count("script") == 2 and page.lower().count("</script") == 2


def test_the_trained_settings_show_under_the_headline_in_the_browser(tmp_path, dev_rows, browser):
    page, seen = open_page(browser, tuned_report(tmp_path, dev_rows))
    listed = page.locator("ul.trained li").all_inner_texts()
    assert listed == [f"tuned: LoRA rank 16, alpha 32; 128 training rows, 2 epochs; base {HOSTILE[0]}"]
    assert page.locator("span.tag[title^='LoRA rank 16']").count() == 20  # the tuned tag of every answer
    assert seen["errors"] == [] and seen["dialogs"] == []
