"""SPEC section 4: options, their precedence and their validation messages."""

from __future__ import annotations

import json

import pytest

from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.options import (
    ProcessingOptions,
    fill_constant_text,
    load_options,
    merge_option_layers,
    parse_options,
    read_sidecar,
)


def test_defaults():
    parsed = parse_options(None)
    assert parsed.options == ProcessingOptions()
    assert parsed.options.as_dict() == {
        "anomaly_k": 2.0,
        "column_map": {},
        "fill_missing": {},
        "drop_duplicates": False,
        "delimiter": ",",
        "encoding": "utf-8",
    }
    assert not parsed.problems and not parsed.reading_problems


def test_run_options_override_the_sidecar_key_by_key():
    merged = merge_option_layers({"anomaly_k": 3, "delimiter": ";"}, {"anomaly_k": 1.5, "drop_duplicates": None})
    assert merged == {"anomaly_k": 1.5, "delimiter": ";"}


def test_load_options_reads_the_sidecar_and_applies_run_options(tmp_path):
    sidecar = tmp_path / "sales.csv.json"
    sidecar.write_text(json.dumps({"anomaly_k": 3, "drop_duplicates": True}))
    parsed = load_options(sidecar, {"anomaly_k": 0})
    assert parsed.options.anomaly_k == 0.0 and parsed.options.drop_duplicates is True


@pytest.mark.parametrize(
    "options, message",
    [
        ({"anomaly_k": "high"}, 'option anomaly_k must be a number >= 0, got "high"'),
        ({"anomaly_k": -1}, "option anomaly_k must be a number >= 0, got -1"),
        ({"anomaly_k": True}, "option anomaly_k must be a number >= 0, got true"),
        ({"drop_duplicates": "yes"}, 'option drop_duplicates must be true or false, got "yes"'),
        ({"fill_missing": {"discount": [0]}}, 'option fill_missing["discount"] must be a string or a number, got [0]'),
        ({"fill_missing": {"discount": None}}, 'option fill_missing["discount"] must be a string or a number, got null'),
        ({"fill_missing": "0"}, 'option fill_missing must be an object of column -> string or number, got "0"'),
        ({"speed": "fast"}, 'unknown option "speed"'),
    ],
)
def test_bad_option_messages_name_the_key_and_value(options, message):
    problems = parse_options(options).problems
    assert problems and problems[0].startswith(message)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"delimiter": ";;"}, 'got ";;"'),
        ({"delimiter": '"'}, "got \"\\\"\""),
        ({"delimiter": "\n"}, 'got "\\n"'),
        ({"delimiter": 5}, "got 5"),
        ({"encoding": "klingon"}, 'option encoding names an unknown codec: "klingon"'),
        ({"column_map": {"a": 1}}, 'option column_map must be an object of string -> string, got {"a": 1}'),
    ],
)
def test_options_needed_to_read_the_file_are_reading_problems(options, message):
    problems = parse_options(options).reading_problems
    assert problems and message in problems[0]


@pytest.mark.parametrize("value, text", [(0, "0"), (-3, "-3"), (2.5, "2.5"), (0.1, "0.1"), (1e20, "1e+20")])
def test_numeric_fill_constants_become_their_decimal_text(value, text):
    assert fill_constant_text(value) == text
    assert parse_options({"fill_missing": {"discount": value}}).options.fill_missing == {"discount": text}


def test_sidecar_must_be_a_json_object(tmp_path):
    sidecar = tmp_path / "s.csv.json"
    sidecar.write_text("[1, 2]")
    with pytest.raises(FileFailure, match="must hold a JSON object"):
        read_sidecar(sidecar)
    sidecar.write_text("{not json")
    with pytest.raises(FileFailure, match="is not valid JSON"):
        read_sidecar(sidecar)


def test_broken_sidecar_is_reported_as_a_bad_option_not_raised(tmp_path):
    sidecar = tmp_path / "s.csv.json"
    sidecar.write_text("{oops")
    parsed = load_options(sidecar, None)
    assert parsed.problems[0].startswith("sidecar s.csv.json is not valid JSON")


def test_absent_sidecar_is_fine(tmp_path):
    assert read_sidecar(tmp_path / "none.csv.json") is None
