"""Independent reference implementation ("oracle") of the data contract (docs/data-contract.md).

Written only from the SPEC, deliberately *not* from ``datatasker_pipeline``:
its purpose is to catch misreadings of the data contract.  It is slow and
simple on purpose: plain Python, the ``csv`` module, one record at a time,
exact rational arithmetic for the statistics.

Public API
----------
``run_oracle(data, options, *, max_file_bytes)`` -> :class:`OracleResult`
    What the pipeline must compute for one file (SPEC sections 1, 2, 3, 4, 5).
``load_outputs(out_dir)`` -> :class:`LoadedOutputs`
    Reads the four files the production pipeline wrote into the same shapes.
``compare(oracle, loaded)`` -> ``list[str]``
    Human-readable differences (empty list = agreement).

Representation
--------------
* ``region_summary``, ``anomalies``, ``rejected_rows``: lists of dicts whose
  values are the exact strings the CSV cells should contain (number cells are
  written with ``repr(float)``, i.e. shortest round-trip text; ``compare``
  parses number cells to float, so the production may choose another
  round-trip spelling).
* ``cleaned``: list of dicts of typed values (``source_row`` int, the three
  numbers and ``revenue_per_unit`` float, region/carried text str).

Ordering rules implemented here (and checked by ``compare``):
* ``region_summary`` sorted by the region value itself (before the formula
  guard), Python ``str`` ordering = Unicode code point order, case-sensitive.
* ``anomalies`` and ``rejected_rows`` sorted by ``source_row`` ascending.
* ``cleaned`` in file order (which is also ascending ``source_row``).

"SPEC" below is the data contract; section numbers are the contract's.
All choices made where the SPEC is unclear are marked ``# SPEC-AMBIGUITY:``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------
# Constants straight from the SPEC
# --------------------------------------------------------------------------

REQUIRED = ("region", "revenue", "quantity", "discount")  # rule 4 order
NUMERIC = ("revenue", "quantity", "discount")  # rule 5 / rule 7 order
MISSING_TOKENS = {"na", "n/a", "nan", "null", "none"}
# SPEC 2.5, used with re.fullmatch (so a trailing "\n" can never sneak past "$").
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
KNOWN_OPTIONS = (
    "anomaly_k",
    "column_map",
    "fill_missing",
    "drop_duplicates",
    "delimiter",
    "encoding",
)
UTF16_32 = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
DEFAULT_K = 2.0

REGION_SUMMARY_COLUMNS = [
    "region",
    "row_count",
    "revenue_sum",
    "revenue_mean",
    "quantity_sum",
    "discount_mean",
]
REJECTED_COLUMNS = ["source_row", "reason", "column", "value"]

# Kinds of whole-file failure (SPEC section 5), in the SPEC's check order.
FAILURE_KINDS = (
    "size",
    "nul",
    "decode",
    "unterminated",
    "empty",
    "missing_column",
    "duplicate_column",
    "reserved_column",
    "option",
)


class _FileFailure(Exception):
    def __init__(self, kind: str, message: str, facts: list[str]):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.facts = facts


@dataclass
class OracleResult:
    # Whole-file failure (SPEC 5).  When set, every other field is empty.
    error: str | None = None
    error_kind: str | None = None
    # The facts the production message must state (numbers / names), each
    # checked as a substring of the production message by ``compare``.
    error_facts: list[str] = field(default_factory=list)

    region_summary: list[dict[str, str]] = field(default_factory=list)
    anomalies: list[dict[str, str]] = field(default_factory=list)
    rejected_rows: list[dict[str, str]] = field(default_factory=list)
    cleaned: list[dict[str, Any]] = field(default_factory=list)

    region_summary_columns: list[str] = field(default_factory=list)
    anomalies_columns: list[str] = field(default_factory=list)
    rejected_rows_columns: list[str] = field(default_factory=list)
    cleaned_columns: list[str] = field(default_factory=list)
    carried_columns: list[str] = field(default_factory=list)

    rows_read: int = 0
    rows_clean: int = 0
    rows_rejected: int = 0

    # Debug / borderline information for the anomaly rule.
    mean: float | None = None
    std: float | None = None
    threshold: float | None = None
    rpu_by_row: dict[int, float] = field(default_factory=dict)

    @property
    def anomaly_count(self) -> int:
        return len(self.anomalies)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def trim(s: str) -> str:
    """SPEC: "Trim" = what Python's str.strip() removes."""
    return s.strip()


