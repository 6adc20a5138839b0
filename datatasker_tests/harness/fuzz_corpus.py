"""Seeded mutation fuzzing corpus for DataTasker (issue 6).

``fuzz_cases(n, seed)`` yields ``FuzzCase(name, data, options)``: small valid
CSV files (``base_file``) with one to three mutators applied. Everything is
driven by one ``random.Random(seed)``, so a case is reproduced by its
(seed, index) pair, which is also in its name.

The mutators are the hostile inputs people actually produce: files cut off
mid-write, flipped bytes, stray and unterminated quotes, old-Mac CR-only line
ends, a 1 MB cell, UTF-16 with and without a BOM (declared or not), a double
BOM, ``1e309``, extra delimiters, NUL bytes and invalid UTF-8.
"""

from __future__ import annotations

import codecs
import random
from dataclasses import dataclass, field
from typing import Callable, Iterator

REGIONS = ["East", "West", "west", "Île-de-France", "東京", "=cmd", "-x", "", "NA", "São Paulo"]
NUMBERS = ["10", "0", "-0", "1.", ".5", "1e3", "2.5", "-3", "1,200", "$12", "abc", "", "n/a", "7", "0.25", "1e-400"]
NOTES = ["a", "", "x y", "line1\nline2", "say \"hi\"", "@x", "ß", "  padded  "]
HEADERS = [
    ["region", "revenue", "quantity", "discount"],
    ["Region", " REVENUE ", "quantity", "discount", "note"],
    ["note", "region", "revenue", "quantity", "discount", "channel"],
]


@dataclass
class FuzzCase:
    name: str
    data: bytes
    options: dict = field(default_factory=dict)
    mutators: tuple[str, ...] = ()

    def __repr__(self) -> str:  # readable pytest ids / failure output
        return f"FuzzCase({self.name}, {len(self.data)} bytes, options={self.options})"


