"""Deterministic generator of a messy sales CSV for the benchmarks.

    python -m benchmarks.generate --rows N --seed S --out PATH [--shape narrow|wide] [--crlf]
        [--ragged-rate R] [--regions N] [--text-len L] [--quote-rate Q] [--extra-columns C]
        [--anomaly-rate A]

Two shapes (``--shape``, see :mod:`benchmarks.shapes`): ``narrow``, described
below, and ``wide``, a 21-column CRLF export whose ``Sales`` column needs the
option ``column_map {"Sales": "revenue"}``. The knobs vary either shape.

The same (rows, seed, flags) always give the same bytes: every chunk of
CHUNK_ROWS rows draws from its own generator seeded with (seed, chunk index),
and all formatting is done on integers (no float-to-text conversion whose
output could differ between library versions).

Columns: ``region,revenue,quantity,discount,product,channel``; the header is
written with padding and odd case (`` Region ,Revenue,quantity , DISCOUNT,...``),
which SPEC §1 allows (names are trimmed and matched case-insensitively).

Per data record, at most one of these "defects" (mutually exclusive, drawn
from one uniform number; rates are of records):

=================  ======  =================================================
defect             rate    what
=================  ======  =================================================
blank              1.0 %   one cell (any of the 6 columns) is empty
missing token      0.5 %   one required cell is ``n/a``, ``NULL``, ``NA`` ...
non-number         0.5 %   revenue/quantity/discount is ``"1,200"``, ``$12``,
                           ``abc``, ``15%``, ``inf``, ``0x1F``, ``1e309``, ...
zero quantity      0.3 %   quantity is ``0``, ``0.0``, ``-0``, ``0e5``
out of range       0.2 %   negative revenue/quantity or discount outside [0,1]
price spike        0.2 %   unit price $300-$3000 instead of <= $65 (anomaly)
=================  ======  =================================================

Independently of those: ~3 % of cells are padded with spaces/tabs (including
a no-break space now and then), ~0.05 % of product cells are quoted fields
holding a comma, an escaped quote or a line break (``\\n``, or ``\\r\\n`` with
``--crlf``), and with ``--ragged-rate`` a share of records gets one field too
few or too many (off by default: they push the DuckDB baseline onto its
slower single-threaded reader, see duckdb_job.py).

Eight regions, three of them non-ASCII (``Île-de-France``, ``São Paulo``,
``東京``) plus a lower-case ``west`` that SPEC says is a region of its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.shapes import SHAPES, Knobs, extra_columns, longer, wide_columns, wide_header

CHUNK_ROWS = 250_000

HEADER = " Region ,Revenue,quantity , DISCOUNT,product,channel"

REGIONS = ["East", "West", "North", "South", "Île-de-France", "São Paulo", "東京", "west"]
REGION_P = [0.2, 0.2, 0.15, 0.15, 0.1, 0.08, 0.07, 0.05]
PRODUCTS = ["cog", "gear", "nut", "bolt", "pipe", "valve", "pump", "cap"]
# typical unit price in cents, per product
PRODUCT_PRICE = np.array([1299, 2450, 899, 4999, 1575, 650, 120, 45], dtype=np.int64)
CHANNELS = ["web", "store", "phone", "partner"]
CHANNEL_P = [0.5, 0.3, 0.15, 0.05]
DISCOUNTS = ["0", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3", "0.5"]
DISCOUNT_VAL = np.array([0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5])
DISCOUNT_P = [0.4, 0.15, 0.15, 0.1, 0.08, 0.05, 0.05, 0.02]

MISSING_TOKENS = ["n/a", "NULL", "N/A", "null", "NA", "none", "NaN"]
NON_NUMBERS = ['"1,200"', "$12", "abc", "15%", "inf", "0x1F", "1e309", "12 3", "1.2.3", "１２"]
ZERO_QTY = ["0", "0.0", "-0", "0e5", "+0"]
PADS_LEFT = [" ", "  ", "\t", "   ", "\u00a0"]
PADS_RIGHT = [" ", "  ", " \t", "    ", ""]

# Defect thresholds on one uniform draw per record (cumulative).
RATES = [
    ("blank", 0.010),
    ("missing", 0.005),
    ("nonnum", 0.005),
    ("zeroqty", 0.003),
    ("range", 0.002),
    ("spike", 0.002),
]
PAD_RATE = 0.03
QUOTED_RATE = 0.0005


def _take(vocab: list[str], idx: np.ndarray) -> pa.Array:
    return pc.take(pa.array(vocab, pa.string()), pa.array(idx))


def _ints_to_str(v: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(v), pa.string())


def _cents_to_str(cents: np.ndarray) -> pa.Array:
    """Non-negative integer cents -> 'I.FF' text, with integer arithmetic only."""
    whole = _ints_to_str(cents // 100)
    frac = pc.utf8_lpad(_ints_to_str(cents % 100), 2, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def _replace(col: pa.Array, mask: np.ndarray, values) -> pa.Array:
    """Replace col[mask] with values(k), an array of k = mask.sum() strings
    (or a function of the masked sub-array of col returning one)."""
    k = int(np.count_nonzero(mask))
    if k == 0:
        return col
    if callable(values):
        values = values(pc.filter(col, pa.array(mask)))
    return pc.replace_with_mask(col, pa.array(mask), values)


def _pick(vocab: list[str], rng: np.random.Generator):
    """values() for _replace: k random picks from vocab."""
    return lambda sub: _take(vocab, rng.integers(0, len(vocab), size=len(sub)))


def _chunk_columns(
    n: int, rng: np.random.Generator, eol: str, ragged_rate: float, knobs: Knobs = Knobs()
) -> list[pa.Array]:
    regions = knobs.region_names(REGIONS)
    if knobs.regions is None:
        region_i = rng.choice(len(REGIONS), size=n, p=REGION_P)
    else:
        region_i = rng.integers(0, len(regions), size=n)
    product_i = rng.integers(0, len(PRODUCTS), size=n)
    channel_i = rng.choice(len(CHANNELS), size=n, p=CHANNEL_P)
    qty = np.minimum(rng.geometric(0.35, size=n), 40).astype(np.int64)
    disc_i = rng.choice(len(DISCOUNTS), size=n, p=DISCOUNT_P)
    # unit price: product's price +- 30 %
    price = PRODUCT_PRICE[product_i] * rng.uniform(0.7, 1.3, size=n)

    u = rng.random(n)
    rates = RATES if knobs.anomaly_rate is None else [*RATES[:-1], ("spike", knobs.anomaly_rate)]
    edges = np.cumsum([r for _, r in rates])
    kind = np.searchsorted(edges, u, side="right")  # 0..5 defect, 6 = clean
    is_ = {name: kind == i for i, (name, _) in enumerate(RATES)}
    which = rng.integers(0, 6, size=n)  # which column a defect hits

    spike = is_["spike"]
    # spike: $300-$3000 per unit, far above any normal unit price (<= $65)
    price[spike] = rng.uniform(30_000, 300_000, size=int(spike.sum()))
    cents = np.rint(qty * price * (1.0 - DISCOUNT_VAL[disc_i])).astype(np.int64)

    cols = [
        _take(regions, region_i),
        _cents_to_str(cents),
        _ints_to_str(qty),
        _take(DISCOUNTS, disc_i),
        _take(PRODUCTS, product_i),
        _take(CHANNELS, channel_i),
    ]

    def neg(sub):
        return pc.binary_join_element_wise("-", sub, "")

    # out of range: negative revenue, negative quantity, discount > 1 or < 0
    m = is_["range"]
    cols[1] = _replace(cols[1], m & (which % 4 == 0), neg)
    cols[2] = _replace(cols[2], m & (which % 4 == 1), neg)
    cols[3] = _replace(cols[3], m & (which % 4 >= 2), _pick(["1.5", "2", "1.0001", "-0.1", "-1"], rng))

    # zero quantity
    cols[2] = _replace(cols[2], is_["zeroqty"], _pick(ZERO_QTY, rng))

    # non-numbers in one of revenue/quantity/discount
    for c in (1, 2, 3):
        cols[c] = _replace(cols[c], is_["nonnum"] & (which % 3 + 1 == c), _pick(NON_NUMBERS, rng))

    # missing tokens in one required column
    for c in range(4):
        cols[c] = _replace(cols[c], is_["missing"] & (which % 4 == c), _pick(MISSING_TOKENS, rng))

    # padding: ~PAD_RATE of cells, independently per column
    def pad(sub):
        k = len(sub)
        left = _take(PADS_LEFT, rng.integers(0, len(PADS_LEFT), size=k))
        right = _take(PADS_RIGHT, rng.integers(0, len(PADS_RIGHT), size=k))
        return pc.binary_join_element_wise(left, sub, right, "")

    for c in range(6):
        m = rng.random(n) < PAD_RATE
        if c in (1, 2, 3):  # never pad a quoted cell ("1,200"): it would stop being quoted
            m &= ~pc.starts_with(cols[c], '"').to_numpy(zero_copy_only=False)
        cols[c] = _replace(cols[c], m, pad)

    # blanks (after padding so a blank is sometimes just spaces)
    for c in range(6):
        cols[c] = _replace(cols[c], is_["blank"] & (which == c), _pick(["", "", " ", "  "], rng))

    # quoted product fields with a comma, an escaped quote or a line break
    m = rng.random(n) < (QUOTED_RATE if knobs.quote_rate is None else knobs.quote_rate)
    if m.any():
        quoted = [
            '"{p}, large"',
            '"{p} 12"" pack"',
            '"{p}' + eol + 'second line"',
            '" {p} ,' + eol + ' multi, line "',
        ]
        flat = [q.format(p=p) for p in PRODUCTS for q in quoted]
        idx = product_i[m] * len(quoted) + rng.integers(0, len(quoted), size=int(m.sum()))
        cols[4] = _replace(cols[4], m, _take(flat, idx))
    if knobs.text_len:
        cols[4] = _replace(cols[4], ~m, lambda sub: longer(sub, knobs, rng))
    cols += extra_columns(n, knobs.extra_columns, rng)

    # ragged records (optional): one field too many (",x" after channel) or
    # too few (channel dropped, see _chunk_bytes)
    if ragged_rate > 0:
        m = rng.random(n) < ragged_rate
        extra = rng.random(n) < 0.5
        cols[-1] = _replace(cols[-1], m & extra, lambda sub: pc.binary_join_element_wise(sub, "x", ","))
        cols.append(pa.array(m & ~extra))
    return cols


def _chunk_bytes(
    n: int, rng: np.random.Generator, eol: str, ragged_rate: float, knobs: Knobs, shape: str, first_row: int
) -> memoryview:
    if shape == "wide":
        cols = wide_columns(n, first_row, rng, eol, knobs)
    else:
        cols = _chunk_columns(n, rng, eol, ragged_rate, knobs)
    short = None
    if cols[-1].type == pa.bool_():
        short = cols.pop()
    line = pc.binary_join_element_wise(*cols, ",")
    if short is not None and pc.any(short).as_py():
        fewer = pc.binary_join_element_wise(*cols[:-1], ",")
        line = pc.if_else(short, fewer, line)
    line = pc.binary_join_element_wise(line, "", eol)
    if isinstance(line, pa.ChunkedArray):
        line = line.combine_chunks()
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32)[line.offset : line.offset + n + 1]
    data = line.buffers()[2]
    return memoryview(data)[offsets[0] : offsets[-1]]


def header(shape: str, knobs: Knobs) -> str:
    if shape == "wide":
        return wide_header(knobs)
    return HEADER + "".join(f",Extra {i + 1}" for i in range(knobs.extra_columns))


def generate(
    rows: int, seed: int, out: str, crlf: bool = False, ragged_rate: float = 0.0,
    shape: str = "narrow", knobs: Knobs = Knobs(),
) -> int:
    """Write the file; return its size in bytes. The wide shape always has CRLF line ends."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; the shapes are {', '.join(SHAPES)}")
    eol = "\r\n" if crlf or shape == "wide" else "\n"
    tmp = f"{out}.tmp{os.getpid()}"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(tmp, "wb") as f:
        f.write((header(shape, knobs) + eol).encode("utf-8"))
        done = 0
        chunk = 0
        while done < rows:
            n = min(CHUNK_ROWS, rows - done)
            rng = np.random.default_rng([seed, chunk])
            f.write(_chunk_bytes(n, rng, eol, ragged_rate, knobs, shape, done + 1))
            done += n
            chunk += 1
    os.replace(tmp, out)
    return os.path.getsize(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, required=True, help="number of data records")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", required=True)
    ap.add_argument("--crlf", action="store_true", help="CRLF line endings")
    ap.add_argument(
        "--ragged-rate",
        type=float,
        default=0.0,
        help="share of records with one field too many/few (default 0)",
    )
    add_knob_flags(ap)
    a = ap.parse_args(argv)
    if a.rows < 0:
        ap.error("--rows must be >= 0")
    t0 = time.perf_counter()
    size = generate(a.rows, a.seed, a.out, a.crlf, a.ragged_rate, a.shape, knobs_of(a))
    dt = time.perf_counter() - t0
    print(f"wrote {a.out}: {a.rows} rows, {size} bytes in {dt:.2f} s", file=sys.stderr)
    return 0


def add_knob_flags(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--shape", choices=SHAPES, default="narrow", help="narrow messy (default) or wide export")
    ap.add_argument("--regions", type=int, default=None, help="number of distinct regions (default: the shape's)")
    ap.add_argument("--text-len", type=int, default=0, help="up to this many extra characters of product text")
    ap.add_argument("--quote-rate", type=float, default=None, help="share of quoted multi-line product cells")
    ap.add_argument("--extra-columns", type=int, default=0, help="carried text columns added to the shape's")
    ap.add_argument("--anomaly-rate", type=float, default=None, help="share of records with a price spike")


def knobs_of(a: argparse.Namespace) -> Knobs:
    return Knobs(a.regions, a.text_len, a.quote_rate, a.extra_columns, a.anomaly_rate)


if __name__ == "__main__":
    sys.exit(main())
