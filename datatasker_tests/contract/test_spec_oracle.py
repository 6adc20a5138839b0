"""Unit tests of the SPEC oracle itself: one small inline CSV per SPEC rule.

Each test shows the input next to the expected outcome so a reader can check
the oracle against the data contract (docs/data-contract.md) by eye.
"""

from __future__ import annotations

import math

import pytest

from datatasker_tests.harness.oracle import OracleResult, guard, run_oracle

H = "region,revenue,quantity,discount\n"


def run(text: str, options: dict | None = None, **kw) -> OracleResult:
    return run_oracle(text.encode("utf-8"), options, **kw)


def ok(text: str, options: dict | None = None, **kw) -> OracleResult:
    r = run(text, options, **kw)
    assert r.error is None, r.error
    assert r.rows_read == r.rows_clean + r.rows_rejected
    return r


def rejects(r: OracleResult) -> list[tuple[str, str, str, str]]:
    return [(x["source_row"], x["reason"], x["column"], x["value"]) for x in r.rejected_rows]


def fails(text_or_bytes, options=None, **kw) -> OracleResult:
    data = text_or_bytes if isinstance(text_or_bytes, bytes) else text_or_bytes.encode("utf-8")
    r = run_oracle(data, options, **kw)
    assert r.error is not None, "expected a whole-file failure"
    return r


# ---------------------------------------------------------------- section 1


def test_basic_clean_row_and_typed_cleaned():
    r = ok(H + "East,10,4,0.5\n")
    assert r.cleaned == [
        {"source_row": 1, "region": "East", "revenue": 10.0, "quantity": 4.0, "discount": 0.5, "revenue_per_unit": 2.5}
    ]
    assert r.region_summary == [
        {"region": "East", "row_count": "1", "revenue_sum": "10.0", "revenue_mean": "10.0",
         "quantity_sum": "4.0", "discount_mean": "0.5"}
    ]
    assert r.rejected_rows == [] and r.anomalies == []


def test_utf8_bom_dropped():
    r = run_oracle(b"\xef\xbb\xbf" + (H + "East,1,1,0\n").encode())
    assert r.error is None and r.cleaned[0]["region"] == "East"


def test_latin1_and_cp1252_and_utf16():
    r = run_oracle((H + "Île,1,1,0\n").encode("latin-1"), {"encoding": "latin-1"})
    assert r.cleaned[0]["region"] == "Île"
    r = run_oracle((H + "€uro,1,1,0\n").encode("cp1252"), {"encoding": "cp1252"})
    assert r.cleaned[0]["region"] == "€uro"
    r = run_oracle((H + "東京,1,1,0\n").encode("utf-16"), {"encoding": "utf-16"})
    assert r.cleaned[0]["region"] == "東京"


def test_quoting_rfc4180_and_crlf_inside_quotes_kept():
    r = ok('region,revenue,quantity,discount,note\r\n"East, A",1,1,0,"say ""hi""\r\nbye"\r\n')
    assert r.cleaned[0]["region"] == "East, A"
    assert r.cleaned[0]["note"] == 'say "hi"\r\nbye'
    assert r.rows_read == 1  # the multi-line record counts once


def test_empty_lines_skipped_and_not_counted():
    r = ok(H + "\n\nEast,1,1,0\n\r\n\nWest,2,1,0\n")
    assert [c["source_row"] for c in r.cleaned] == [1, 2]
    assert r.rows_read == 2


def test_spaces_only_line_is_one_field_record():
    r = ok(H + "   \n\t\nEast,1,1,0\n")
    assert rejects(r) == [("1", "field_count", "", ""), ("2", "field_count", "", "")]
    assert r.cleaned[0]["source_row"] == 3


def test_unicode_whitespace_only_line_is_a_record_too():
    r = ok(H + "\u3000\n")
    assert rejects(r) == [("1", "field_count", "", "")]