def _quote(cell: str, delimiter: str) -> str:
    if any(ch in cell for ch in (delimiter, '"', "\r", "\n")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def base_file(rng: random.Random) -> tuple[str, dict]:
    """A small valid CSV (as text) and its options: header plus 0-12 records."""
    header = list(rng.choice(HEADERS))
    delimiter = rng.choice([",", ",", ",", ";", "\t"])
    options: dict = {} if delimiter == "," else {"delimiter": delimiter}
    newline = rng.choice(["\n", "\r\n"])
    lines = [delimiter.join(_quote(h, delimiter) for h in header)]
    for _ in range(rng.randint(0, 12)):
        row = []
        for column in header:
            name = column.strip().lower()
            if name == "region":
                row.append(rng.choice(REGIONS))
            elif name in ("revenue", "quantity", "discount"):
                row.append(rng.choice(NUMBERS) if rng.random() < 0.3 else str(rng.choice([1, 2, 3, 0.5, 0.1, 12.75, 100])))
            else:
                row.append(rng.choice(NOTES))
        lines.append(delimiter.join(_quote(c, delimiter) for c in row))
    text = newline.join(lines) + (newline if rng.random() < 0.8 else "")
    if rng.random() < 0.2:
        options["anomaly_k"] = rng.choice([0, 0.5, 1, 3])
    if rng.random() < 0.2:
        options["drop_duplicates"] = True
    return text, options


# --------------------------------------------------------------------------
# Mutators: (rng, data, options) -> (data, options). Options are copied.
# --------------------------------------------------------------------------

Mutator = Callable[[random.Random, bytes, dict], tuple[bytes, dict]]


def truncate(rng, data, options):
    return data[: rng.randint(0, len(data))], options


def byte_flip(rng, data, options):
    if not data:
        return bytes([rng.randrange(256)]), options
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        out[i] = rng.choice([out[i] ^ (1 << rng.randrange(8)), rng.randrange(256)])
    return bytes(out), options


def _insert(rng, data: bytes, piece: bytes) -> bytes:
    i = rng.randint(0, len(data))
    return data[:i] + piece + data[i:]


def stray_quote(rng, data, options):
    return _insert(rng, data, b'"'), options


def unterminated_quote(rng, data, options):
    """Open a quoted field at the start of a random line and never close it."""
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    lines[i] = b'"' + lines[i].replace(b'"', b"")
    return b"\n".join(lines[: i + 1]) + rng.choice([b"", b"\n", b"\nEast,1,1,0\n"]), options


def cr_only(rng, data, options):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r"), options


def megabyte_cell(rng, data, options):
    """A 1 MB cell in some line (quoted or not, sometimes with line breaks inside)."""
    cell = rng.choice([b"x", b"ab", "é".encode()]) * (1 << 20 if rng.random() < 0.7 else 1 << 19)
    if rng.random() < 0.3:
        cell = b'"' + cell[: 1000] + b"\n" + cell + b'"'
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    lines[i] = cell + (b"," + lines[i] if lines[i] else b"")
    return b"\n".join(lines), options


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def utf16_bom(rng, data, options):
    options = dict(options)
    choice = rng.random()
    if choice < 0.5:
        options["encoding"] = "utf-16"
    elif choice < 0.75:
        options["encoding"] = "utf-16-le"  # BOM with an explicit byte order: the BOM is a character
    else:
        options.pop("encoding", None)  # undeclared: read as UTF-8, which sees NUL bytes
    return _text(data).encode("utf-16"), options


def utf16_no_bom(rng, data, options):
    options = dict(options)
    codec = rng.choice(["utf-16-le", "utf-16-be"])
    r = rng.random()
    if r < 0.6:
        options["encoding"] = codec
    elif r < 0.8:
        options["encoding"] = "utf-16"  # no BOM: little-endian assumed
    else:
        options.pop("encoding", None)
    return _text(data).encode(codec), options


def double_bom(rng, data, options):
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    return codecs.BOM_UTF8 * 2 + body, options


def huge_number(rng, data, options):
    """``1e309`` (and friends) in place of a random cell."""
    token = rng.choice([b"1e309", b"-1e309", b"1e308", b"1e-400", b"9" * 400, b"1e99999", b"inf", b"NaN"])
    lines = data.split(b"\n")
    if len(lines) < 2:
        return data + b"\nEast," + token + b",1,0\n", options
    i = rng.randrange(1, len(lines))
    cells = lines[i].split(b",")
    cells[rng.randrange(len(cells))] = token
    lines[i] = b",".join(cells)
    return b"\n".join(lines), options


def extra_delimiters(rng, data, options):
    delimiter = options.get("delimiter", ",").encode()
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        where = rng.choice(["end", "start", "middle", "only"])
        if where == "end":
            lines[i] += delimiter * rng.randint(1, 3)
        elif where == "start":
            lines[i] = delimiter + lines[i]
        elif where == "only":
            lines[i] = delimiter * rng.randint(1, 8)
        else:
            lines[i] = _insert(rng, lines[i], delimiter)
    return b"\n".join(lines), options


def nul_bytes(rng, data, options):
    out = data
    for _ in range(rng.randint(1, 2)):
        out = _insert(rng, out, b"\x00")
    return out, options


def invalid_utf8(rng, data, options):
    piece = rng.choice([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xc0\xaf"])
    return _insert(rng, data, piece), options


def header_damage(rng, data, options):
    """Break the header: drop, duplicate or blank out a column name."""
    first, sep, rest = data.partition(b"\n")
    delimiter = options.get("delimiter", ",").encode()
    names = first.split(delimiter)
    action = rng.choice(["drop", "dup", "blank", "reserved"])
    i = rng.randrange(len(names))
    if action == "drop" and len(names) > 1:
        del names[i]
    elif action == "dup":
        names.insert(i, names[i])
    elif action == "blank":
        names[i] = b""
    else:
        names[i] = b"source_row"
    return delimiter.join(names) + sep + rest, options


def bad_option(rng, data, options):
    options = dict(options)
    key, value = rng.choice([
        ("anomaly_k", "high"), ("anomaly_k", -1), ("delimiter", ",,"), ("encoding", "no-such-codec"),
        ("fill_missing", {"nope": 0}), ("bogus", 1), ("drop_duplicates", "yes"), ("column_map", ["a"]),
        ("encoding", "latin-1"), ("encoding", "cp1252"), ("fill_missing", {"discount": 0}),
    ])
    options[key] = value
    return data, options


MUTATORS: dict[str, Mutator] = {
    "truncate": truncate,
    "byte_flip": byte_flip,
    "stray_quote": stray_quote,
    "unterminated_quote": unterminated_quote,
    "cr_only": cr_only,
    "megabyte_cell": megabyte_cell,
    "utf16_bom": utf16_bom,
    "utf16_no_bom": utf16_no_bom,
    "double_bom": double_bom,
    "huge_number": huge_number,
    "extra_delimiters": extra_delimiters,
    "nul_bytes": nul_bytes,
    "invalid_utf8": invalid_utf8,
    "header_damage": header_damage,
    "bad_option": bad_option,
}
# Mutators that make a file slow to check against the pure-Python oracle (a 1 MB cell).
SLOW_MUTATORS = {"megabyte_cell"}
# The encoding mutators re-encode the whole file; applied after them, byte-level
# mutators still make sense, text-level ones less so, which is fine for a fuzzer.


def mutate(rng: random.Random, data: bytes, options: dict, names: list[str]) -> tuple[bytes, dict]:
    for name in names:
        data, options = MUTATORS[name](rng, data, dict(options))
    return data, options


def fuzz_cases(n: int, seed: int = 20240601, *, megabyte_every: int = 25) -> Iterator[FuzzCase]:
    """``n`` cases; every mutator is used as the first one in turn, so each appears early.

    A 1 MB cell costs the oracle a second or so, so it is the first mutator
    only every ``megabyte_every`` cases (and never a later one).
    """
    rng = random.Random(seed)
    cheap = [m for m in MUTATORS if m not in SLOW_MUTATORS]
    order = list(cheap)
    for index in range(n):
        text, options = base_file(rng)
        data = text.encode("utf-8")
        if rng.random() < 0.1:
            data = codecs.BOM_UTF8 + data
        if index % megabyte_every == megabyte_every - 1:
            names = ["megabyte_cell"]
        else:
            names = [order[index % len(order)]]
        names += rng.sample(cheap, rng.choice([0, 0, 1, 2]))
        data, options = mutate(rng, data, options, names)
        yield FuzzCase(name=f"s{seed}-{index}-{'+'.join(names)}", data=data, options=options, mutators=tuple(names))


def cli_cases() -> list[FuzzCase]:
    """A fixed, fast subset for the real ``datatasker process`` CLI: one per failure family plus successes."""
    good = "region,revenue,quantity,discount,note\nEast,10,2,0.1,a\nWest,1e309,1,0,b\nEast,3,1,0,\"x\ny\"\n"
    return [
        FuzzCase("cli-success-messy", good.encode(), {}),
        FuzzCase("cli-cr-only", good.replace("\n", "\r").encode(), {}),
        FuzzCase("cli-truncated-in-quote", good.encode()[: good.index("x\ny") + 2], {}),
        FuzzCase("cli-nul", good.encode().replace(b"West", b"W\x00st"), {}),
        FuzzCase("cli-invalid-utf8", good.encode().replace(b"West", b"W\xffst"), {}),
        FuzzCase("cli-utf16-declared", good.encode("utf-16"), {"encoding": "utf-16"}),
        FuzzCase("cli-double-bom-extra-delims", codecs.BOM_UTF8 * 2 + good.replace("\n", ",,\n").encode(), {}),
        FuzzCase("cli-megabyte-cell", (good + "East,1,1,0," + "z" * (1 << 20) + "\n").encode(), {}),
    ]