def is_missing(cell: str) -> bool:
    """SPEC 2.4: empty or, case-insensitively, na / n/a / nan / null / none."""
    return cell == "" or cell.lower() in MISSING_TOKENS


def is_plain_number(s: str) -> bool:
    return PLAIN_NUMBER.fullmatch(s) is not None


def parse_number(cell: str) -> float | None:
    """SPEC 2.5: plain decimal ASCII number whose float value is finite, else None.

    ``float()`` of a string matching the regex is correctly rounded, and an
    underflow such as ``1e-400`` gives 0.0 ("is the number 0").
    """
    if not is_plain_number(cell):
        return None
    value = float(cell)
    if not math.isfinite(value):
        return None
    return value


def guard(text: str) -> str:
    """SPEC 3: formula guard for text cells written to the output CSVs."""
    if text.startswith(FORMULA_START) and not is_plain_number(text):
        return "'" + text
    return text


def safe_sum(values) -> float:
    """Correctly rounded sum (math.fsum); an overflowing sum is inf.

    SPEC-AMBIGUITY: the SPEC is silent on sums or revenue/quantity quotients
    that overflow a 64-bit float; the oracle follows IEEE arithmetic (inf) and
    writes "inf".  The tests avoid such files.
    """
    values = list(values)
    try:
        return math.fsum(values)
    except OverflowError:
        return sum(values)


def fmt_float(x: float) -> str:
    """Full precision: repr() is the shortest text reading back to the same float."""
    return repr(float(x))


def _fail(kind: str, message: str, *facts: Any) -> _FileFailure:
    return _FileFailure(kind, message, [str(f) for f in facts])


def _lookup_text_codec(name: Any) -> codecs.CodecInfo | None:
    if not isinstance(name, str):
        return None
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # e.g. "base64" or "rot13" are known to Python but are not text encodings.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------
# Section 1: reading
# --------------------------------------------------------------------------


def _check_nul_and_decode(data: bytes, encoding_value: Any, encoding_given: bool) -> str:
    codec = _lookup_text_codec(encoding_value)
    codec_name = codec.name if codec is not None else None

    # --- NUL byte (SPEC 5 row 2) -------------------------------------------
    if codec_name not in UTF16_32:
        offset = data.find(b"\x00")
        if offset >= 0:
            raise _fail(
                "nul",
                f"file contains a NUL byte at offset {offset}: binary data, not CSV",
                offset,
            )

    # --- unusable encoding option ---------------------------------------
    # SPEC-AMBIGUITY: SPEC 5 lists "bad option" last in its check order, but an
    # unknown encoding cannot be used to decode.  The oracle follows the table
    # order as far as possible: size and (raw) NUL checks come first, then an
    # unknown/non-text encoding fails as a bad option at the point it is needed.
    if codec is None:
        raise _fail(
            "option",
            f"option encoding: unknown encoding {encoding_value!r}",
            "encoding",
        )

    # --- decode -------------------------------------------------------------
    # SPEC-AMBIGUITY: "With UTF-8, a leading byte-order mark is dropped": done for
    # the utf-8 family (utf-8, utf8, utf-8-sig ...).  We always decode with plain
    # utf-8 so the error offset counts the BOM bytes (SPEC: "byte-order mark
    # included").  utf-16 / utf-32 drop their BOM themselves (Python codecs);
    # the explicit-endian codecs (utf-16-le, ...) keep a U+FEFF as a character,
    # and nothing is stripped for any other encoding.
    decode_name = "utf-8" if codec_name in ("utf-8", "utf-8-sig") else codec_name
    try:
        text = data.decode(decode_name)
        bad_at = None
    except UnicodeDecodeError as exc:
        bad_at = exc.start  # 0-based offset from the first byte of the input
        text = data[:bad_at].decode(decode_name, errors="replace")

    # --- NUL character for UTF-16 / UTF-32 -----------------------------------
    if codec_name in UTF16_32:
        i = text.find("\x00")
        if i >= 0:
            # SPEC-AMBIGUITY: for UTF-16/32 the NUL "offset" is reported as the
            # BYTE offset of the NUL character in the file (BOM included), like
            # the undecodable-byte offset - not as a character index.
            offset = _utf16_32_byte_offset(data, text, i, codec_name)
            raise _fail(
                "nul",
                f"file contains a NUL character at offset {offset}: binary data, not CSV",
                offset,
            )

    if bad_at is not None:
        shown = encoding_value if encoding_given else "utf-8"
        raise _fail(
            "decode",
            f"undecodable byte at offset {bad_at} for encoding {shown}",
            bad_at,
        )

    if decode_name == "utf-8" and text.startswith("\ufeff"):
        text = text[1:]
    return text


