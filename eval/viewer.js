"use strict";
// Renders the report's data block. Every string from the data goes in as a text node (textContent),
// never as HTML: model answers are hostile.
const D = JSON.parse(document.getElementById("data").textContent);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v;
    else if (k === "cls") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function verdictCell(value, label) {
  if (value == null) return el("td", { cls: "verdict none", text: `${label} –` });
  const cls = value >= 100 ? "right" : value <= 0 ? "wrong" : "partial";
  const shown = value >= 100 ? "✓" : value <= 0 ? "✗" : String(value);
  return el("td", { cls: `verdict ${cls}`, title: `${label} ${value}`, text: `${label} ${shown}` });
}

// The passage with its first gold answer marked, cut to an excerpt around it; the whole on a click.
function contextBlock(q) {
  if (q.c == null) return null;
  const text = D.contexts[q.c];
  const gold = (q.g || []).find((g) => g && text.includes(g));
  const at = gold ? text.indexOf(gold) : 0;
  const half = Math.floor(D.excerpt_chars / 2);
  const start = Math.max(0, at - half), end = Math.min(text.length, at + (gold ? gold.length : 0) + half);
  const excerpt = el("span", {}, start > 0 ? "…" : "");
  if (gold) excerpt.append(text.slice(start, at), el("mark", { text: gold }), text.slice(at + gold.length, end));
  else excerpt.append(text.slice(start, end));
  if (end < text.length) excerpt.append("…");
  return el("details", { cls: "context" }, el("summary", {}, excerpt), el("p", { text }));
}

function answerRow(row, answer) {
  const name = el("td", { cls: "row" }, el("a", { href: row.store, title: "this row's prediction store", text: row.name }));
  if (row.tuned) name.append(el("span", { cls: "tag", text: "tuned", title: row.trained || "tuned" }));
  if (row.baseline) name.append(el("span", { cls: "tag", text: "baseline" }));
  if (answer == null) {
    return el("tr", {}, name, el("td", { cls: "answer none", colspan: D.verdicts.length + 1, text: "not answered" }));
  }
  const [stored, verdicts, detail, right] = answer;
  const text = stored == null || typeof stored === "string" ? stored : JSON.stringify(stored);
  const body = el("td", { cls: "answer" });
  if (text == null) body.append(el("span", { cls: "none", text: "(no answer stored)" }));
  else if (text.includes("\n")) body.append(el("pre", { text }));
  else body.append(text === "" ? el("span", { cls: "none", text: "(empty)" }) : text);
  if (detail) body.append(el("div", { cls: "detail", text: detail }));
  const tr = el("tr", { cls: right == null ? "" : right ? "is-right" : "is-wrong" }, name, body);
  D.verdicts.forEach((label, k) => tr.append(verdictCell(verdicts[k], label)));
  return tr;
}

function questionCard(q, n) {
  const where = [`#${n + 1}`, String(q.id)];
  if (q.grp != null) where.push(`case ${q.grp}` + (q.var ? ` · ${q.var}` : ""));
  if (q.b != null) where.push(`input tokens ${D.buckets[q.b]}`);
  const card = el("article", { cls: "q", id: `q-${n}` }, el("div", { cls: "meta", text: where.join(" · ") }),
    el("div", { cls: "question", text: q.q == null ? "(question not found: the split file is missing)" : q.q }),
    contextBlock(q));
  if (q.g && q.g.length) card.append(el("div", { cls: "gold" }, el("b", { text: "Gold: " }), q.g.join("  |  ")));
  const table = el("table", { cls: "answers" });
  D.rows.forEach((row, k) => table.append(answerRow(row, q.a[k])));
  card.append(table);
  return card;
}

// ---- what the filters test ----
const tunedRows = D.rows.map((r, k) => (r.tuned ? k : -1)).filter((k) => k >= 0);
// the base row: the report's baseline, or (when the tuned row is the top scorer) the best untuned row
const baseRow = D.rows.findIndex((r) => r.baseline && !r.tuned) >= 0
  ? D.rows.findIndex((r) => r.baseline) : D.rows.findIndex((r) => !r.tuned);
