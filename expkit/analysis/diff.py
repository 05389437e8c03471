"""diff: what changed between two runs: their resolved configs key by key, then their final metrics.

Lists of mappings (model.layers) are aligned before they are compared, so a layer inserted in the
middle reads as one added layer, not as every later layer shifted by one:
    model.layers[1]: (absent) → {type: Dropout, rate: 0.3}
A layer whose type changed is one line with both layers; within layers of the same type, one line
per changed argument: model.layers[2].rate: 0.2 → 0.5. Lists of scalars (tags, metrics) are values.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Iterator

from expkit.analysis.run_metrics import metric_keys, run_results
from expkit.analysis.values import flow, format_number, is_number
from expkit.errors import ExpkitError
from expkit.runstore import Run, load_runs, read_run


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Change:
    key: str        # model.layers[2].rate
    before: Any     # ABSENT when the key was added
    after: Any      # ABSENT when the key was removed

    @property
    def kind(self) -> str:
        return "added" if self.before is ABSENT else "removed" if self.after is ABSENT else "changed"

    def __str__(self) -> str:
        return f"{self.key}: {_show(self.before)} → {_show(self.after)}"


def _show(value: Any) -> str:
    return "(absent)" if value is ABSENT else flow(value)


def diff_configs(a: Any, b: Any, key: str = "") -> list[Change]:
    """Every difference between two resolved configs, in config order."""
    return list(_diff(a, b, key))


def _diff(a: Any, b: Any, key: str) -> Iterator[Change]:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.get("type") != b.get("type"):  # a different layer kind: its arguments are not comparable
            yield Change(key, a, b)
            return
        for name in dict.fromkeys([*a, *b]):
            sub = f"{key}.{name}" if key else str(name)
            if name not in b:
                yield Change(sub, a[name], ABSENT)
            elif name not in a:
                yield Change(sub, ABSENT, b[name])
            else:
                yield from _diff(a[name], b[name], sub)
    elif isinstance(a, list) and isinstance(b, list) and _structured(a + b):
        for i, j in align(a, b):
            if i is None:
                yield Change(f"{key}[{j}]", ABSENT, b[j])
            elif j is None:
                yield Change(f"{key}[{i}]", a[i], ABSENT)
            else:
                yield from _diff(a[i], b[j], f"{key}[{j}]" if i == j else f"{key}[{i}→{j}]")
    elif a != b or type(a) is not type(b) and not (is_number(a) and is_number(b)):
        yield Change(key, a, b)


def _structured(items: list) -> bool:
    return any(isinstance(item, (dict, list)) for item in items)


def align(a: list, b: list) -> list[tuple[int | None, int | None]]:
    """Pairs (i, j) of items to compare, (i, None) removed, (None, j) added; identical items are
    skipped. Items are matched whole first, then by layer type, then by position."""
    pairs: list[tuple[int | None, int | None]] = []
    whole = SequenceMatcher(None, [_signature(x) for x in a], [_signature(x) for x in b], autojunk=False)
    for tag, i1, i2, j1, j2 in whole.get_opcodes():
        if tag != "equal":
            pairs += _align_by_type(a, range(i1, i2), b, range(j1, j2))
    return pairs


def _align_by_type(a: list, left: range, b: list, right: range) -> list[tuple[int | None, int | None]]:
    pairs: list[tuple[int | None, int | None]] = []
    kinds = SequenceMatcher(None, [_kind(a[i]) for i in left], [_kind(b[j]) for j in right], autojunk=False)
    for tag, i1, i2, j1, j2 in kinds.get_opcodes():
        ii, jj = list(left[i1:i2]), list(right[j1:j2])
        common = min(len(ii), len(jj)) if tag in ("equal", "replace") else 0
        pairs += list(zip(ii[:common], jj[:common]))
        pairs += [(i, None) for i in ii[common:]] + [(None, j) for j in jj[common:]]
    return pairs


def _signature(item: Any) -> str:
    return json.dumps(item, sort_keys=True, default=str)


def _kind(item: Any) -> str:
    return str(item.get("type")) if isinstance(item, dict) else type(item).__name__


def metric_rows(a: Run, b: Run) -> list[tuple[str, Any, Any, Any]]:
    """(key, a's value, b's value, b - a) for each final metric, params, epochs and training time."""
    ra, rb = run_results(a), run_results(b)
    keys = metric_keys(dict.fromkeys([*ra, *rb]))
    keys += [k for k in ("params", "epochs_run", "training_seconds") if k in ra or k in rb]
    rows = []
    for key in keys:
        va, vb = ra.get(key), rb.get(key)
        rows.append((key, va, vb, vb - va if is_number(va) and is_number(vb) else None))
    return rows


def resolve_run(text: str, runs_dir: str | Path = "runs") -> Run:
    """A run folder; or, when no such path exists, the one folder under `runs_dir` whose name ends
    with `text` (its id or the 4 hex digits at the end of it)."""
    path = Path(text)
    if not path.exists():
        root = Path(runs_dir)
        matches = [r.path for r in load_runs([root]) if r.path.name.endswith(text)] if root.is_dir() else []
        if len(matches) != 1:
            found = "no run" if not matches else f"{len(matches)} runs ({', '.join(p.name for p in matches[:3])}...)"
            raise ExpkitError(f"{text}: no such run folder, and {found} under {root}/ has a name ending "
                              f"with {text!r}: give the run folder's path")
        path = matches[0]
    if path.is_dir() and not (path / "run.json").is_file():
        inside = load_runs([path])
        if inside:
            raise ExpkitError(f"{path}: holds {len(inside)} runs, but diff compares two run folders "
                              f"(e.g. {inside[0].path}); use `expkit compare {path}` for a table of them")
    return read_run(path)  # BadRun is an ExpkitError: exit 2 with its one line


def diff_text(a: Run, b: Run) -> str:
    changes = diff_configs(a.config, b.config)
    lines = [f"a: {a.path} ({a.status})", f"b: {b.path} ({b.status})", ""]
    count = f"{len(changes)} change{'s' if len(changes) != 1 else ''}"
    lines.append(f"config: {count}" if changes else "config: identical")
    lines += [f"  {change}" for change in changes]
    rows = metric_rows(a, b)
    if rows:
        table = [("metric", "a", "b", "change")] + [
            (key, _cell(key, va), _cell(key, vb), _signed(key, va, vb, d)) for key, va, vb, d in rows]
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        lines.append("")
        for r in table:
            lines.append(("  " + r[0].ljust(widths[0]) + "".join(
                "  " + v.rjust(w) for v, w in zip(r[1:], widths[1:]))).rstrip())
    else:
        lines += ["", "metrics: none yet (neither run has completed)"]
    return "\n".join(lines) + "\n"


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key in ("params", "epochs_run"):
        return f"{int(value):,}"
    if key == "training_seconds":
        return f"{value:.1f}"
    return format_number(value) if isinstance(value, float) else str(value)


def _signed(key: str, a: Any, b: Any, delta: float | None) -> str:
    """b - a in the precision the values are shown with: +0.0500 beside 0.9000 and 0.9500."""
    if delta is None:
        return ""
    if delta == 0:
        return "0"
    if key in ("params", "epochs_run", "training_seconds") or min(abs(a), abs(b)) < 0.1:
        text = _cell(key, abs(delta))
    else:
        text = f"{abs(delta):.4f}"
    return ("+" if delta > 0 else "-") + text


def diff_json(a: Run, b: Run) -> str:
    def plain(value):
        return None if value is ABSENT else value
    data = {
        "a": {"id": a.id, "path": str(a.path), "status": a.status},
        "b": {"id": b.id, "path": str(b.path), "status": b.status},
        "changes": [{"key": c.key, "kind": c.kind, "a": plain(c.before), "b": plain(c.after)}
                    for c in diff_configs(a.config, b.config)],
        "metrics": [{"key": k, "a": va, "b": vb, "change": d} for k, va, vb, d in metric_rows(a, b)],
    }
    return json.dumps(data, indent=2, default=str) + "\n"