def _utf16_32_byte_offset(data: bytes, text: str, char_index: int, codec_name: str) -> int:
    bom_len = 0
    if codec_name == "utf-16" and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        bom_len = 2
    if codec_name == "utf-32" and data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        bom_len = 4
    unit_codec = "utf-16-le" if codec_name.startswith("utf-16") else "utf-32-le"
    return bom_len + len(text[:char_index].encode(unit_codec, errors="surrogatepass"))


def _csv_records(text: str, delimiter: str) -> list[list[str]]:
    """RFC 4180 records via the csv module; empty lines (csv yields []) skipped.

    SPEC-AMBIGUITY: malformed quoting that RFC 4180 does not allow is read the
    way Python's csv module reads it (non-strict): ``"a"b`` -> ``ab``,
    ``"a" ,b`` -> ``a `` (then trimmed), ``a"b`` -> ``a"b``.  A lone ``\\r`` is
    a line break, like ``\\n`` and ``\\r\\n``.
    """
    with _unlimited_fields():
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        return [record for record in reader if record != []]


@contextlib.contextmanager
def _unlimited_fields():
    """The csv module's cell length limit is process-wide: lift it for one read, then restore it."""
    old_limit = csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old_limit)


def _read_records(text: str, delimiter: str) -> list[list[str]]:
    records = _csv_records(text, delimiter)
    # Python's non-strict csv reader silently closes a quoted field that is
    # still open at end of file.  Detect that with a probe: append a line
    # break and a sentinel record.  If the file ended outside quotes, the probe
    # parses to exactly the same records plus [sentinel]; if a quoted field was
    # still open, the sentinel is swallowed into that field instead.
    sentinel = "a" if delimiter != "a" else "b"
    probe = _csv_records(text + "\n" + sentinel, delimiter)
    if probe != records + [[sentinel]]:
        # The open field runs to the end of the file, so it started in the
        # LAST record.
        # SPEC-AMBIGUITY: "starting in record N" counts records 1-based with the
        # header as record 1 (SPEC 1: "The first record is the header"); empty
        # lines are not records; a multi-line record counts once.  So a file
        # "header\nrow1\n\"open..." reports record 3 (= source_row 2 + 1).
        n = len(records)
        raise _fail("unterminated", f"unterminated quoted field starting in record {n}", n)
    return records


# --------------------------------------------------------------------------
# Section 4: options
# --------------------------------------------------------------------------


def _validate_delimiter(options: dict) -> str:
    if "delimiter" not in options:
        return ","
    d = options["delimiter"]
    if not isinstance(d, str) or len(d) != 1 or d in ('"', "\r", "\n"):
        raise _fail(
            "option",
            f"option delimiter must be one character, not a quote or a line break, got {d!r}",
            "delimiter",
        )
    return d


def _validate_column_map(options: dict) -> dict[str, str]:
    if "column_map" not in options:
        return {}
    cm = options["column_map"]
    if not isinstance(cm, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in cm.items()
    ):
        raise _fail(
            "option",
            f"option column_map must be an object of string -> string, got {cm!r}",
            "column_map",
        )
    return cm


