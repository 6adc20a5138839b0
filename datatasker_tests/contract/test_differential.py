"""Differential tests: production ``process_file`` versus the SPEC oracle.

(a) a table of hand-written messy files, (b) a hypothesis property test on
random small CSVs with random options.  Both sides get the same bytes and
options; ``spec_oracle.compare`` lists every observable difference.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.pipeline import process_file
from datatasker_tests.harness.oracle import (
    OUTPUT_FILES,
    compare,
    load_outputs,
    run_oracle,
)


def differential(workdir: Path, data: bytes, options: dict | None = None, max_file_bytes: int | None = None):
    """Run both sides; return (differences, oracle result)."""
    oracle = run_oracle(data, copy.deepcopy(options), max_file_bytes=2**31 if max_file_bytes is None else max_file_bytes)
    source = workdir / "input.csv"
    source.write_bytes(data)
    out_dir = workdir / "out"
    out_dir.mkdir()
    kwargs = {} if max_file_bytes is None else {"max_file_bytes": max_file_bytes}
    try:
        result = process_file(source, out_dir, copy.deepcopy(options), **kwargs)
    except FileFailure as failure:
        loaded = load_outputs(out_dir)
        loaded.error = failure.message
        if not isinstance(failure.message, str) or not failure.message.strip():
            return [f"FileFailure without a message: {failure!r}"], oracle
    else:
        loaded = load_outputs(out_dir)
        loaded.rows_read = result.rows_read
        loaded.rows_clean = result.rows_clean
        loaded.rows_rejected = result.rows_rejected
        loaded.anomaly_count = result.anomaly_count
        if result.rows_read != result.rows_clean + result.rows_rejected:
            return [f"production rows_read {result.rows_read} != clean {result.rows_clean} + rejected {result.rows_rejected}"], oracle
    return compare(oracle, loaded), oracle


def _fmt(diffs: list[str], data: bytes, options) -> str:
    return f"input={data!r}\noptions={options!r}\n" + "\n".join(diffs)


# --------------------------------------------------------------------------
# (a) hand-written messy files
# --------------------------------------------------------------------------

H = "region,revenue,quantity,discount\n"
HN = "region,revenue,quantity,discount,note\n"


def u(text: str) -> bytes:
    return text.encode("utf-8")


ANOMALY_FILE = H + "A,1,1,0\n" * 9 + "B,20,2,0\n" + "C,3,1,0.5\n" * 5 + "D,90,3,0\n"

CASES = [
    # ---- reading
    pytest.param(u(H + "East,10,4,0.5\nWest,3,1,0\n"), None, None, id="basic"),
    pytest.param(u("  Region , REVENUE ,quantity\t, Discount , Product \n  East , 10 , 4 , 0.5 , Widget \n"), None, None, id="padded-header-and-cells"),
    pytest.param(b"\xef\xbb\xbf" + u(H + "East,1,1,0\n"), None, None, id="utf8-bom"),
    pytest.param(u(H.replace("\n", "\r\n") + "East,1,1,0\r\nWest,2,1,0\r\n"), None, None, id="crlf"),
    pytest.param(u(HN.replace("\n", "\r\n") + '"East\r\nSide",1,1,0,"two\r\nlines"\r\nWest,2,1,0,"a\nb"\r\n'), None, None, id="quoted-newlines-crlf-kept"),
    pytest.param(u(HN + '"East, A",1,1,0,"say ""hi"""\n'), None, None, id="rfc4180-quotes"),
    pytest.param(u(H + "East,1,1\nEast,1,1,0,9\nWest,2,1,0\n"), None, None, id="ragged-rows"),
    pytest.param(u(H + "   \n\t\nEast,1,1,0\n \t \n"), None, None, id="whitespace-only-lines"),
    pytest.param(u(H + ",,,\nEast,1,1,0\n,,,,\n"), None, None, id="delimiter-only-lines"),
    pytest.param(u(H + "\n\nEast,1,1,0\n\r\n\nWest,2,1,0\n\n"), None, None, id="empty-lines-skipped"),
    pytest.param(u(H + "East,1,1,0"), None, None, id="no-final-newline"),
    pytest.param(u(H), None, None, id="header-only"),
    pytest.param(u(H + "\n\n"), None, None, id="header-and-blank-lines-only"),
    pytest.param(u("note,Region,revenue,Note,quantity,discount\na,East,1,b,1,0\n"), None, None, id="carried-order-and-case"),
    pytest.param(u(HN + "East,1,1,0,NA\nEast,2,1,0,\nEast,3,1,0,null\n"), None, None, id="carried-missing-tokens-kept"),
    # ---- unicode
    pytest.param(u(H + "東京,1,1,0\nwest,2,1,0\nÎle-de-France,3,1,0\nWest,4,1,0\nEast,5,1,0\neast,6,1,0\n"), None, None, id="unicode-regions-sorted"),
    pytest.param(u(H + "\u3000East\xa0,\x1c12\x1d,\u2003 3\u2003,\t0.5\t\nWest\u3000,1,1,0\n"), None, None, id="unicode-whitespace"),
    pytest.param(u(HN + "East,1,1,0,a\x1cb\nEast,1,1,0,x\u2028y\n"), None, None, id="unicode-separators-inside-cells"),
    pytest.param(u(H + "Ｅａｓｔ,1,1,0\nEast,１２,1,0\nEast,٣,1,0\n"), None, None, id="fullwidth"),
    # ---- formula-like text
    pytest.param(u(HN + "=SUM(A1),1,1,0,+x\n+East,1,1,0,-x\n-West,2,1,0,@x\n@North,3,1,0,=1\n-5,4,1,0,-5\n+1e3,1,2,0,-\n"), None, None, id="formula-guard-text"),
    pytest.param(u(H + "East,=1+2,1,0\nEast,-inf,1,0\nEast,+x,1,0\nEast,@1,1,0\nEast,-1,1,0\n"), None, None, id="formula-guard-rejected-values"),
    pytest.param(u(H + "=z,1,1,0\n-a,1,1,0\nA,1,1,0\n"), None, None, id="region-sort-before-guard"),
    # ---- numbers
    pytest.param(u(H + "A,1.,1,0\nA,.5,1,0\nA,1e3,1,0\nA,-0,1,0\nA,+2,1.,.5\nA,1E+2,1,0\nA,007,1,0\n"), None, None, id="plain-number-forms"),
    pytest.param(u(H + 'A,1e309,1,0\nA,1e-400,1,0\nA,"1,200",1,0\nA,$12,1,0\nA,15%,1,0\nA,inf,1,0\nA,0x1F,1,0\nA,1_000,1,0\nA,Infinity,1,0\nA,1e,1,0\nA,.,1,0\n'), None, None, id="not-a-number"),
    pytest.param(u(H + "A,1,0,0\nA,1,-0,0\nA,1,0.0,0\nA,1,0e5,0\nA,-5,0,9\nA,1,1e-400,0\nA,1,+.0,0\n"), None, None, id="zero-quantity"),
    pytest.param(u(H + "A,-1,1,0\nA,1,-2,0\nA,1,1,1.5\nA,1,1,-0.1\nA,-1,-1,-1\nA,0,1,1\nA,1,1,-0\n"), None, None, id="out-of-range"),
    pytest.param(u(H + "NA,x,0,9\nA,n/a,1,0\nA,1,NaN,0\nA,1,1,NULL\nA,1,1,None\n,1,1,0\nA,,x,0\nA,x,,0\n"), None, None, id="missing-values-order"),
    pytest.param(u(H + "A,10,4,0\nA,0.1,3,0\nA,1e-300,7,0.3\nB,123456789.123,11,0.7\n"), None, None, id="full-precision-numbers"),
    # ---- duplicates
    pytest.param(u(HN + "East,1,2,0,a\n East ,1.0,2e0,-0, a \neast,1,2,0,a\nEast,1,2,0,A\nEast,x,2,0,a\nEast,1,2,0,a\n"), {"drop_duplicates": True}, None, id="drop-duplicates"),
    pytest.param(u(HN + "East,1,2,0,a\nEast,1,2,0,a\n"), {"drop_duplicates": False}, None, id="duplicates-kept-when-off"),
    pytest.param(u(H + "East,1,2,0\n,1,2,0\nEast,1,2,0\n"), {"drop_duplicates": True, "fill_missing": {"region": "East"}}, None, id="duplicate-after-fill"),
    # ---- fill_missing
    pytest.param(u(H + "East,1,1,\n,2,1,NA\nEast,,1,0\n"), {"fill_missing": {"discount": 0, "region": "Unknown"}}, None, id="fill-missing"),
    pytest.param(u(H + "East,,1,0\nEast,1,,0\n"), {"fill_missing": {"revenue": "abc", "quantity": 0}}, None, id="fill-missing-checked-like-any-cell"),
    pytest.param(u(H + "East,,1,0\n"), {"fill_missing": {"revenue": "n/a"}}, None, id="fill-missing-with-missing-token"),
    pytest.param(u(HN + "East,1,1,0,\nEast,1,1,0,NULL\n"), {"fill_missing": {"note": 7, "discount": 0.25}}, None, id="fill-missing-carried"),
    pytest.param(u(H + "=x,,1,0\n"), {"fill_missing": {"revenue": "=1"}}, None, id="fill-missing-formula"),
    # ---- column_map
    pytest.param(u("Area,AMT,qty,disc,Extra\nEast,1,2,0,x\n"), {"column_map": {"area": "Region", "amt": "revenue", "QTY": "quantity", "Disc": "discount", "extra": "Notes"}}, None, id="column-map"),
    pytest.param(u(" amount ,region,quantity,discount\n5,East,1,0\n"), {"column_map": {"AMOUNT": "revenue", "unused": "x"}}, None, id="column-map-padded-header-unused-key"),
    # ---- delimiters
    pytest.param(u("region;revenue;quantity;discount\nEast;1,5;1;0\nWest;2;1;0\n\"A;B\";3;1;0\n;;;\n"), {"delimiter": ";"}, None, id="delimiter-semicolon"),
    pytest.param(u("region\trevenue\tquantity\tdiscount\nEast\t 2 \t1\t0\n\t\t\t\n\"a\tb\"\t1\t1\t0\n"), {"delimiter": "\t"}, None, id="delimiter-tab"),
    pytest.param(u(H + "East,1,1,0\n"), {"delimiter": ","}, None, id="delimiter-comma-explicit"),
    # ---- encodings
    pytest.param((H + "Île,1,1,0\nZürich,2,1,0\n").encode("latin-1"), {"encoding": "latin-1"}, None, id="latin-1"),
    pytest.param((H + "€uro,1,1,0\n“q”,2,1,0\n").encode("cp1252"), {"encoding": "cp1252"}, None, id="cp1252"),
    pytest.param((H + "東京,1,1,0\nEast,2,1,0\n").encode("utf-16"), {"encoding": "utf-16"}, None, id="utf-16"),
    pytest.param((H + "East,1,1,0\n").encode("utf-16-le"), {"encoding": "utf-16-le"}, None, id="utf-16-le-no-bom"),
    pytest.param((H + "東京,1,1,0\n").encode("utf-32"), {"encoding": "utf-32"}, None, id="utf-32"),
    pytest.param(b"\xef\xbb\xbf" + u(H + "East,1,1,0\n"), {"encoding": "utf-8"}, None, id="utf8-bom-explicit"),
    # ---- anomalies
    pytest.param(u(ANOMALY_FILE), None, None, id="anomalies-default-k"),
    pytest.param(u(ANOMALY_FILE), {"anomaly_k": 1}, None, id="anomalies-k1"),
    pytest.param(u(ANOMALY_FILE), {"anomaly_k": 0}, None, id="anomalies-k0"),
    pytest.param(u(HN + "A,1,1,0,=a\nA,1,1,0,b\nA,1,1,0,c\nB,50,1,0,-d\n"), {"anomaly_k": 1}, None, id="anomalies-carried-guarded"),
    pytest.param(u(H + "A,100,1,0\n"), None, None, id="single-row-no-anomaly"),
    pytest.param(u(H + "A,5,1,0\nA,10,2,0\nA,15,3,0\n"), {"anomaly_k": 0}, None, id="no-spread"),
    pytest.param(u(H + "A,0.3,3,0\nA,0.1,1,0\nA,0.7,7,0\n"), {"anomaly_k": 0}, None, id="no-spread-float-noise"),
    pytest.param(u(H + "A,0,1,0\nA,0,2,0\n"), {"anomaly_k": 0}, None, id="all-zero"),
    pytest.param(u(H + "bad\n"), None, None, id="all-rows-rejected-minimal"),
    pytest.param(u(H + "x\nx\n"), {"drop_duplicates": True}, None, id="all-rows-rejected-field-count"),
    pytest.param(u(H + "East,,1,0\n"), {"fill_missing": {"revenue": 10**400}}, None, id="fill-missing-huge-json-int"),
    # ---- size limit boundary (not a failure)
    pytest.param(u(H + "East,1,1,0\n"), None, len(H) + 11, id="size-exactly-at-limit"),
    # ---- whole-file failures (SPEC 5)
    pytest.param(u(H + "East,1,1,0\n"), None, 10, id="FAIL-size"),
    pytest.param(u(H) + b"Ea\x00st,1,1,0\n", None, None, id="FAIL-nul"),
    pytest.param((H + "E\x00,1,1,0\n").encode("utf-16"), {"encoding": "utf-16"}, None, id="FAIL-nul-utf16"),
    pytest.param(b"\xef\xbb\xbf" + u(H) + b"E\xffst,1,1,0\n", None, None, id="FAIL-undecodable-utf8-bom"),
    pytest.param(u(H) + b"E\x81,1,1,0\n", {"encoding": "cp1252"}, None, id="FAIL-undecodable-cp1252"),
    pytest.param(u(H + "Île,1,1,0\n").replace("Î".encode(), b"\xce"), None, None, id="FAIL-undecodable-latin1-as-utf8"),
    pytest.param(u(H + "East,1,1,0\n\nWest,2,1,0\n\"Open,3,1,0\nmore\n"), None, None, id="FAIL-unterminated-quote"),
    pytest.param(u('region,"revenue\n'), None, None, id="FAIL-unterminated-in-header"),
    pytest.param(b"", None, None, id="FAIL-empty"),
    pytest.param(b"\n\r\n\n", None, None, id="FAIL-empty-blank-lines"),
    pytest.param(b"\xef\xbb\xbf", None, None, id="FAIL-empty-bom-only"),
    pytest.param(u("region,product,revenue,quantity\nEast,x,1,1\n"), None, None, id="FAIL-missing-required"),
    pytest.param(u("Area,revenue,quantity,discount\n"), {"column_map": {"area": "zone"}}, None, id="FAIL-missing-after-mapping"),
    pytest.param(u("region,Revenue,revenue,quantity,discount\nA,1,1,1,0\n"), None, None, id="FAIL-duplicate-required"),
    pytest.param(u("region,revenue,quantity,discount,note, note\n"), None, None, id="FAIL-duplicate-carried"),
    pytest.param(u("region,revenue,quantity,discount,amt\n"), {"column_map": {"AMT": "Revenue"}}, None, id="FAIL-duplicate-after-mapping"),
    pytest.param(u(H + "East,1,1,0\n"), {"anomaly_k": "high"}, None, id="FAIL-option-anomaly_k-str"),
    pytest.param(u(H + "East,1,1,0\n"), {"anomaly_k": -1}, None, id="FAIL-option-anomaly_k-negative"),
    pytest.param(u(H + "East,1,1,0\n"), {"bogus": 1}, None, id="FAIL-option-unknown-key"),
    pytest.param(u(H + "East,1,1,0\n"), {"column_map": ["a"]}, None, id="FAIL-option-column_map-type"),
    pytest.param(u(H + "East,1,1,0\n"), {"fill_missing": {"nope": 0}}, None, id="FAIL-option-fill_missing-unknown-column"),
    pytest.param(u(H), {"fill_missing": {"nope": 0}}, None, id="FAIL-option-fill_missing-unknown-column-header-only"),
    pytest.param(u(H + "East,1,1,0\n"), {"fill_missing": {"region": True}}, None, id="FAIL-option-fill_missing-bool"),
    pytest.param(u(H + "East,1,1,0\n"), {"drop_duplicates": "yes"}, None, id="FAIL-option-drop_duplicates"),
    pytest.param(u(H + "East,1,1,0\n"), {"delimiter": ",,"}, None, id="FAIL-option-delimiter-two-chars"),
    pytest.param(u(H + "East,1,1,0\n"), {"delimiter": '"'}, None, id="FAIL-option-delimiter-quote"),
    pytest.param(u(H + "East,1,1,0\n"), {"delimiter": "\n"}, None, id="FAIL-option-delimiter-newline"),
    pytest.param(u(H + "East,1,1,0\n"), {"encoding": "no-such-codec"}, None, id="FAIL-option-encoding"),
]


