"""Turning results into what a person sees on a materialization in the UI."""

from __future__ import annotations

import math
import resource

import dagster as dg
import pandas as pd

BAR_WIDTH = 30


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def column_schema(columns: list[str] | tuple[str, ...]) -> dg.TableSchema:
    described = {
        "source_row": ("int", "1-based number of the data record in the file"),
        "region": ("string", "region, trimmed"),
        "revenue": ("float", "revenue >= 0"),
        "quantity": ("float", "quantity > 0"),
        "discount": ("float", "0 <= discount <= 1"),
        "revenue_per_unit": ("float", "revenue / quantity"),
        "z_score": ("float", "(revenue_per_unit - mean) / std"),
        "threshold": ("float", "mean + k * std"),
        "row_count": ("int", "clean rows of the region"),
        "revenue_sum": ("float", "sum of revenue"),
        "revenue_mean": ("float", "revenue_sum / row_count"),
        "quantity_sum": ("float", "sum of quantity"),
        "discount_mean": ("float", "mean discount"),
    }
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, *described.get(name, ("string", "carried from the file, trimmed")))
            for name in columns
        ]
    )


def _plain(value):
    """MetadataValue.table accepts only plain Python scalars."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def table(frame: pd.DataFrame, limit: int = 50) -> dg.MetadataValue:
    shown = frame.head(limit)
    records = [dg.TableRecord({k: _plain(v) for k, v in row.items()}) for row in shown.to_dict("records")]
    # The schema is required when there are no records, and labels the columns anyway.
    return dg.MetadataValue.table(records=records, schema=column_schema(list(frame.columns)))


def revenue_chart(summary: pd.DataFrame, limit: int = 25) -> dg.MetadataValue:
    """Revenue by region as a markdown bar chart (the UI renders markdown)."""
    if summary.empty:
        return dg.MetadataValue.md("_no clean rows_")
    top = summary.nlargest(limit, "revenue_sum")
    peak = float(top["revenue_sum"].max()) or 1.0
    lines = ["| region | revenue | |", "|---|---:|---|"]
    for region, revenue in zip(top["region"], top["revenue_sum"]):
        bar = "█" * max(1, round(BAR_WIDTH * float(revenue) / peak)) if revenue > 0 else ""
        lines.append(f"| {_md(region)} | {float(revenue):,.2f} | {bar} |")
    if len(summary) > limit:
        lines.append(f"\n_{len(summary) - limit} more regions in region_summary.csv_")
    return dg.MetadataValue.md("\n".join(lines))


def markdown_table(frame: pd.DataFrame) -> dg.MetadataValue:
    if frame.empty:
        return dg.MetadataValue.md("_none_")
    header = "| " + " | ".join(_md(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = []
    for row in frame.itertuples(index=False, name=None):
        cells = [f"{v:.6g}" if isinstance(v, float) else _md(str(v)) for v in row]
        rows.append("| " + " | ".join(cells) + " |")
    return dg.MetadataValue.md("\n".join([header, rule, *rows]))


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")