def _validate_rest(options: dict, final_names: list[str]) -> tuple[float, dict[str, str], bool]:
    for key in options:
        if key not in KNOWN_OPTIONS:
            raise _fail("option", f"unknown option {key!r}", key)

    k = options.get("anomaly_k", DEFAULT_K)
    # SPEC-AMBIGUITY: anomaly_k must also be finite (JSON has no inf/nan).
    if not _is_number(k) or not math.isfinite(k) or k < 0:
        raise _fail("option", f"option anomaly_k must be a number >= 0, got {k!r}", "anomaly_k")

    dd = options.get("drop_duplicates", False)
    if not isinstance(dd, bool):
        raise _fail("option", f"option drop_duplicates must be a boolean, got {dd!r}", "drop_duplicates")

    fm = options.get("fill_missing", {})
    if not isinstance(fm, dict) or not all(
        isinstance(key, str) and (isinstance(v, str) or _is_number(v)) for key, v in fm.items()
    ):
        raise _fail(
            "option",
            f"option fill_missing must be an object of column -> string or number, got {fm!r}",
            "fill_missing",
        )
    fill: dict[str, str] = {}
    for key, v in fm.items():
        # SPEC-AMBIGUITY: keys match the final column names EXACTLY (canonical
        # lower-case required names, carried names as carried); "Region" or a
        # pre-mapping source name names no column and fails the run.
        if key not in final_names:
            raise _fail(
                "option",
                f"option fill_missing: key {key!r} names no column of the file",
                "fill_missing",
                key,
            )
        # "a number's decimal text is used": int -> str(int) ("0" -> "0"),
        # float -> repr (shortest round-trip text, 2.5 -> "2.5").
        # SPEC-AMBIGUITY: the filled text is trimmed like every other cell
        # (a constant " x " fills "x"), then checked like any other cell.
        text = v if isinstance(v, str) else (str(v) if isinstance(v, int) else repr(v))
        fill[key] = trim(text)
    return float(k), fill, dd


# --------------------------------------------------------------------------
# Header resolution (SPEC 1)
# --------------------------------------------------------------------------


def _resolve_header(header: list[str], column_map: dict[str, str]) -> tuple[list[str], list[str]]:
    """Return (final column names in file order, carried names in file order)."""
    final: list[str] = []
    for raw in header:
        name = trim(raw)
        # column_map keys match trimmed header names case-insensitively; the
        # value is used as given.
        # SPEC-AMBIGUITY: when several keys match the same header (e.g. "amt"
        # and "AMT"), the first in the map's order wins.  Mapped values are NOT
        # trimmed ("used as given").
        for key, value in column_map.items():
            if key.lower() == name.lower():
                name = value
                break
        if name.lower() in REQUIRED:
            name = name.lower()
        final.append(name)

    missing = [r for r in REQUIRED if r not in final]
    if missing:
        raise _fail(
            "missing_column",
            f"missing required column(s): {', '.join(missing)}; found: {', '.join(final)}",
            *missing,
            *final,
        )
    dups: list[str] = []
    for name in final:
        if final.count(name) > 1 and name not in dups:
            dups.append(name)
    if dups:
        raise _fail(
            "duplicate_column",
            f"duplicate column name(s) after mapping: {', '.join(dups)}",
            *dups,
        )
    carried = [n for n in final if n not in REQUIRED]
    # SPEC 5: checked after the duplicate names.
    reserved = [n for n in carried if n in ("source_row", "revenue_per_unit", "z_score", "threshold")]
    if reserved:
        raise _fail(
            "reserved_column",
            f"column name(s) reserved for the outputs: {', '.join(reserved)}; rename them with column_map",
            *reserved,
        )
    return final, carried


# --------------------------------------------------------------------------
# Section 2: cleaning
# --------------------------------------------------------------------------


def _clean_record(
    record: list[str], final: list[str], fill: dict[str, str]
) -> tuple[str, str, str] | dict[str, str]:
    """Apply rules 1-7 to one record.

    Returns either (reason, column, value) for a rejection or the dict of
    trimmed (and filled) cells by final column name.
    """
    # Rule 1: field count (before trimming).
    if len(record) != len(final):
        return ("field_count", "", "")
    # Rule 2: trim every cell.
    cells = {name: trim(raw) for name, raw in zip(final, record)}
    # Rule 3: fill_missing fills missing cells with the constant.
    for name, constant in fill.items():
        if is_missing(cells[name]):
            cells[name] = constant
    # Rule 4: missing values, region, revenue, quantity, discount in that order.
    for name in REQUIRED:
        if is_missing(cells[name]):
            return ("missing_value", name, cells[name])
    # Rule 5: plain finite decimal numbers.
    numbers: dict[str, float] = {}
    for name in NUMERIC:
        value = parse_number(cells[name])
        if value is None:
            return ("not_a_number", name, cells[name])
        numbers[name] = value
    # Rule 6: zero quantity (0, -0, 0.0, 0e5, 1e-400 ...).
    if numbers["quantity"] == 0:
        return ("zero_quantity", "quantity", cells["quantity"])
    # Rule 7: ranges, in order revenue, quantity, discount.
    if not numbers["revenue"] >= 0:
        return ("out_of_range", "revenue", cells["revenue"])
    if not numbers["quantity"] > 0:
        return ("out_of_range", "quantity", cells["quantity"])
    if not (0 <= numbers["discount"] <= 1):
        return ("out_of_range", "discount", cells["discount"])
    return cells