@pytest.mark.parametrize("data,options,max_file_bytes", CASES)
def test_messy_file_agrees_with_oracle(tmp_path, data, options, max_file_bytes):
    diffs, oracle = differential(tmp_path, data, options, max_file_bytes)
    assert not diffs, _fmt(diffs, data, options)


def test_overflowing_revenue_per_unit_does_not_crash(tmp_path):
    # 1e308 and 1e-10 are both finite plain numbers (rule 5), so the record is
    # clean; revenue / quantity overflows a float.  The SPEC is silent on what
    # then happens (the oracle follows IEEE: inf, no anomalies), so only assert
    # that the run ends either with outputs or with a FileFailure message,
    # never with a traceback.
    source = tmp_path / "in.csv"
    source.write_bytes(u(H + "B,1e308,1e-10,0\nA,1,1,0\n"))
    (tmp_path / "out").mkdir()
    try:
        result = process_file(source, tmp_path / "out", None)
    except FileFailure as failure:
        assert failure.message
    else:
        assert result.rows_read == 2 == result.rows_clean + result.rows_rejected


def test_failure_writes_no_output_files(tmp_path):
    diffs, oracle = differential(tmp_path, u(H) + b"\x00", None)
    assert oracle.error is not None
    assert not diffs, _fmt(diffs, b"", None)
    assert not any((tmp_path / "out" / name).exists() for name in OUTPUT_FILES)


