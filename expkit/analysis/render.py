"""A comparison table as a person or a program reads it: text, markdown, csv, json (compare and the notebook)."""
from __future__ import annotations

from expkit.analysis.values import flow, format_number, is_number

FORMATS = ("table", "markdown", "csv", "json")
MAX_CELL = 48  # the text table cuts longer cells (descriptions, long lists); csv and json never do


def render(table, fmt: str, width: int | None = None) -> str:
    """`width`: the text table keeps to this many characters (the terminal's), listing below it the
    columns that did not fit; other formats never drop a column."""
    if fmt == "table":
        return _text(table, width)
    return {"markdown": _markdown, "csv": _csv, "json": _json}[fmt](table)


def _shown(table) -> list[str]:
    """The columns a person reads: X.std folds into X as 'mean ± std'."""
    return [c for c in table.columns if not (c.endswith(".std") and c[:-4] in table.columns)]


def cell(table, row: dict, column: str) -> str:
    """One value as a person reads it: metrics compactly, params with thousands separators, means ± std."""
    value = row.get(column)
    if value is None:
        return ""
    if column == "id" and isinstance(value, list):  # a group's runs: the first id, then how many more
        return str(value[0]) + (f" +{len(value) - 1}" if len(value) > 1 else "")
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


def _text(table, width: int | None = None) -> str:
    columns = _shown(table)
    if len(columns) == 1:  # `--columns id`: plain values, one per line, ready for xargs
        values = [v for row in table.rows for v in _plain(row.get(columns[0]))]
        return "".join(f"{v}\n" for v in values)
    cells = {c: [_cut(cell(table, row, c)) for row in table.rows] for c in columns}
    widths = {c: max([len(c)] + [len(v) for v in cells[c]]) for c in columns}
    shown = _fitting(table, columns, widths, width) if width else columns
    right = {c: _numeric(table, c) for c in shown}

    def line(values):
        return "  ".join(v.rjust(widths[c]) if right[c] else v.ljust(widths[c]) for c, v in zip(shown, values)).rstrip()
    out = [line(shown), line(["-" * widths[c] for c in shown])]
    out += [line([cells[c][i] for c in shown]) for i in range(len(table.rows))]
    hidden = [c for c in columns if c not in shown]
    if hidden:
        import textwrap
        note = (f"{len(hidden)} more column(s) did not fit in {width} characters: {', '.join(hidden)}. Show them "
                "with --columns 'name,KEY,...' (globs work: 'model.*'), a wider terminal (COLUMNS=250), or --format csv")
        out += ["", *textwrap.wrap(note, max(width, 40), break_on_hyphens=False)]
    return "\n".join(out) + "\n"


def _plain(value) -> list[str]:
    if value is None:
        return []
    return [flow(v) if not isinstance(v, str) else v for v in value] if isinstance(value, list) else [
        value if isinstance(value, str) else flow(value)]


def _fitting(table, columns: list[str], widths: dict[str, int], width: int) -> list[str]:
    """The columns that fit in `width`, in their order, chosen by what tells runs apart first: name, id,
    status, test metrics, config keys (those most runs have first), validation metrics, the rest."""
    def rank(column: str) -> tuple:
        if column in ("name", "id", "n", "status"):
            return (0, 0)
        split = column.split(".", 1)[0]
        if split in ("test", "val"):
            return (1 if split == "test" else 3, 0)
        if split in ("train",) or column in ("params", "training_seconds", "epochs_run", "best_epoch", "start_time"):
            return (4, 0)
        return (2, -sum(row.get(column) is not None for row in table.rows))
    chosen, used = set(), 0
    for column in sorted(columns, key=rank):  # sorted() is stable: ties keep the table's order
        need = widths[column] + (2 if chosen else 0)
        if used + need <= width or not chosen:
            chosen.add(column)
            used += need
    return [c for c in columns if c in chosen]


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