def _exact_stats(values: list[float]) -> tuple[Fraction, Decimal]:
    """Exact mean and (sample, n-1) standard deviation to 60 significant digits."""
    n = len(values)
    mean = sum((Fraction(v) for v in values), Fraction(0)) / n
    ss = sum(((Fraction(v) - mean) ** 2 for v in values), Fraction(0))
    var = ss / (n - 1)
    with localcontext() as ctx:
        ctx.prec = 60
        std = (Decimal(var.numerator) / Decimal(var.denominator)).sqrt()
    return mean, std


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def run_oracle(data: bytes, options: dict | None = None, *, max_file_bytes: int = 2**31) -> OracleResult:
    try:
        return _run(data, dict(options or {}), max_file_bytes)
    except _FileFailure as failure:
        return OracleResult(error=failure.message, error_kind=failure.kind, error_facts=failure.facts)


def _run(data: bytes, options: dict, max_file_bytes: int) -> OracleResult:
    # SPEC 5 row 1: "larger than" the limit; a file of exactly the limit is fine.
    if len(data) > max_file_bytes:
        raise _fail(
            "size",
            f"file is {len(data)} bytes; the limit is {max_file_bytes}",
            len(data),
            max_file_bytes,
        )

    text = _check_nul_and_decode(data, options.get("encoding", "utf-8"), "encoding" in options)
    delimiter = _validate_delimiter(options)
    records = _read_records(text, delimiter)
    if not records:
        raise _fail("empty", "file is empty: no header row")

    column_map = _validate_column_map(options)
    final, carried = _resolve_header(records[0], column_map)
    # SPEC-AMBIGUITY: the remaining option checks (unknown keys, anomaly_k,
    # drop_duplicates, fill_missing) come after the header checks, following
    # SPEC 5's order literally ("bad option" is the last row of the table).
    k, fill, drop_duplicates = _validate_rest(options, final)

    # SPEC-AMBIGUITY: column order of cleaned.parquet / anomalies.csv is
    # "source_row, region, revenue, quantity, discount, <carried in file
    # order>, revenue_per_unit[, z_score, threshold]".  compare() checks column
    # ORDER only when asked (check_column_order=True); by default only the
    # column set.
    data_columns = list(REQUIRED) + carried

    result = OracleResult(
        region_summary_columns=list(REGION_SUMMARY_COLUMNS),
        anomalies_columns=["source_row", *data_columns, "revenue_per_unit", "z_score", "threshold"],
        rejected_rows_columns=list(REJECTED_COLUMNS),
        cleaned_columns=["source_row", *data_columns, "revenue_per_unit"],
        carried_columns=carried,
    )

    clean: list[dict[str, Any]] = []  # typed clean rows, file order
    rejected: list[tuple[int, str, str, str]] = []
    seen: set[tuple] = set()

    for source_row, record in enumerate(records[1:], start=1):
        outcome = _clean_record(record, final, fill)
        if isinstance(outcome, tuple):
            rejected.append((source_row, *outcome))
            continue
        cells = outcome
        nums = {name: parse_number(cells[name]) for name in NUMERIC}
        # Rule 8: duplicates (text columns compared as trimmed text, the three
        # numbers numerically: "1" == "1.0" == "1e0", "-0" == "0").
        if drop_duplicates:
            key = tuple(nums[name] if name in NUMERIC else cells[name] for name in final)
            if key in seen:
                rejected.append((source_row, "duplicate", "", ""))
                continue
            seen.add(key)
        row: dict[str, Any] = {"source_row": source_row, "region": cells["region"]}
        row.update(nums)
        for name in carried:
            row[name] = cells[name]
        row["revenue_per_unit"] = nums["revenue"] / nums["quantity"]
        clean.append(row)

    result.rows_read = len(records) - 1
    result.rows_clean = len(clean)
    result.rows_rejected = len(rejected)
    assert result.rows_read == result.rows_clean + result.rows_rejected

    result.cleaned = clean
    result.rejected_rows = [
        {"source_row": str(sr), "reason": reason, "column": column, "value": guard(value)}
        for sr, reason, column, value in sorted(rejected)
    ]

    # Region summary: one row per region, sorted by the raw region value.
    by_region: dict[str, list[dict[str, Any]]] = {}
    for row in clean:
        by_region.setdefault(row["region"], []).append(row)
    for region in sorted(by_region):
        rows = by_region[region]
        n = len(rows)
        revenue_sum = safe_sum(r["revenue"] for r in rows)
        result.region_summary.append(
            {
                "region": guard(region),
                "row_count": str(n),
                "revenue_sum": fmt_float(revenue_sum),
                "revenue_mean": fmt_float(revenue_sum / n),
                "quantity_sum": fmt_float(safe_sum(r["quantity"] for r in rows)),
                "discount_mean": fmt_float(safe_sum(r["discount"] for r in rows) / n),
            }
        )

    # Anomalies.
    result.rpu_by_row = {r["source_row"]: r["revenue_per_unit"] for r in clean}
    # SPEC-AMBIGUITY: if some revenue_per_unit overflowed to inf, mean/std are
    # not finite and (as with IEEE comparisons against nan) no row is an anomaly.
    finite = all(math.isfinite(r["revenue_per_unit"]) for r in clean)
    if len(clean) >= 2 and finite:
        mean_exact, std_exact = _exact_stats([r["revenue_per_unit"] for r in clean])
        with localcontext() as ctx:
            ctx.prec = 60
            mean_d = Decimal(mean_exact.numerator) / Decimal(mean_exact.denominator)
            threshold_d = mean_d + Decimal(k) * std_exact
            result.mean = float(mean_d)
            result.std = float(std_exact)
            result.threshold = float(threshold_d)
            no_spread = std_exact <= Decimal("1e-12") * abs(mean_d)
            if not no_spread:
                for r in clean:
                    rpu_d = Decimal(r["revenue_per_unit"])
                    if rpu_d > threshold_d:
                        z = float((rpu_d - mean_d) / std_exact)
                        out = {"source_row": str(r["source_row"]), "region": guard(r["region"])}
                        for name in NUMERIC:
                            out[name] = fmt_float(r[name])
                        for name in carried:
                            out[name] = guard(r[name])
                        out["revenue_per_unit"] = fmt_float(r["revenue_per_unit"])
                        out["z_score"] = fmt_float(z)
                        out["threshold"] = fmt_float(float(threshold_d))
                        result.anomalies.append(out)
    return result


