"""How every table in eval writes a number, and the table columns themselves.

A Column is a header, the value it shows of a row, and how that value is written, declared together,
so a table cannot get its headers and cells out of step. The report (report.md and the viewer's
table), the sweep report, the recipe folders' READMEs and the figures on the pages build their tables
from Columns and the formatters below; there is no other copy of a formatter.
"""
import re
from dataclasses import dataclass
from typing import Callable

NO_USAGE = "no usage reported"  # what a cost says of answers whose server reported no token usage

MISSING = "–"


def fmt_ci(mean, ci, signed=False):
    """'61.5 [57.0, 66.0]', or '+3.5 [+1.0, +6.0]' with signed."""
    sign = "+" if signed else ""
    return f"{mean:{sign}.1f} [{ci[0]:{sign}.1f}, {ci[1]:{sign}.1f}]"


def fmt_p(p, named=True):
    """'p=0.012' or 'p<0.001'; without the 'p' where the column header says it."""
    text = "<0.001" if p < 0.001 else f"={p:.3f}"
    return "p" + text if named else text.removeprefix("=")


def fmt_diff(entry, with_p=True):
    """A paired test: 'Δ [CI], p' (entry holds diff, ci, p_value)."""
    text = fmt_ci(entry["diff"], entry["ci"], signed=True)
    return f"{text}, {fmt_p(entry['p_value'])}" if with_p else text


def fmt_rate(value):
    if value is None:
        return MISSING
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def fmt_usd(value, places=None, missing="unknown"):
    """'$0.0123' (3 significant digits below $1), '$12.50'; with places, always that many decimals."""
    if value is None:
        return missing
    if places is not None:
        return f"${value:.{places}f}"
    if value == 0:
        return "$0"
    return f"${value:.3g}" if value < 1 else f"${value:,.2f}"


def fmt_cost(cost):
    """A cost per 1k answers (eval.cost's dict) as a table shows it, saying when usage was missing."""
    usd, n_unknown, n = cost["usd_per_1k_answers"], cost.get("n_unknown") or 0, cost.get("n_answers") or 0
    if usd is None and n and n_unknown >= n:
        return f"unknown ({NO_USAGE})"
    if usd is not None and n_unknown:
        return f"{fmt_usd(usd)} ({n_unknown} of {n} answers: unknown, {NO_USAGE})"
    return fmt_usd(usd)


def fmt_requests(cost):
    """'20 for 20 answers (2 segments: 12/12, 8/8)': API requests sent against answers kept."""
    requests = cost.get("requests")
    if not requests:
        return MISSING
    parts = ", ".join(f"{s['sent']}/{s['kept']}" for s in requests["segments"])
    n = len(requests["segments"])
    return f"{requests['sent']} for {requests['kept']} answers ({n} segment{'s' * (n > 1)}: {parts})"


def fmt_cell(cell):
    """A group's mean with its CI (eval.report's {"n", "mean", "ci"}), or the mean alone for one row."""
    if cell is None or cell["mean"] is None:
        return MISSING
    return fmt_ci(cell["mean"], cell["ci"]) if cell["ci"] else f"{cell['mean']:.1f}"


def fmt_price(model):
    """What a model's cost was computed from: list prices, hourly price, or a recorded cost."""
    cost = model["cost"]
    price = cost["price"] or {}
    if "input" in price:
        return f"${price['input']:g} / ${price['output']:g} per 1M in/out ({price['model']}, {price['as_of']})"
    if "usd_per_hour" in price:
        return f"${price['usd_per_hour']:g}/h ({model['hardware'] or model['device']})"
    if "recorded_usd" in price:
        text = f"recorded: ${price['recorded_usd']:.4g} for {price['recorded_answers']} answers"
        unpriced = price["unpriced_answers"]
        return text + (f" ({unpriced} more recorded at $0, left out)" if unpriced else "")
    return cost["note"] or MISSING


def fmt_params(params):
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "(the recipe as is)"


@dataclass
class Column:
    header: str
    value: Callable        # row -> the value shown
    format: Callable = str  # value -> the cell's text

    def cell(self, row):
        return self.format(self.value(row))


def score_column(metric, label, suffix=" [95% CI]"):
    """A row's score on `metric` with its CI (rows hold metric and metric_ci)."""
    return Column(f"{label}{suffix}", lambda row: (row[metric], row[f"{metric}_ci"]), lambda v: fmt_ci(*v))


def score_columns(metrics, labels, suffix=" [95% CI]"):
    return [score_column(m, labels[m], suffix) for m in metrics]


def text_column(header, key, format=str):
    return Column(header, lambda row: row[key], format)


def cells(columns, rows):
    return [[column.cell(row) for column in columns] for row in rows]


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029]")


def shown(text):
    """Text a user or a server supplied, safe to print to a terminal: control characters (an escape
    sequence's ESC, a bell, a carriage return that overwrites the line) written as visible escapes."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), str(text))


def one_line(text):
    """A table cell's text: line breaks as spaces (a break would split the row) and control characters shown."""
    return shown(LINE_BREAKS.sub(" ", str(text)))


def table_lines(header, rows, escape=True):
    """A markdown table; every cell on one line, and with escape a '|' inside a cell is written as '\\|'
    so it cannot split it (escape=False: cells that are markdown already, such as links)."""
    clean = (lambda c: one_line(c).replace("|", "\\|")) if escape else one_line
    return (["| " + " | ".join(map(one_line, header)) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows])


def markdown_table(columns, rows, escape=True):
    """The lines of a markdown table of `rows`, one cell per Column."""
    return table_lines([c.header for c in columns], cells(columns, rows), escape)
