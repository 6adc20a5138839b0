"""What the client commands print on a terminal: status blocks, tables, progress."""

from __future__ import annotations

import unicodedata
from typing import Any, Mapping, Sequence

from ..vocabulary import STEP_KEYS
from .answers import current_step, steps_done


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

def format_status(summary: Mapping[str, Any]) -> str:
    """The human form of :func:`run_summary`."""
    lines = [f"run {summary['run_id']}: {summary['status']}"]

    def add(label: str, value: Any) -> None:
        if value not in (None, ""):
            lines.append(f"  {label + ':':<11}{value}")

    file_name, partition = summary.get("file_name"), summary.get("partition")
    if file_name and partition and partition != file_name:
        add("file", f"{file_name} (partition {partition})")
    else:
        add("file", file_name or partition)
    add("created", summary.get("created_at"))
    add("started", summary.get("started_at"))
    ended = summary.get("ended_at")
    if ended:
        add("ended", f"{ended} ({format_duration(summary.get('duration_seconds'))})")
    add("steps", f"{summary.get('steps_done', 0)}/{summary.get('steps_total', len(STEP_KEYS))} done")
    if summary.get("rows_read") is not None:
        reasons = ", ".join(f"{k} {v}" for k, v in (summary.get("rejected_by_reason") or {}).items() if v)
        add(
            "rows",
            f"{summary['rows_read']} read, {summary['rows_clean']} clean, {summary['rows_rejected']} rejected"
            + (f" ({reasons})" if reasons else ""),
        )
    add("anomalies", summary.get("anomalies"))
    add("error", summary.get("error"))
    add("ui", summary.get("ui_url"))
    return "\n".join(lines)

def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide East Asian characters count 2, combining marks 0."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def format_cell(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if column != "source_row" else str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if "discount" in column:
            return f"{value:.4f}"
        return f"{value:,.2f}"
    return str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def format_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """An aligned plain-text table: numbers right-aligned, text left-aligned."""
    if not columns:
        return "(no columns)"
    cells = [[format_cell(row.get(c), c) for c in columns] for row in rows]
    numeric = [
        bool(rows) and all(isinstance(row.get(c), (int, float)) and not isinstance(row.get(c), bool) for row in rows)
        for c in columns
    ]
    widths = [display_width(c) for c in columns]
    for line in cells:
        widths = [max(w, display_width(cell)) for w, cell in zip(widths, line)]

    def render(values: Sequence[str]) -> str:
        parts = []
        for value, width, right in zip(values, widths, numeric):
            pad = " " * (width - display_width(value))
            parts.append(pad + value if right else value + pad)
        return "  ".join(parts).rstrip()

    out = [render(list(columns)), render(["-" * w for w in widths])]
    out.extend(render(line) for line in cells)
    if not rows:
        out.append("(no regions: the file had no clean rows)")
    return "\n".join(out)


def progress_bar(done: int, total: int, width: int = 24) -> str:
    """``[████████░░░░░░░░] 2/4 steps``"""
    total = max(total, 1)
    done = min(max(done, 0), total)
    filled = round(width * done / total)
    return f"[{'█' * filled}{'░' * (width - filled)}] {done}/{total} steps"


def progress_line(run: Mapping[str, Any], elapsed: float) -> str:
    """One plain line about a run in flight (for logs and pipes)."""
    step = current_step(run)
    return (
        f"run {run['runId']}: {run['status']}, {steps_done(run)}/{len(STEP_KEYS)} steps done"
        + (f", running {step}" if step else "")
        + f" ({elapsed:.0f} s)"
    )