# --------------------------------------------------------------------------
# (b) property test on random small CSVs
# --------------------------------------------------------------------------

REGIONS = ["East", "east", "West", " West ", "Île-de-France", "東京", "\u3000North\xa0", "=cmd", "-x", "@home",
           "+1", "-5", "NA", "", "n/a", "South\r\nEast", "a,b", 'q"uote', "\x1cSouth", "None"]
REVENUES = ["10", "0", "-0", "1.", ".5", "1e3", "2.5", "-3", "1,200", "$12", "１２", "1e309", "1e-400", "abc",
            "", "NULL", " 7 ", "100", "0.1", "1000000", "=1+2", "33.3", "+4"]
QUANTITIES = ["1", "2", "3", "0", "-0", "0.0", "-1", "1e-400", "x", "", "4", "0.5", "10", " 2 ", "7"]
DISCOUNTS = ["0", "0.1", "0.5", "1", "1.5", "-0.1", "", "none", "0.25", "-0", "1.0", ".75"]
NOTES = ["a", "A", "", "NA", "=SUM(A1)", "x y", "line1\r\nline2", "@x", "-", "  padded  ", "-7", "ß"]

POOLS = {"region": REGIONS, "revenue": REVENUES, "quantity": QUANTITIES, "discount": DISCOUNTS,
         "note": NOTES, "Product": NOTES}
