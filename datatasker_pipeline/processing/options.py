"""Processing options: parsing, validation and precedence.

Options come from three layers, merged key by key: the defaults, an optional
sidecar ``<file>.csv.json`` beside the dropped file, and the run's own config
(launchpad, GraphQL ``launchRun``, ``datatasker process --config``).

Validation never raises straight away: SPEC section 5 checks file problems
before option problems, so :func:`parse_options` returns the problems and the
reader raises the first one at the right moment.
"""

from __future__ import annotations

import codecs
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..vocabulary import DEFAULT_ANOMALY_K, OPTION_KEYS, SIDECAR_SUFFIX
from .errors import FileFailure


@dataclass(frozen=True)
class ProcessingOptions:
    """Validated options for one file, with their defaults."""

    anomaly_k: float = DEFAULT_ANOMALY_K
    column_map: Mapping[str, str] = field(default_factory=dict)
    # Constants already turned into the cell text they stand for.
    fill_missing: Mapping[str, str] = field(default_factory=dict)
    drop_duplicates: bool = False
    delimiter: str = ","
    encoding: str = "utf-8"

    def as_dict(self) -> dict[str, Any]:
        return {
            "anomaly_k": self.anomaly_k,
            "column_map": dict(self.column_map),
            "fill_missing": dict(self.fill_missing),
            "drop_duplicates": self.drop_duplicates,
            "delimiter": self.delimiter,
            "encoding": self.encoding,
        }


@dataclass(frozen=True)
class ParsedOptions:
    """Options with every usable value applied, plus the problems found.

    ``reading_problems`` make the file unreadable (bad encoding or delimiter);
    ``problems`` are the rest. Both are messages naming the key and value.
    """

    options: ProcessingOptions
    reading_problems: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


def _shown(value: Any) -> str:
    """A value as it would be written in JSON, so messages quote strings."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fill_constant_text(value: int | float) -> str:
    """The decimal text a numeric fill constant stands for (``0`` -> ``"0"``)."""
    return str(value) if isinstance(value, int) else repr(value)


def is_wide_unicode(encoding: str) -> bool:
    """UTF-16 and UTF-32 encode ASCII with NUL bytes, so NULs are checked after decoding."""
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def parse_options(raw: Mapping[str, Any] | None) -> ParsedOptions:
    """Validate a merged options mapping (SPEC section 4)."""
    raw = dict(raw or {})
    values: dict[str, Any] = {}
    reading: list[str] = []
    problems: list[str] = []

    for key in raw:
        if key not in OPTION_KEYS:
            problems.append(f"unknown option {_shown(key)}; the options are: {', '.join(OPTION_KEYS)}")

    if "encoding" in raw:
        encoding = raw["encoding"]
        if not isinstance(encoding, str):
            reading.append(f"option encoding must be a codec name, got {_shown(encoding)}")
        else:
            try:
                codecs.lookup(encoding)
                values["encoding"] = encoding
            except LookupError:
                reading.append(f"option encoding names an unknown codec: {_shown(encoding)}")

    if "delimiter" in raw:
        delimiter = raw["delimiter"]
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n\x00":
            reading.append(
                "option delimiter must be one character, not a quote, a line break or NUL, "
                f"got {_shown(delimiter)}"
            )
        else:
            values["delimiter"] = delimiter

    if "anomaly_k" in raw:
        k = raw["anomaly_k"]
        if not _is_number(k) or not math.isfinite(k) or k < 0:
            problems.append(f"option anomaly_k must be a number >= 0, got {_shown(k)}")
        else:
            values["anomaly_k"] = float(k)

    if "column_map" in raw:
        column_map = raw["column_map"]
        if not isinstance(column_map, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in column_map.items()
        ):
            reading.append(f"option column_map must be an object of string -> string, got {_shown(column_map)}")
        else:
            values["column_map"] = dict(column_map)

    if "fill_missing" in raw:
        fill = raw["fill_missing"]
        if not isinstance(fill, Mapping):
            problems.append(f"option fill_missing must be an object of column -> string or number, got {_shown(fill)}")
        else:
            constants: dict[str, str] = {}
            for column, constant in fill.items():
                if isinstance(constant, str):
                    constants[column] = constant
                elif isinstance(constant, int) and not isinstance(constant, bool) or (
                    isinstance(constant, float) and math.isfinite(constant)
                ):
                    constants[column] = fill_constant_text(constant)
                else:
                    problems.append(
                        f"option fill_missing[{_shown(column)}] must be a string or a number, got {_shown(constant)}"
                    )
            values["fill_missing"] = constants

    if "drop_duplicates" in raw:
        flag = raw["drop_duplicates"]
        if not isinstance(flag, bool):
            problems.append(f"option drop_duplicates must be true or false, got {_shown(flag)}")
        else:
            values["drop_duplicates"] = flag

    return ParsedOptions(ProcessingOptions(**values), tuple(reading), tuple(problems))


def merge_option_layers(sidecar: Mapping[str, Any] | None, run: Mapping[str, Any] | None) -> dict[str, Any]:
    """Run options override the sidecar's key by key; absent keys fall through."""
    merged = dict(sidecar or {})
    merged.update({k: v for k, v in (run or {}).items() if v is not None})
    return merged


def sidecar_path(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar's JSON object, or None when there is none.

    A sidecar that is not a JSON object fails the file like any bad option.
    """
    if not path.is_file():
        return None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFailure(f"sidecar {path.name} is not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise FileFailure(f"sidecar {path.name} must hold a JSON object of options, got {_shown(loaded)}")
    return loaded


def load_options(sidecar: Path | None, run_options: Mapping[str, Any] | None) -> ParsedOptions:
    """Merge and validate the sidecar (if any) with the run's options.

    A sidecar that cannot be read as a JSON object is reported like a bad
    option: after any file problem, as SPEC section 5 orders them.
    """
    try:
        sidecar_options = read_sidecar(sidecar) if sidecar else None
    except FileFailure as failure:
        parsed = parse_options(merge_option_layers(None, run_options))
        return ParsedOptions(parsed.options, parsed.reading_problems, (failure.message, *parsed.problems))
    return parse_options(merge_option_layers(sidecar_options, run_options))


def options_from_json(text: str | None) -> dict[str, Any] | None:
    """Options given on a command line as JSON (``--config``); ValueError when not a JSON object.

    Only the shape is checked here: the values are checked by the run, like
    every other source of options.
    """
    if text is None:
        return None
    try:
        options = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--config is not valid JSON: {error}") from None
    if not isinstance(options, dict):
        raise ValueError("--config must be a JSON object of options, e.g. '{\"anomaly_k\": 3}'")
    return options