def test_delimiter_only_line_is_record_of_empty_fields():
    r = ok(H + ",,,\n")
    assert rejects(r) == [("1", "missing_value", "region", "")]


def test_header_trimmed_and_required_found_case_insensitively():
    r = ok(" REGION , Revenue ,quantity\t, Discount , Product \nEast,1,1,0, Widget \n")
    assert r.cleaned_columns == ["source_row", "region", "revenue", "quantity", "discount", "Product", "revenue_per_unit"]
    assert r.cleaned[0]["Product"] == "Widget"


def test_column_map_keys_case_insensitive_values_as_given():
    r = ok("Area,AMT,qty,disc,Extra\nEast,1,2,0,x\n",
           {"column_map": {"area": "Region", "amt": "revenue", "QTY": "quantity", "Disc": "discount", "extra": "Notes"}})
    assert r.cleaned[0] == {"source_row": 1, "region": "East", "revenue": 1.0, "quantity": 2.0, "discount": 0.0,
                            "Notes": "x", "revenue_per_unit": 0.5}


def test_carried_columns_in_file_order_case_sensitive_names():
    r = ok("note,region,revenue,Note,quantity,discount\na,East,1,b,1,0\n")
    assert r.carried_columns == ["note", "Note"]


def test_source_row_counts_data_records_only():
    r = ok(H + 'East,1,1,0\n\n"We\nst",2,1,0\nbad\n')
    assert [c["source_row"] for c in r.cleaned] == [1, 2]
    assert rejects(r) == [("3", "field_count", "", "")]


# ---------------------------------------------------------------- section 2


def test_rule1_field_count_too_few_and_too_many():
    r = ok(H + "East,1,1\nEast,1,1,0,extra\n")
    assert rejects(r) == [("1", "field_count", "", ""), ("2", "field_count", "", "")]


def test_rule2_cells_trimmed_unicode_whitespace():
    r = ok(H + "\u3000East\xa0,\x1c12\x1d, 3 ,\t0.5\t\n")
    assert r.cleaned[0]["region"] == "East" and r.cleaned[0]["revenue"] == 12.0


def test_rule3_fill_missing_numbers_and_strings():
    r = ok(H + "East,1,1,\n,2,1,NA\n", {"fill_missing": {"discount": 0, "region": "Unknown"}})
    assert [(c["region"], c["discount"]) for c in r.cleaned] == [("East", 0.0), ("Unknown", 0.0)]


def test_rule3_filled_cell_checked_like_any_other():
    r = ok(H + "East,,1,0\n", {"fill_missing": {"revenue": "abc"}})
    assert rejects(r) == [("1", "not_a_number", "revenue", "abc")]
    r = ok(H + "East,,1,0\n", {"fill_missing": {"revenue": "n/a"}})
    assert rejects(r) == [("1", "missing_value", "revenue", "n/a")]


def test_rule3_fill_missing_carried_column():
    r = ok("region,revenue,quantity,discount,note\nEast,1,1,0,\nEast,1,1,0,NULL\n", {"fill_missing": {"note": 7}})
    assert [c["note"] for c in r.cleaned] == ["7", "7"]


def test_rule4_missing_tokens_case_insensitive_and_order():
    r = ok(H + "NA,1,1,0\nEast,n/A,1,0\nEast,1,NaN,0\nEast,1,1,Null\nEast,1,1,NONE\n"
               "East,x,,0\n,,,\n")
    assert rejects(r) == [
        ("1", "missing_value", "region", "NA"),
        ("2", "missing_value", "revenue", "n/A"),
        ("3", "missing_value", "quantity", "NaN"),
        ("4", "missing_value", "discount", "Null"),
        ("5", "missing_value", "discount", "NONE"),
        ("6", "missing_value", "quantity", ""),  # rule 4 before rule 5: x is never looked at
        ("7", "missing_value", "region", ""),
    ]


