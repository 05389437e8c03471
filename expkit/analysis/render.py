"""A comparison table as a person or a program reads it: text, markdown, csv, json (compare and the notebook)."""
from __future__ import annotations

from expkit.analysis.values import flow, format_number, is_number

FORMATS = ("table", "markdown", "csv", "json")
MAX_CELL = 48  # the text table cuts longer cells (descriptions, long lists); csv and json never do


def render(table, fmt: str) -> str:
    return {"table": _text, "markdown": _markdown, "csv": _csv, "json": _json}[fmt](table)


def _shown(table) -> list[str]:
    """The columns a person reads: X.std folds into X as 'mean ± std'."""
    return [c for c in table.columns if not (c.endswith(".std") and c[:-4] in table.columns)]


def cell(table, row: dict, column: str) -> str:
    """One value as a person reads it: metrics compactly, params with thousands separators, means ± std."""
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not is_number(value):
        return flow(value)
    text = _number(table, column, value)
    std = row.get(f"{column}.std") if f"{column}.std" in table.columns else None
    if std is None:
        return text
    # Two significant digits of spread are all a reader can use: 0.8846 ± 0.0019, not ± 0.001904.
    spread = f"{std:.1f}" if column in ("training_seconds", "samples_per_second") else f"{std:.2g}"
    return f"{text} ± {spread}"


def _number(table, column: str, value: float) -> str:
    if column in ("params", "epochs_run", "best_epoch", "n") and float(value).is_integer():
        return f"{int(value):,}" if column == "params" else str(int(value))
    if column in ("training_seconds", "samples_per_second", "best_epoch", "epochs_run"):
        return f"{value:.1f}"
    if isinstance(value, int):
        return str(value)
    if column.split(".", 1)[0] in ("train", "val", "test") or f"{column}.std" in table.columns:
        return format_number(value)
    return repr(value)  # a config value: as written (0.0003, 1e-05)


def _numeric(table, column: str) -> bool:
    values = [row.get(column) for row in table.rows if row.get(column) is not None]
    return bool(values) and all(is_number(v) for v in values)


def _text(table) -> str:
    columns = _shown(table)
    cells = [[_cut(cell(table, row, c)) for c in columns] for row in table.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    right = [_numeric(table, c) for c in columns]

    def line(values):
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()
    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    return "\n".join(out) + "\n"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _markdown(table) -> str:
    columns = _shown(table)

    def line(values):
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"
    rule = "|" + "|".join("---:" if _numeric(table, c) else "---" for c in columns) + "|"
    rows = [line([cell(table, row, c) for c in columns]) for row in table.rows]
    return "\n".join([line(columns), rule, *rows]) + "\n"


def _raw(value) -> str:
    """csv cells: full precision, blank for missing, JSON for lists and mappings."""
    import json
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _csv(table) -> str:
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([_raw(row.get(c)) for c in table.columns] for row in table.rows)
    return out.getvalue()


def _json(table) -> str:
    import json
    import math

    def clean(value):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    rows = [{c: clean(row.get(c)) for c in table.columns} for row in table.rows]
    return json.dumps({"metric": table.metric, "grouped": table.grouped, "columns": table.columns, "rows": rows},
                      indent=2, default=str) + "\n"
