"""The DataTasker job done by DuckDB: the comparison baseline of issue 3.

    python -m benchmarks.duckdb_job FILE --out-dir DIR [--anomaly-k 2.0] [--threads N] [--options JSON]

Reads FILE as text (every column VARCHAR), applies the SPEC §2 rules in SQL,
numbers the records, and writes the four SPEC §3 outputs into DIR:
region_summary.csv, anomalies.csv, rejected_rows.csv, cleaned.parquet.
Prints one JSON object on stdout shaped like ``datatasker process --json``
(status, outputs, rows_read, rows_clean, rows_rejected, anomalies, error) plus
``seconds`` and ``reader`` (which CSV reader path was used).

What it does exactly as SPEC says (default options):
  - trims every cell the way Python's str.strip() does (same character set);
  - missing tokens ('' / na / n/a / nan / null / none, case-insensitively),
    checked region, revenue, quantity, discount before any number check;
  - the number regex (regexp_full_match, ASCII only) and a finite float64;
  - zero quantity, then ranges revenue >= 0, quantity > 0, 0 <= discount <= 1;
  - first failing rule gives `reason` and `column`; `value` is the trimmed cell;
  - source_row = 1-based record number (a quoted multi-line record counts
    once, empty lines are skipped and not counted);
  - anomalies: revenue_per_unit > mean + k * sample std over all clean rows,
    no anomalies with < 2 clean rows or std <= 1e-12 * |mean|;
  - summary sorted by region in code-point order (DuckDB's binary collation
    compares UTF-8 bytes, which is code-point order);
  - formula guard (leading ') on text cells of the CSV outputs.

What it approximates or leaves out (the benchmark file needs none of it):
  - options: `column_map` (as SPEC §1 says: keys matched case-insensitively
    against trimmed header names, the first matching key wins, no chaining)
    and `anomaly_k`, given as ``--options JSON`` like ``datatasker process
    --config``; no `encoding`, `delimiter`, `fill_missing`, `drop_duplicates`;
  - only UTF-8 (a leading BOM is dropped); no NUL-byte,
    undecodable-byte or size-limit checks; an unterminated quote is whatever
    DuckDB reports;
  - ragged records: the fast parallel reader (strict) is tried first; if
    DuckDB refuses the file (a CSV error, e.g. a record with too few or too
    many fields), the file is re-read with the single-threaded reader, one
    column more than the header and null_padding, which flags short and long
    records `field_count` (empty cells are read as '' via nullstr, so only a
    padded cell is NULL). Other CSV errors (e.g. an unterminated quote) take
    that path too and come out as whatever DuckDB makes of them. The default
    benchmark file has no ragged records, so the fast path is what is timed;
  - number text: the float value is DuckDB's TRY_CAST to DOUBLE (correctly
    rounded, like Python's float()); CSV numbers are written by DuckDB's
    shortest round-trip formatting.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time

import duckdb

REQUIRED = ("region", "revenue", "quantity", "discount")
NUMERIC = ("revenue", "quantity", "discount")
MISSING = ("", "na", "n/a", "nan", "null", "none")
NUM_RE = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
# exactly the characters Python's str.strip() removes
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
NEVER = "\x01__datatasker_never_null__\x01"  # nullstr: keep empty cells as ''


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


class FileFailure(Exception):
    pass


def read_header(path: str) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        for rec in csv.reader(f):
            if rec:
                return rec
    raise FileFailure("file is empty: no header row")


def canonical_columns(header: list[str], column_map: dict[str, str] | None = None) -> list[str]:
    by_lower: dict[str, str] = {}
    for key, value in (column_map or {}).items():
        by_lower.setdefault(key.lower(), value)  # the first matching key wins
    names = []
    for h in header:
        t = h.strip()
        t = by_lower.get(t.lower(), t)
        names.append(t.lower() if t.lower() in REQUIRED else t)
    missing = [r for r in REQUIRED if r not in names]
    if missing:
        raise FileFailure(
            f"missing required column(s): {', '.join(missing)}; found: {', '.join(names)}"
        )
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise FileFailure(f"duplicate column name(s) after mapping: {', '.join(dups)}")
    return names


def run(
    path: str, out_dir: str, k: float = 2.0, threads: int | None = None, column_map: dict[str, str] | None = None
) -> dict:
    t0 = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    names = canonical_columns(read_header(path), column_map)
    carried = [n for n in names if n not in REQUIRED]
    pos = [f"c{i}" for i in range(len(names))]  # positional raw column names
    by_name = dict(zip(names, pos))

    con = duckdb.connect(config={"preserve_insertion_order": True})
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = {_lit(os.path.join(out_dir, '.duckdb_tmp'))}")
    # trim(x, WHITESPACE) is exact but ~10x slower in DuckDB 1.x than this
    # RE2 replace (RE2's $ is end of text only, so the result is the same)
    ws = "[" + "".join(f"\\x{{{ord(ch):x}}}" for ch in WHITESPACE) + "]"
    con.execute(
        f"CREATE MACRO dt_trim(x) AS regexp_replace(x, {_lit(f'^{ws}+|{ws}+$')}, '', 'g')"
    )
    con.execute(f"CREATE MACRO dt_missing(x) AS lower(x) IN ({', '.join(map(_lit, MISSING))})")
    con.execute(
        f"CREATE MACRO dt_num(x) AS CASE WHEN regexp_full_match(x, {_lit(NUM_RE)}) "
        "THEN TRY_CAST(x AS DOUBLE) END"
    )
    # formula guard of SPEC §3 for text cells written to CSV
    con.execute(
        "CREATE MACRO dt_guard(x) AS CASE WHEN left(x, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        f"AND NOT regexp_full_match(x, {_lit(NUM_RE)}) THEN '''' || x ELSE x END"
    )

    common = (
        f"header=true, auto_detect=false, delim=',', quote='\"', escape='\"', "
        f"nullstr={_lit(NEVER)}"
    )
    trimmed = ", ".join(f"dt_trim({p}) AS {p}" for p in pos)

    def columns(cols: list[str]) -> str:
        return "columns={" + ", ".join(f"{_lit(p)}: 'VARCHAR'" for p in cols) + "}"

    reader = "parallel"
    try:
        # fast path: parallel reader, strict: any ragged record raises
        con.execute(
            "CREATE TABLE raw AS "
            f"SELECT false AS short, {trimmed} "
            f"FROM read_csv({_lit(path)}, {common}, strict_mode=true, {columns(pos)})"
        )
    except duckdb.Error as e:
        if "CSV Error" not in str(e):
            raise
        # ragged records: single-threaded reader, one column more than the
        # header, null padding. Too few fields -> last real column NULL; too
        # many -> the extra column is not NULL.
        reader = "null_padding"
        con.execute(
            "CREATE OR REPLACE TABLE raw AS "
            f"SELECT ({pos[-1]} IS NULL OR c_extra IS NOT NULL) AS short, {trimmed} "
            f"FROM read_csv({_lit(path)}, {common}, strict_mode=false, null_padding=true, "
            f"parallel=false, {columns(pos + ['c_extra'])})"
        )

    r, rev, qty, dis = (by_name[c] for c in REQUIRED)
    # rule order of SPEC §2: field_count, missing (region, revenue, quantity,
    # discount), not_a_number (revenue, quantity, discount), zero_quantity,
    # out_of_range (revenue, quantity, discount)
    checks = [("short", "field_count", None)]
    checks += [(f"dt_missing({by_name[c]})", "missing_value", c) for c in REQUIRED]
    checks += [(f"NOT coalesce(isfinite(n_{c}), false)", "not_a_number", c) for c in NUMERIC]
    checks += [("n_quantity = 0", "zero_quantity", "quantity")]
    checks += [
        ("n_revenue < 0", "out_of_range", "revenue"),
        ("n_quantity <= 0", "out_of_range", "quantity"),
        ("n_discount < 0 OR n_discount > 1", "out_of_range", "discount"),
    ]
    reason = "CASE " + " ".join(f"WHEN {cond} THEN {_lit(rs)}" for cond, rs, _ in checks) + " END"
    column = (
        "CASE "
        + " ".join(f"WHEN {cond} THEN {_lit(c or '')}" for cond, _, c in checks)
        + " END"
    )
    value = (
        "CASE "
        + " ".join(f"WHEN {cond} THEN {by_name[c] if c else chr(39) * 2}" for cond, _, c in checks)
        + " END"
    )
    con.execute(
        "CREATE TABLE t AS "
        f"SELECT source_row, {', '.join(pos)}, n_revenue, n_quantity, n_discount, "
        f"{reason} AS reason, {column} AS col, {value} AS val "
        f"FROM (SELECT rowid + 1 AS source_row, *, dt_num({rev}) AS n_revenue, "
        f"dt_num({qty}) AS n_quantity, dt_num({dis}) AS n_discount FROM raw)"
    )
    con.execute("DROP TABLE raw")

    outputs = {
        "region_summary": os.path.join(out_dir, "region_summary.csv"),
        "anomalies": os.path.join(out_dir, "anomalies.csv"),
        "rejected_rows": os.path.join(out_dir, "rejected_rows.csv"),
        "cleaned": os.path.join(out_dir, "cleaned.parquet"),
    }
    carried_sel = ", ".join(f"{by_name[c]} AS {_ident(c)}" for c in carried)
    carried_csv = ", ".join(f"dt_guard({by_name[c]}) AS {_ident(c)}" for c in carried)
    csv_opts = "(FORMAT csv, HEADER true, DELIMITER ',')"

    # cleaned.parquet: every clean row, in file order. rowid is file order, but
    # the COPY of a multi-threaded scan did not keep it at 1M rows (DuckDB 2.0,
    # 2 threads: the file began at source_row 122881), hence the ORDER BY.
    con.execute(
        f"COPY (SELECT source_row, {r} AS region, n_revenue AS revenue, n_quantity AS quantity, "
        f"n_discount AS discount{', ' + carried_sel if carried else ''}, "
        "n_revenue / n_quantity AS revenue_per_unit "
        f"FROM t WHERE reason IS NULL ORDER BY source_row) TO {_lit(outputs['cleaned'])} (FORMAT parquet)"
    )
    con.execute(
        f"COPY (SELECT dt_guard(reg) AS region, row_count, revenue_sum, revenue_mean, "
        "quantity_sum, discount_mean FROM ("
        f"SELECT {r} AS reg, count(*) AS row_count, sum(n_revenue) AS revenue_sum, "
        "avg(n_revenue) AS revenue_mean, sum(n_quantity) AS quantity_sum, "
        "avg(n_discount) AS discount_mean "
        f"FROM t WHERE reason IS NULL GROUP BY {r}) ORDER BY reg) "
        f"TO {_lit(outputs['region_summary'])} {csv_opts}"
    )
    con.execute(
        "COPY (SELECT source_row, reason, nullif(col, '') AS \"column\", "
        "nullif(dt_guard(val), '') AS value "
        f"FROM t WHERE reason IS NOT NULL ORDER BY source_row) "
        f"TO {_lit(outputs['rejected_rows'])} {csv_opts}"
    )
    n, mean, std = con.execute(
        "SELECT count(*), avg(n_revenue / n_quantity), stddev_samp(n_revenue / n_quantity) "
        "FROM t WHERE reason IS NULL"
    ).fetchone()
    spread = n >= 2 and std is not None and std > 1e-12 * abs(mean)
    threshold = mean + k * std if spread else None
    con.execute(
        f"COPY (SELECT source_row, dt_guard({r}) AS region, n_revenue AS revenue, "
        f"n_quantity AS quantity, n_discount AS discount{', ' + carried_csv if carried else ''}, "
        "n_revenue / n_quantity AS revenue_per_unit, "
        f"(n_revenue / n_quantity - ?) / ? AS z_score, ?::DOUBLE AS threshold "
        f"FROM t WHERE reason IS NULL AND ? AND n_revenue / n_quantity > ? ORDER BY source_row) "
        f"TO {_lit(outputs['anomalies'])} {csv_opts}",
        [mean or 0.0, std or 1.0, threshold, spread, threshold if spread else 0.0],
    )
    rows_read, rows_clean, anomalies = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reason IS NULL), "
        f"count(*) FILTER (WHERE reason IS NULL AND {'true' if spread else 'false'} "
        "AND n_revenue / n_quantity > ?) FROM t",
        [threshold if spread else 0.0],
    ).fetchone()
    con.close()
    return {
        "status": "SUCCESS",
        "outputs": {k_: os.path.abspath(v) for k_, v in outputs.items()},
        "rows_read": rows_read,
        "rows_clean": rows_clean,
        "rows_rejected": rows_read - rows_clean,
        "anomalies": anomalies,
        "error": None,
        "reader": reader,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="DataTasker job in DuckDB (benchmark baseline)")
    ap.add_argument("file")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--anomaly-k", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all)")
    ap.add_argument("--options", default=None, help='JSON object: column_map and anomaly_k, e.g. \'{"column_map": {"Sales": "revenue"}}\'')
    a = ap.parse_args(argv)
    options = json.loads(a.options) if a.options else {}
    unknown = set(options) - {"column_map", "anomaly_k"}
    if unknown:
        ap.error(f"--options: not supported here: {', '.join(sorted(unknown))}")
    try:
        result = run(a.file, a.out_dir, options.get("anomaly_k", a.anomaly_k), a.threads, options.get("column_map"))
    except FileFailure as e:
        print(json.dumps({"status": "FAILURE", "error": str(e)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