def test_carried_missing_tokens_kept_as_text():
    r = ok("region,revenue,quantity,discount,note\nEast,1,1,0,NA\n")
    assert r.cleaned[0]["note"] == "NA"


@pytest.mark.parametrize("cell,value", [
    ("12", 12.0), ("-3.5", None), ("+4", 4.0), (".5", 0.5), ("1.", 1.0), ("1e3", 1000.0),
    ("1E+2", 100.0), ("1e-400", 0.0), ("007", 7.0), ("2.50e-1", 0.25),
])
def test_rule5_plain_numbers_accepted(cell, value):
    r = ok(H + f"East,{cell},1,0\n")
    if value is None:  # -3.5 is a number but out of range
        assert rejects(r) == [("1", "out_of_range", "revenue", "-3.5")]
    else:
        assert r.cleaned[0]["revenue"] == value


@pytest.mark.parametrize("cell", [
    '"1,200"', "$12", "15%", "inf", "-inf", "0x1F", "1e309", "１２", "1_000", "1e", "e3", ".", "+", "1.2.3",
    "1e3.5", "٣", "12abc", "- 1", "Infinity",
])
def test_rule5_not_a_number(cell):
    r = ok(H + f"East,{cell},1,0\n")
    expected = cell.strip('"')
    assert rejects(r) == [("1", "not_a_number", "revenue", guard(expected))]


def test_rule5_order_revenue_quantity_discount():
    r = ok(H + "East,x,y,z\nEast,1,y,z\nEast,1,1,z\n")
    assert [x[2] for x in rejects(r)] == ["revenue", "quantity", "discount"]


@pytest.mark.parametrize("q", ["0", "-0", "0.0", "0e5", "+0", ".0", "0.", "1e-400"])
def test_rule6_zero_quantity(q):
    r = ok(H + f"East,-1,{q},5\n")  # rule 6 comes before the range rule 7
    assert rejects(r) == [("1", "zero_quantity", "quantity", guard(q))]


def test_rule7_ranges_in_order():
    r = ok(H + "East,-1,-1,2\nEast,1,-1,2\nEast,1,1,2\nEast,1,1,-0.1\nEast,-0,1,-0\nEast,0,1,1\n")
    assert rejects(r) == [
        ("1", "out_of_range", "revenue", "-1"),
        ("2", "out_of_range", "quantity", "-1"),
        ("3", "out_of_range", "discount", "2"),
        ("4", "out_of_range", "discount", "-0.1"),
    ]
    assert r.rows_clean == 2  # -0 revenue / -0 discount and discount 1 are in range


def test_rule8_duplicates_numbers_numeric_text_exact():
    text = ("region,revenue,quantity,discount,note\n"
            "East,1,2,0,a\n"
            " East ,1.0,2e0,-0, a \n"   # duplicate of 1 (trimmed text, numeric numbers)
            "east,1,2,0,a\n"            # different region text
            "East,1,2,0,A\n"            # different carried text
            "East,x,2,0,a\n"            # rejected earlier, not a duplicate
            "East,1,2,0,a\n")           # duplicate of 1
    r = ok(text, {"drop_duplicates": True})
    assert rejects(r) == [("2", "duplicate", "", ""), ("5", "not_a_number", "revenue", "x"), ("6", "duplicate", "", "")]
    assert [c["source_row"] for c in r.cleaned] == [1, 3, 4]
    r = ok(text)  # default off
    assert r.rows_clean == 5


def test_first_failing_rule_wins_and_never_both():
    r = ok(H + "NA,abc,0,5\n")
    assert rejects(r) == [("1", "missing_value", "region", "NA")]


# ---------------------------------------------------------------- section 3