HEADER_SPELLINGS = {
    "region": ["region", "Region", " REGION "],
    "revenue": ["revenue", "Revenue", "revenue "],
    "quantity": ["quantity", "QUANTITY"],
    "discount": ["discount", " Discount"],
    "note": ["note", " note "],
    "Product": ["Product"],
}


@st.composite
def csv_case(draw):
    columns = ["region", "revenue", "quantity", "discount"]
    columns += draw(st.sampled_from([[], ["note"], ["note", "Product"]]))
    columns = draw(st.permutations(columns))
    header = [draw(st.sampled_from(HEADER_SPELLINGS[c])) for c in columns]
    options: dict = {}
    if draw(st.booleans()) and "revenue" in columns:  # rename the revenue column through column_map
        i = columns.index("revenue")
        header[i] = draw(st.sampled_from(["amount", " Amount "]))
        options["column_map"] = {draw(st.sampled_from(["amount", "AMOUNT"])): "revenue"}

    row_st = st.fixed_dictionaries({c: st.sampled_from(POOLS[c]) for c in columns})
    rows = [[r[c] for c in columns] for r in draw(st.lists(row_st, max_size=9))]
    if rows and draw(st.booleans()):  # duplicates, possibly with different spellings of padding
        rows += [list(rows[i]) for i in draw(st.lists(st.integers(0, len(rows) - 1), max_size=3))]
    # odd lines: ragged, whitespace-only, delimiter-only, blank
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["short", "long", "spaces", "delims", "blank"]))
        pos = draw(st.integers(0, len(rows)))
        line = {"short": ["East", "1"], "long": ["East", "1", "1", "0", "x", "y", "z"][: len(columns) + 1],
                "spaces": ["  "], "delims": [""] * len(columns), "blank": []}[kind]
        rows.insert(pos, line)

    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    if delimiter != "," or draw(st.booleans()):
        options["delimiter"] = delimiter
    newline = draw(st.sampled_from(["\n", "\r\n"]))

    def cell(text: str) -> str:
        if any(ch in text for ch in (delimiter, '"', "\r", "\n")) or draw(st.integers(0, 5)) == 0:
            return '"' + text.replace('"', '""') + '"'
        return text

    lines = [delimiter.join(cell(h) for h in header)]
    lines += [delimiter.join(cell(c) for c in row) for row in rows]
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")

    k = draw(st.sampled_from([None, 0, 0.5, 1, 1.5, 2, 3]))
    if k is not None:
        options["anomaly_k"] = k
    dd = draw(st.sampled_from([None, True, False]))
    if dd is not None:
        options["drop_duplicates"] = dd
    fill_candidates = {"discount": 0, "region": "Unknown", "revenue": "5", "quantity": 1, "note": "filled"}
    fill = {key: v for key, v in fill_candidates.items() if key in columns and draw(st.integers(0, 3)) == 0}
    if fill:
        options["fill_missing"] = fill

    encoding = draw(st.sampled_from(["utf-8", "utf-8-bom", "utf-16", "cp1252"]))
    if encoding == "utf-8":
        data = text.encode("utf-8")
    elif encoding == "utf-8-bom":
        data = b"\xef\xbb\xbf" + text.encode("utf-8")
    else:
        try:
            data = text.encode(encoding)
            options["encoding"] = encoding
        except UnicodeEncodeError:
            data = text.encode("utf-8")
    return data, options


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(csv_case())
def test_property_random_csvs_agree_with_oracle(case):
    data, options = case
    with tempfile.TemporaryDirectory() as tmp:
        diffs, oracle = differential(Path(tmp), data, options)
    assert oracle.error is None or oracle.error_kind == "option", oracle.error
    assert oracle.rows_read == oracle.rows_clean + oracle.rows_rejected
    assert not diffs, _fmt(diffs, data, options)
