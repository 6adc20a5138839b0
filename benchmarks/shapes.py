"""The shapes of file the benchmark generator makes, and the knobs that vary them.

``narrow`` is the messy six-column file of ``generate.py``'s docstring.
``wide`` is a 21-column export of the kind people really drop::

    Row ID,Order ID,Order Date,Ship Date,Ship Mode,Customer ID,Customer Name,Segment,
    Country,City,State,Postal Code,Region,Product ID,Category,Sub-Category,
    Product Name,Sales,Quantity,Discount,Profit

CRLF line ends, quoted customer names holding a comma (``"Gute, Claire"``,
now and then an escaped quote), two date formats, postal codes with leading
zeros, accented and non-Latin regions and cities, long product names (quoted
when they hold a comma, an inch mark ``""`` or a line break), and a ``Sales``
column with ``#N/A`` and blank cells. ``Sales`` is mapped to ``revenue`` with
the option ``column_map {"Sales": "revenue"}`` (:data:`WIDE_OPTIONS`).

Knobs (:class:`Knobs`, flags of ``generate.py`` and ``run.py``) for both:
the number of distinct regions, extra characters of product-name text, the
share of quoted multi-line / comma-holding text cells, extra carried columns,
and the share of price spikes (the anomalies).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SHAPES = ("narrow", "wide")
WIDE_OPTIONS = {"column_map": {"Sales": "revenue"}}

WIDE_HEADER = [
    "Row ID", "Order ID", "Order Date", "Ship Date", "Ship Mode", "Customer ID", "Customer Name", "Segment",
    "Country", "City", "State", "Postal Code", "Region", "Product ID", "Category", "Sub-Category",
    "Product Name", "Sales", "Quantity", "Discount", "Profit",
]
WIDE_REGIONS = ["Île-de-France", "São Paulo", "Zürich", "Kraków", "東京", "Ōsaka", "Montréal", "Central", "West", "east"]
CITIES = ["Paris", "Lyon", "São Paulo", "Zürich", "Kraków", "東京", "大阪", "Montréal", "Québec", "Ürümqi", "Seattle"]
COUNTRIES = ["France", "Brasil", "Schweiz", "Polska", "日本", "Canada", "United States"]
STATES = ["IDF", "SP", "ZH", "MA", "東京都", "QC", "WA", "Auvergne-Rhône-Alpes"]
SHIP_MODES = ["Standard Class", "Second Class", "First Class", "Same Day"]
SEGMENTS = ["Consumer", "Corporate", "Home Office"]
CATEGORIES = ["Furniture", "Office Supplies", "Technology"]
SUBCATEGORIES = ["Bookcases", "Chairs", "Labels", "Tables", "Storage", "Phones", "Binders", "Art", "Paper"]
FIRST = ["Claire", "Jürgen", "Åsa", "Zoë", "Pat", "Renée", "José", "Søren", "Brosina", "Seán"]
LAST = ["Gute", "Müller", "Ångström", "Dubois", "O\"\"Brien", "Hoffman", "Nuñez", "Kowalski", "田中", "Lévesque"]
PRODUCT_WORDS = ["Bretford", "CR4500", "Series", "Slim", "Rectangular", "Table", "Eldon", "Fold", "Roll", "Cart",
                 "System", "Xerox", "Avery", "Heavy-Duty", "Binder", "Chrome", "Bulb", "Ergonomic", "Mesh", "Chair"]
SALES_DEFECTS = ["#N/A", "", "#N/A", " ", "#VALUE!", "n/a", '"$1,204.50"', "-12.00"]
PAD = 4  # characters of lorem text per unit of --text-len, cycled
LOREM = "lorem ipsum dolor sit amet, consectetur adipiscing elit sed do eiusmod tempor "


@dataclass(frozen=True)
class Knobs:
    """What varies a shape. None / defaults give the shape as it is documented."""

    regions: int | None = None  # distinct regions (default: the shape's list)
    text_len: int = 0  # extra characters of product-name text (cycled lorem, commas included)
    quote_rate: float | None = None  # share of product cells quoted with a comma / quote / line break
    extra_columns: int = 0  # carried text columns added after the shape's own
    anomaly_rate: float | None = None  # share of records with a price spike

    def region_names(self, base: list[str]) -> list[str]:
        if self.regions is None:
            return base
        names = list(base[: self.regions])
        names += [f"Région {i} — zone ñ" for i in range(len(names) + 1, self.regions + 1)]
        return names


def take(vocab: list[str], idx: np.ndarray) -> pa.Array:
    return pc.take(pa.array(vocab, pa.string()), pa.array(idx))


def ints(v: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(v), pa.string())


def decimal(units: np.ndarray, places: int) -> pa.Array:
    """Integer ``units`` (of 10**-places) as signed 'I.FF' text, integer arithmetic only."""
    sign = pc.if_else(pa.array(units < 0), "-", "")
    mag = np.abs(units)
    scale = 10**places
    frac = pc.utf8_lpad(ints(mag % scale), places, "0")
    return pc.binary_join_element_wise(sign, ints(mag // scale), ".", frac, "")


def longer(text: pa.Array, knobs: Knobs, rng: np.random.Generator) -> pa.Array:
    """Append 0..text_len characters of lorem text (it holds commas: such cells get quoted)."""
    if knobs.text_len <= 0:
        return text
    n = len(text)
    lengths = rng.integers(0, knobs.text_len + 1, size=n)
    pieces = [(LOREM * (knobs.text_len // len(LOREM) + 1))[:k] for k in range(knobs.text_len + 1)]
    tail = take(pieces, lengths)
    joined = pc.binary_join_element_wise(text, tail, " ")
    has_comma = pc.match_substring(tail, ",")
    return pc.if_else(has_comma, pc.binary_join_element_wise('"', joined, '"', ""), joined)


def extra_columns(n: int, count: int, rng: np.random.Generator) -> list[pa.Array]:
    words = ["alpha", "beta", "gamma", "délta", "ε", "zeta", "eta", "theta"]
    return [take(words, rng.integers(0, len(words), size=n)) for _ in range(count)]


def wide_columns(n: int, first_row: int, rng: np.random.Generator, eol: str, knobs: Knobs) -> list[pa.Array]:
    regions = knobs.region_names(WIDE_REGIONS)
    qty = np.minimum(rng.geometric(0.3, size=n), 14).astype(np.int64)
    price_cents = rng.integers(200, 90_000, size=n)
    spike = rng.random(n) < (0.002 if knobs.anomaly_rate is None else knobs.anomaly_rate)
    price_cents[spike] = rng.integers(2_000_000, 9_000_000, size=int(spike.sum()))
    disc_i = rng.integers(0, 5, size=n)
    disc = np.array([0, 10, 20, 30, 80])[disc_i]  # hundredths
    sales = qty * price_cents * (100 - disc) // 100  # cents
    month, day = rng.integers(1, 13, size=n), rng.integers(1, 29, size=n)
    order_date = pc.binary_join_element_wise(
        "2026", pc.utf8_lpad(ints(month), 2, "0"), pc.utf8_lpad(ints(day), 2, "0"), "-")
    ship_date = pc.binary_join_element_wise(ints(month), ints(np.minimum(day + 4, 28)), "2026", "/")
    names = pc.binary_join_element_wise(
        '"', take(LAST, rng.integers(0, len(LAST), size=n)), ", ", take(FIRST, rng.integers(0, len(FIRST), size=n)),
        '"', "")
    words = [take(PRODUCT_WORDS, rng.integers(0, len(PRODUCT_WORDS), size=n)) for _ in range(4)]
    product = longer(pc.binary_join_element_wise(*words, " "), knobs, rng)
    quoted = rng.random(n) < (0.01 if knobs.quote_rate is None else knobs.quote_rate)
    if quoted.any():
        special = pc.binary_join_element_wise('"', pc.filter(words[0], pa.array(quoted)),
                                              f', 60"" x 30""{eol}second line"', "")
        product = pc.replace_with_mask(product, pa.array(quoted), special)
    sales_text = decimal(sales, 2)
    defect = rng.random(n) < 0.03
    if defect.any():
        sales_text = pc.replace_with_mask(
            sales_text, pa.array(defect), take(SALES_DEFECTS, rng.integers(0, len(SALES_DEFECTS), size=int(defect.sum()))))
    quantity = ints(qty)
    zero = rng.random(n) < 0.002
    if zero.any():
        quantity = pc.replace_with_mask(quantity, pa.array(zero), pa.array(["0"] * int(zero.sum())))
    region = take(regions, rng.integers(0, len(regions), size=n))
    padded = rng.random(n) < 0.03
    if padded.any():
        region = pc.replace_with_mask(region, pa.array(padded),
                                      pc.binary_join_element_wise(" ", pc.filter(region, pa.array(padded)), "\t", ""))
    cols = [
        ints(np.arange(first_row, first_row + n)),
        pc.binary_join_element_wise("CA-2026-", ints(rng.integers(100_000, 999_999, size=n)), ""),
        order_date,
        ship_date,
        take(SHIP_MODES, rng.integers(0, len(SHIP_MODES), size=n)),
        pc.binary_join_element_wise("CG-", ints(rng.integers(10_000, 99_999, size=n)), ""),
        names,
        take(SEGMENTS, rng.integers(0, len(SEGMENTS), size=n)),
        take(COUNTRIES, rng.integers(0, len(COUNTRIES), size=n)),
        take(CITIES, rng.integers(0, len(CITIES), size=n)),
        take(STATES, rng.integers(0, len(STATES), size=n)),
        pc.utf8_lpad(ints(rng.integers(501, 99_950, size=n)), 5, "0"),
        region,
        pc.binary_join_element_wise("FUR-BO-", ints(rng.integers(10_000_000, 10_099_999, size=n)), ""),
        take(CATEGORIES, rng.integers(0, len(CATEGORIES), size=n)),
        take(SUBCATEGORIES, rng.integers(0, len(SUBCATEGORIES), size=n)),
        product,
        sales_text,
        quantity,
        decimal(disc, 2),
        decimal(rng.integers(-40_000_000, 40_000_000, size=n), 4),
    ]
    return cols + extra_columns(n, knobs.extra_columns, rng)


def wide_header(knobs: Knobs) -> str:
    return ",".join(WIDE_HEADER + [f"Extra {i + 1}" for i in range(knobs.extra_columns)])