def test_region_summary_sorted_by_code_point_and_aggregates():
    text = H + "".join(f"{reg},{rev},{q},{d}\n" for reg, rev, q, d in [
        ("東京", 1, 1, 0), ("west", 2, 1, 0), ("Île-de-France", 3, 1, 0), ("West", 4, 1, 0),
        ("East", 5, 2, 0.5), ("East", 7, 3, 0.25)])
    r = ok(text)
    assert [s["region"] for s in r.region_summary] == ["East", "West", "west", "Île-de-France", "東京"]
    east = r.region_summary[0]
    assert east == {"region": "East", "row_count": "2", "revenue_sum": "12.0", "revenue_mean": "6.0",
                    "quantity_sum": "5.0", "discount_mean": "0.375"}


def test_region_sort_before_formula_guard():
    # "-x" sorts before "=x" by code point ('-' U+2D < '=' U+3D) and the guard does not change that.
    r = ok(H + "=x,1,1,0\n-x,1,1,0\nA,1,1,0\n")
    assert [s["region"] for s in r.region_summary] == ["'-x", "'=x", "A"]


def test_formula_guard_rules():
    assert guard("=SUM(A1)") == "'=SUM(A1)"
    assert guard("+x") == "'+x" and guard("-x") == "'-x" and guard("@x") == "'@x"
    assert guard("\tx") == "'\tx" and guard("\rx") == "'\rx"
    assert guard("-5") == "-5" and guard("+1e3") == "+1e3" and guard("-.5") == "-.5"
    assert guard("-") == "'-" and guard("-inf") == "'-inf"
    assert guard("-1e309") == "-1e309"  # the pattern decides, whatever the value
    assert guard("a=b") == "a=b" and guard("") == ""


def test_formula_guard_in_csv_outputs_not_in_parquet():
    r = ok("region,revenue,quantity,discount,note\n@East,1,1,0,=cmd\nWest,=1+2,1,0,x\n")
    assert r.region_summary[0]["region"] == "'@East"
    assert r.rejected_rows[0]["value"] == "'=1+2"
    assert r.cleaned[0]["region"] == "@East" and r.cleaned[0]["note"] == "=cmd"


def test_anomaly_rule():
    # rpu: 1,1,1,1,1,1,1,1,1,10 -> mean 1.9, std = sqrt(8.1) = 2.846..; threshold(k=2) = 7.59..
    r = ok(H + "A,1,1,0\n" * 9 + "B,20,2,0\n")
    assert [a["source_row"] for a in r.anomalies] == ["10"]
    a = r.anomalies[0]
    assert float(a["revenue_per_unit"]) == 10.0
    assert math.isclose(float(a["threshold"]), 1.9 + 2 * math.sqrt(8.1), rel_tol=1e-12)
    assert math.isclose(float(a["z_score"]), 8.1 / math.sqrt(8.1), rel_tol=1e-12)
    assert list(a) == ["source_row", "region", "revenue", "quantity", "discount", "revenue_per_unit", "z_score", "threshold"]


def test_anomaly_k_option_and_strictness():
    # rpu 1 and 3: mean 2, std sqrt(2); k=0 -> threshold 2 -> only rpu 3 (strictly greater).
    r = ok(H + "A,1,1,0\nA,3,1,0\n", {"anomaly_k": 0})
    assert [a["source_row"] for a in r.anomalies] == ["2"]
    r = ok(H + "A,1,1,0\nA,2,1,0\nA,3,1,0\n", {"anomaly_k": 0})
    assert [a["source_row"] for a in r.anomalies] == ["3"]  # rpu 2 == mean is not > threshold


def test_no_anomalies_with_fewer_than_two_rows_or_no_spread():
    assert ok(H + "A,100,1,0\n").anomalies == []
    assert ok(H + "A,5,1,0\nA,10,2,0\nA,15,3,0\n", {"anomaly_k": 0}).anomalies == []  # all rpu 5
    assert ok(H + "A,0,1,0\nA,0,2,0\n", {"anomaly_k": 0}).anomalies == []  # mean 0, std 0
    # rpu all 0.1 (but computed from different quotients); float noise is below 1e-12*|mean|
    assert ok(H + "A,0.3,3,0\nA,0.1,1,0\nA,0.7,7,0\n", {"anomaly_k": 0}).anomalies == []