const rightOf = (q) => q.a.filter((a) => a && a[3] != null).map((a) => a[3]);
const disagree = (q) => new Set(rightOf(q)).size > 1;
const regress = (q) => baseRow >= 0 && q.a[baseRow] && q.a[baseRow][3] === true &&
  tunedRows.some((k) => q.a[k] && q.a[k][3] === false);
const haystack = D.questions.map((q) => [q.id, q.q, q.c == null ? "" : D.contexts[q.c], (q.g || []).join(" "),
  q.grp || "", q.var || "", ...q.a.map((a) => (a ? [a[0] || "", a[2] || ""].join(" ") : ""))].join("\n").toLowerCase());

function header() {
  const app = document.getElementById("app");
  app.append(el("h1", { text: `${D.task} on ${D.split}` }));
  const table = el("table", { cls: "headline" });
  table.append(el("tr", {}, ...D.headline.header.map((h) => el("th", { text: h }))));
  D.headline.rows.forEach((cells, k) => {
    const tr = el("tr", {});
    cells.forEach((c, j) => tr.append(el("td", {}, j === 0 ? el("a", { href: D.rows[k].store, text: c }) : c)));
    table.append(tr);
  });
  app.append(table);
  const trained = D.rows.filter((r) => r.trained);
  if (trained.length) {
    app.append(el("p", { cls: "trained", text: "Tuned rows, as trained:" }),
      el("ul", { cls: "trained" }, ...trained.map((r) => el("li", {}, el("b", { text: r.name }), `: ${r.trained}`))));
  }
  app.append(el("p", { cls: "reading", text: D.reading }));
  for (const note of D.notes) app.append(el("p", { cls: "notes", text: `Note: ${note}` }));
  const plots = el("div", { cls: "plots" });
  for (const [name, uri] of Object.entries(D.plots)) {
    const img = el("img", { src: uri, alt: `${name} plot`, title: "click to enlarge" });
    img.addEventListener("click", () => img.classList.toggle("big"));
    plots.append(img);
  }
  app.append(plots);
  const splitText = D.split_file ? `Split: ${D.split_file}.` : "The split file was not found: answers only.";
  app.append(el("h2", { text: `Questions (${D.questions.length})` }),
    el("p", { cls: "notes", text: `${splitText} Each model name links to its prediction store. A row is right ` +
      `when its ${D.primary} is at full marks.` }));
}

function filterBar() {
  const bar = el("div", { cls: "bar" });
  const check = (id, text) => el("label", {}, el("input", { type: "checkbox", id }), ` ${text}`);
  bar.append(el("input", { type: "search", id: "search", placeholder: "search questions, passages, answers" }),
    check("disagree", "models disagree"));
  if (tunedRows.length && baseRow >= 0) {
    const regressBox = check("regress", "tuned wrong, base right");
    regressBox.title = `base: ${D.rows[baseRow].name}`;
    bar.append(regressBox);
  }
  const select = (id, first, options) => el("select", { id }, el("option", { value: "", text: first }),
    ...options.map((o, k) => el("option", { value: String(k), text: o })));
  if (D.buckets.length) bar.append(select("bucket", "all input lengths", D.buckets.map((b) => `input tokens ${b}`)));
  const groups = [...new Set(D.questions.map((q) => q.grp).filter((g) => g != null))];
  if (groups.length) bar.append(select("group", "all cases", groups));
  bar.append(el("span", { cls: "count", id: "count" }));
  bar.addEventListener("input", () => apply(groups));
  return [bar, groups];
}

function apply(groups) {
  const value = (id) => { const node = document.getElementById(id); return node ? node : { value: "", checked: false }; };
  const words = value("search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const bucket = value("bucket").value, group = value("group").value;
  let shown = 0;
  D.questions.forEach((q, n) => {
    const visible = (!value("disagree").checked || disagree(q)) && (!value("regress").checked || regress(q)) &&
      (bucket === "" || q.b === Number(bucket)) && (group === "" || q.grp === groups[Number(group)]) &&
      words.every((w) => haystack[n].includes(w));
    cards[n].hidden = !visible;
    shown += visible;
  });
  document.getElementById("count").textContent = `${shown} of ${D.questions.length} questions shown`;
}

header();
const [bar, groups] = filterBar();
const list = el("section", { id: "questions" });
const cards = D.questions.map(questionCard);
list.append(...cards);
document.getElementById("app").append(bar, list);
apply(groups);