# --------------------------------------------------------------------------
# Loading the production outputs
# --------------------------------------------------------------------------

OUTPUT_FILES = ("region_summary.csv", "anomalies.csv", "rejected_rows.csv", "cleaned.parquet")


@dataclass
class LoadedOutputs:
    error: str | None = None  # production's FileFailure.message, if it failed
    files_present: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # format problems found while loading

    region_summary: list[dict[str, str]] = field(default_factory=list)
    anomalies: list[dict[str, str]] = field(default_factory=list)
    rejected_rows: list[dict[str, str]] = field(default_factory=list)
    cleaned: list[dict[str, Any]] = field(default_factory=list)

    region_summary_columns: list[str] = field(default_factory=list)
    anomalies_columns: list[str] = field(default_factory=list)
    rejected_rows_columns: list[str] = field(default_factory=list)
    cleaned_columns: list[str] = field(default_factory=list)
    cleaned_types: dict[str, str] = field(default_factory=dict)  # "int" / "float" / "str" / other

    # Filled in by the caller from the production's return value (None = unknown).
    rows_read: int | None = None
    rows_clean: int | None = None
    rows_rejected: int | None = None
    anomaly_count: int | None = None


def _load_csv(path: Path, problems: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.append(f"{path.name}: starts with a UTF-8 byte-order mark (SPEC 3: without BOM)")
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{path.name}: not UTF-8 ({exc})")
        text = raw.decode("utf-8", errors="replace")
    with _unlimited_fields():
        rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        problems.append(f"{path.name}: no header row")
        return [], []
    header, body = rows[0], rows[1:]
    records = []
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            problems.append(f"{path.name}: CSV record {i} has {len(r)} fields, header has {len(header)}: {r!r}")
        records.append(dict(zip(header, r)))
    return header, records


def _arrow_kind(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "str"
    return f"other:{t}"


def load_outputs(out_dir: Path) -> LoadedOutputs:
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    loaded = LoadedOutputs()
    loaded.files_present = {name: (out_dir / name).is_file() for name in OUTPUT_FILES}
    for name, attr in (
        ("region_summary.csv", "region_summary"),
        ("anomalies.csv", "anomalies"),
        ("rejected_rows.csv", "rejected_rows"),
    ):
        if loaded.files_present[name]:
            header, records = _load_csv(out_dir / name, loaded.problems)
            setattr(loaded, attr, records)
            setattr(loaded, attr + "_columns", header)
    if loaded.files_present["cleaned.parquet"]:
        table = pq.read_table(out_dir / "cleaned.parquet")
        loaded.cleaned_columns = list(table.column_names)
        loaded.cleaned_types = {f.name: _arrow_kind(f.type) for f in table.schema}
        loaded.cleaned = table.to_pylist()
    return loaded


# --------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------

TOLERANT_NUMBERS = {"revenue_sum", "revenue_mean", "quantity_sum", "discount_mean", "z_score", "threshold"}
EXACT_NUMBERS = {"revenue", "quantity", "discount", "revenue_per_unit"}
REL_TOL = 1e-9


def classify_message(message: str) -> str:
    """Best-effort kind of a production failure message (wording may differ)."""
    m = message.lower()
    if "reserved for the outputs" in m:
        return "reserved_column"
    if re.search(r"\boption\b", m) or "unknown key" in m:
        return "option"
    if "limit" in m:
        return "size"
    if re.search(r"\bnul\b", m) or "binary" in m:
        return "nul"
    if "decod" in m:
        return "decode"
    if "unterminated" in m or "quot" in m:
        return "unterminated"
    if "duplicate" in m:
        return "duplicate_column"
    if "missing" in m or "required" in m:
        return "missing_column"
    if "empty" in m or "header" in m:
        return "empty"
    return "unknown"


def _fact_in(fact: str, message: str) -> bool:
    if fact.isdigit():
        return re.search(rf"(?<![0-9]){fact}(?![0-9])", message) is not None
    return fact in message


def _parse_float(cell: Any) -> float | None:
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


def _cmp_csv_cell(col: str, expected: str, actual: str | None) -> str | None:
    if actual is None:
        return f"column {col!r} absent (expected {expected!r})"
    if col in TOLERANT_NUMBERS or col in EXACT_NUMBERS:
        e, a = float(expected), _parse_float(actual)
        if a is None:
            return f"{col}: expected number {expected!r}, got {actual!r}"
        if col in TOLERANT_NUMBERS:
            ok = math.isclose(e, a, rel_tol=REL_TOL, abs_tol=REL_TOL)
        else:
            ok = e == a
        return None if ok else f"{col}: expected {expected!r}, got {actual!r}"
    return None if expected == actual else f"{col}: expected {expected!r}, got {actual!r}"


def _cmp_columns(label: str, expected: list[str], actual: list[str], check_order: bool) -> list[str]:
    diffs = []
    if set(expected) != set(actual) or len(expected) != len(actual):
        diffs.append(f"{label}: columns differ: expected {expected}, got {actual}")
    elif check_order and expected != actual:
        diffs.append(f"{label}: column order differs: expected {expected}, got {actual}")
    return diffs


def _cmp_table(
    label: str,
    key: str,
    expected: list[dict[str, str]],
    actual: list[dict[str, str]],
    borderline: set[str] = frozenset(),
) -> list[str]:
    diffs: list[str] = []
    exp_keys = [r[key] for r in expected]
    act_keys = [r.get(key) for r in actual]
    exp_map = {r[key]: r for r in expected}
    act_map = {r.get(key): r for r in actual}
    if len(act_map) != len(actual):
        diffs.append(f"{label}: repeated {key} values: {act_keys}")
    for k in exp_keys:
        if k not in act_map and k not in borderline:
            diffs.append(f"{label}: missing row {key}={k!r}: expected {exp_map[k]}")
    for k in act_keys:
        if k not in exp_map and k not in borderline:
            diffs.append(f"{label}: unexpected row {key}={k!r}: {act_map[k]}")
    common_exp = [k for k in exp_keys if k in act_map]
    common_act = [k for k in act_keys if k in exp_map]
    if common_exp != common_act:
        diffs.append(f"{label}: row order differs: expected {key} order {common_exp}, got {common_act}")
    for k in common_exp:
        for col, value in exp_map[k].items():
            d = _cmp_csv_cell(col, value, act_map[k].get(col))
            if d:
                diffs.append(f"{label} row {key}={k!r}: {d}")
    return diffs


def compare(oracle: OracleResult, loaded: LoadedOutputs, *, check_column_order: bool = False) -> list[str]:
    diffs: list[str] = []

    if oracle.error is not None:
        if loaded.error is None:
            return [f"oracle fails the file ({oracle.error!r}) but production succeeded"]
        kind = classify_message(loaded.error)
        if kind != oracle.error_kind:
            diffs.append(
                f"failure kind differs: oracle {oracle.error_kind} ({oracle.error!r}), "
                f"production looks like {kind} ({loaded.error!r})"
            )
        for fact in oracle.error_facts:
            if not _fact_in(fact, loaded.error):
                diffs.append(f"failure message {loaded.error!r} does not state {fact!r} (oracle: {oracle.error!r})")
        present = [n for n, p in loaded.files_present.items() if p]
        if present:
            diffs.append(f"failed file but output files were written: {present}")
        return diffs

    if loaded.error is not None:
        return [f"production fails the file ({loaded.error!r}) but oracle succeeds"]

    missing_files = [n for n in OUTPUT_FILES if not loaded.files_present.get(n)]
    if missing_files:
        diffs.append(f"output files missing: {missing_files}")
    diffs.extend(loaded.problems)

    for attr in ("rows_read", "rows_clean", "rows_rejected", "anomaly_count"):
        actual = getattr(loaded, attr)
        expected = getattr(oracle, attr)
        if actual is not None and actual != expected:
            diffs.append(f"{attr}: expected {expected}, got {actual}")

    diffs += _cmp_columns("region_summary.csv", oracle.region_summary_columns, loaded.region_summary_columns, check_column_order)
    diffs += _cmp_table("region_summary.csv", "region", oracle.region_summary, loaded.region_summary)

    diffs += _cmp_columns("rejected_rows.csv", oracle.rejected_rows_columns, loaded.rejected_rows_columns, check_column_order)
    diffs += _cmp_table("rejected_rows.csv", "source_row", oracle.rejected_rows, loaded.rejected_rows)

    diffs += _cmp_columns("anomalies.csv", oracle.anomalies_columns, loaded.anomalies_columns, check_column_order)
    # A row whose revenue_per_unit is within rounding of the threshold may
    # legitimately fall on either side ("strictly greater" is only decidable up
    # to summation order); such rows are not reported.
    borderline: set[str] = set()
    if oracle.threshold is not None:
        borderline = {
            str(sr)
            for sr, rpu in oracle.rpu_by_row.items()
            if math.isclose(rpu, oracle.threshold, rel_tol=REL_TOL, abs_tol=REL_TOL)
        }
    if borderline and loaded.anomaly_count is not None and oracle.anomaly_count != loaded.anomaly_count:
        diffs = [d for d in diffs if not d.startswith("anomaly_count")]
    diffs += _cmp_table("anomalies.csv", "source_row", oracle.anomalies, loaded.anomalies, borderline)

    diffs += _cmp_columns("cleaned.parquet", oracle.cleaned_columns, loaded.cleaned_columns, check_column_order)
    diffs += _cmp_cleaned(oracle, loaded)
    return diffs


def _cmp_cleaned(oracle: OracleResult, loaded: LoadedOutputs) -> list[str]:
    diffs: list[str] = []
    if loaded.cleaned:
        for col in oracle.cleaned_columns:
            want = "int" if col == "source_row" else "float" if col in EXACT_NUMBERS else "str"
            got = loaded.cleaned_types.get(col)
            if got is not None and got != want:
                diffs.append(f"cleaned.parquet: column {col!r} has type {got}, expected {want}")
    exp_rows = [r["source_row"] for r in oracle.cleaned]
    act_rows = [r.get("source_row") for r in loaded.cleaned]
    if exp_rows != act_rows:
        diffs.append(f"cleaned.parquet: source_row sequence differs: expected {exp_rows}, got {act_rows}")
        return diffs
    for exp, act in zip(oracle.cleaned, loaded.cleaned):
        for col, value in exp.items():
            got = act.get(col, "<absent>")
            if col in EXACT_NUMBERS:
                ok = isinstance(got, float) and got == value
            else:
                ok = got == value and type(got) is type(value)
            if not ok:
                diffs.append(f"cleaned.parquet row source_row={exp['source_row']}: {col}: expected {value!r}, got {got!r}")
    return diffs