def test_numbers_written_in_full_precision():
    r = ok(H + "A,0.1,3,0\nA,0.2,3,0\n")
    s = r.region_summary[0]
    assert float(s["revenue_sum"]) == math.fsum([0.1, 0.2])
    assert float(s["revenue_mean"]) == math.fsum([0.1, 0.2]) / 2
    assert r.cleaned[0]["revenue_per_unit"] == 0.1 / 3


def test_overflowing_quotient_is_inf_and_no_anomalies():
    r = ok(H + "B,1e308,1e-10,0\nA,1,1,0\nA,1.7e308,1,0\n")
    assert r.cleaned[0]["revenue_per_unit"] == math.inf
    assert r.anomalies == []
    assert r.region_summary[0]["revenue_sum"] == "1.7e+308"


def test_fill_missing_huge_int_is_not_a_number():
    r = ok(H + "East,,1,0\n", {"fill_missing": {"revenue": 10**400}})
    assert rejects(r) == [("1", "not_a_number", "revenue", "1" + "0" * 400)]


def test_fill_missing_constant_is_trimmed():
    r = ok(H + "East,1,1,\n", {"fill_missing": {"discount": " 0 "}})
    assert r.rows_clean == 1


def test_header_only_gives_empty_outputs():
    r = ok(H)
    assert (r.rows_read, r.region_summary, r.anomalies, r.rejected_rows, r.cleaned) == (0, [], [], [], [])


def test_delimiters_semicolon_and_tab():
    r = ok("region;revenue;quantity;discount\nEast;1,5;1;0\nWest;2;1;0\n", {"delimiter": ";"})
    assert rejects(r) == [("1", "not_a_number", "revenue", "1,5")]
    r = ok("region\trevenue\tquantity\tdiscount\nEast\t 2 \t1\t0\n", {"delimiter": "\t"})
    assert r.cleaned[0]["revenue"] == 2.0


# ---------------------------------------------------------------- section 5


def test_fail_size_limit():
    data = (H + "East,1,1,0\n").encode()
    r = fails(data, max_file_bytes=10)
    assert r.error_kind == "size" and r.error_facts == [str(len(data)), "10"]
    assert run_oracle(data, max_file_bytes=len(data)).error is None  # "larger than" only


def test_fail_nul_byte_offset():
    data = H.encode() + b"Ea\x00st,1,1,0\n"
    r = fails(data)
    assert r.error_kind == "nul" and r.error_facts == [str(len(H) + 2)]


def test_fail_nul_in_utf16_text_byte_offset():
    data = (H + "E\x00,1,1,0\n").encode("utf-16")  # BOM (2 bytes) + 2 bytes per char
    r = fails(data, {"encoding": "utf-16"})
    assert r.error_kind == "nul" and r.error_facts == [str(2 + 2 * (len(H) + 1))]
    # raw NUL bytes in UTF-16 are not a failure by themselves
    assert run_oracle((H + "E,1,1,0\n").encode("utf-16"), {"encoding": "utf-16"}).error is None


def test_fail_undecodable_offset_counts_bom():
    data = b"\xef\xbb\xbf" + H.encode() + b"E\xffst,1,1,0\n"
    r = fails(data)
    assert r.error_kind == "decode" and r.error_facts == [str(3 + len(H) + 1)]
    r = fails(H.encode() + b"E\x81,1,1,0\n", {"encoding": "cp1252"})  # 0x81 is undefined in cp1252
    assert r.error_facts == [str(len(H) + 1)]


def test_fail_unterminated_quote_record_number():
    r = fails(H + "East,1,1,0\n\nWest,2,1,0\n\"Open,3,1,0\nmore\n")
    # header = record 1, East = 2, West = 3, the open quote starts record 4
    assert r.error_kind == "unterminated" and r.error_facts == ["4"]
    r = fails('region,"revenue\n')
    assert r.error_facts == ["1"]


def test_closed_quote_at_eof_is_fine():
    assert ok(H + '"East",1,1,"0"').rows_clean == 1


@pytest.mark.parametrize("data", [b"", b"\n\n\r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_fail_empty(data):
    assert fails(data).error_kind == "empty"


def test_fail_missing_required_after_mapping():
    r = fails("region,product,revenue,quantity\nEast,x,1,1\n")
    assert r.error_kind == "missing_column"
    assert r.error_facts[0] == "discount" and "product" in r.error_facts


def test_fail_duplicate_names():
    assert fails("region,Revenue,revenue,quantity,discount\n").error_facts == ["revenue"]
    assert fails("region,revenue,quantity,discount,note, note\n").error_facts == ["note"]
    assert fails("region,revenue,quantity,discount,amt\n", {"column_map": {"AMT": "Revenue"}}).error_facts == ["revenue"]
    assert ok("region,revenue,quantity,discount,note,Note\n").error is None  # carried: exact comparison


def test_missing_checked_before_duplicate():
    assert fails("region,revenue,Revenue,quantity\n").error_kind == "missing_column"


def test_fail_carried_column_named_like_an_added_one_after_duplicates():
    r = fails("region,revenue,quantity,discount,z_score,source_row\nEast,1,1,0,a,b\n")
    assert r.error_kind == "reserved_column" and r.error_facts == ["z_score", "source_row"]
    assert "column_map" in r.error
    assert fails("region,revenue,quantity,discount,z_score,z_score\n").error_kind == "duplicate_column"
    assert ok("region,revenue,quantity,discount,Z_Score\n").error is None  # carried names compare exactly
    mapped = ok("region,revenue,quantity,discount,threshold\n", {"column_map": {"threshold": "limit"}})
    assert mapped.error is None


@pytest.mark.parametrize("options,fact", [
    ({"anomaly_k": "high"}, "anomaly_k"),
    ({"anomaly_k": -1}, "anomaly_k"),
    ({"anomaly_k": True}, "anomaly_k"),
    ({"bogus": 1}, "bogus"),
    ({"column_map": ["a"]}, "column_map"),
    ({"column_map": {"a": 1}}, "column_map"),
    ({"fill_missing": {"nope": 0}}, "nope"),
    ({"fill_missing": {"Region": "x"}}, "Region"),
    ({"fill_missing": {"region": True}}, "fill_missing"),
    ({"drop_duplicates": "yes"}, "drop_duplicates"),
    ({"delimiter": ",,"}, "delimiter"),
    ({"delimiter": '"'}, "delimiter"),
    ({"delimiter": "\n"}, "delimiter"),
    ({"encoding": "no-such-codec"}, "encoding"),
    ({"encoding": "base64"}, "encoding"),
])
def test_fail_bad_option(options, fact):
    r = fails(H + "East,1,1,0\n", options)
    assert r.error_kind == "option" and fact in r.error_facts


def test_file_failures_checked_in_spec_order():
    # NUL before a bad option; size before everything.
    assert fails(b"\x00" + H.encode(), {"anomaly_k": "x"}).error_kind == "nul"
    assert fails(b"\x00" * 50, max_file_bytes=10).error_kind == "size"
    # unterminated before empty/header problems
    assert fails('"').error_kind == "unterminated"
    # missing column before bad option
    assert fails("a,b\n", {"anomaly_k": "x"}).error_kind == "missing_column"


def test_rows_read_equals_clean_plus_rejected_on_mixed_file():
    r = ok(H + "East,1,1,0\nbad\nWest,x,1,0\n,,,\nNorth,2,0,0\n")
    assert (r.rows_read, r.rows_clean, r.rows_rejected) == (5, 1, 4)
