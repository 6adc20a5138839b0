"""Reading (data contract section 1) and the whole-file failures (section 5), on the reference reader."""

from __future__ import annotations

import codecs

import pytest

import datatasker_pipeline.processing.reading.reference as reference
from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.options import parse_options
from datatasker_pipeline.processing.reading import ReadLimits

HEADER = "region,revenue,quantity,discount\n"


def records(path, options=None, limits=ReadLimits(), chunk_records=1000):
    parsed = parse_options(options)
    reference.check_before_reading(path, parsed, limits)
    layout, chunks = reference.reference_records(path, parsed, limits, chunk_records)
    rows = []
    for chunk in chunks:
        for i, record in enumerate(chunk.records):
            rows.append((chunk.first_source_row + i, record))
    return layout, rows


def failure(path, options=None, limits=ReadLimits()) -> str:
    with pytest.raises(FileFailure) as caught:
        records(path, options, limits)
    return caught.value.message


# --- encodings -----------------------------------------------------------------


def test_utf8_bom_is_dropped(make_csv):
    layout, rows = records(make_csv(b"\xef\xbb\xbfRegion,revenue,quantity,discount\nEast,1,1,0\n"))
    assert layout.names == ("region", "revenue", "quantity", "discount")
    assert rows == [(1, ["East", "1", "1", "0"])]


def test_second_bom_is_data_not_dropped(make_csv):
    message = failure(make_csv(b"\xef\xbb\xbf\xef\xbb\xbfregion,revenue,quantity,discount\n"))
    assert message.startswith("missing required column(s): region;")


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_named_single_byte_encoding(make_csv, encoding):
    path = make_csv(HEADER + "Île-de-France,1,1,0\n", encoding=encoding)
    _, rows = records(path, {"encoding": encoding})
    assert rows[0][1][0] == "Île-de-France"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_wide_encodings_decode_and_their_nul_bytes_are_not_binary(make_csv, encoding):
    path = make_csv(HEADER + "東京,1,1,0\n", encoding=encoding)
    _, rows = records(path, {"encoding": encoding})
    assert rows == [(1, ["東京", "1", "1", "0"])]


def test_nul_byte_fails_with_its_offset(make_csv):
    content = (HEADER + "East,1,1,0\n").encode() + b"\x00rest"
    message = failure(make_csv(content))
    assert message == f"file contains a NUL byte at offset {len(HEADER) + 11}: binary data, not CSV"


def test_nul_character_in_utf16_fails_with_its_byte_offset(make_csv):
    text = HEADER + "Ea\x00st,1,1,0\n"
    path = make_csv(text, encoding="utf-16")
    message = failure(path, {"encoding": "utf-16"})
    # 2-byte BOM, then two bytes per character before the NUL
    assert message == f"file contains a NUL byte at offset {2 + 2 * (len(HEADER) + 2)}: binary data, not CSV"


def test_undecodable_byte_offset_counts_the_bom(make_csv):
    content = b"\xef\xbb\xbf" + HEADER.encode() + b"East,\xff,1,0\n"
    message = failure(make_csv(content))
    assert message == f"undecodable byte at offset {3 + len(HEADER) + 5} for encoding utf-8"


def test_undecodable_byte_offset_across_read_blocks(make_csv, monkeypatch):
    monkeypatch.setattr(reference, "READ_BLOCK_BYTES", 7)
    # a 3-byte character split over a block boundary, then a bad continuation
    content = HEADER.encode() + "East,€".encode() + b"\xe2\x82\x41,1,0\n"
    message = failure(make_csv(content))
    assert message == f"undecodable byte at offset {len(HEADER) + 8} for encoding utf-8"


def test_header_is_read_from_the_start_of_the_file_only(make_csv, monkeypatch):
    monkeypatch.setattr(reference, "HEADER_READ_BYTES", 16)
    # A quoted header name with a line break, longer than one header read; a bad byte far after it.
    content = b'region,"reve\r\nnue",quantity,discount\n' + b"East,1,1,0\n" * 10 + b"\xff,1,1,0\n"
    header = reference.read_header(make_csv(content), parse_options(None), ReadLimits())
    assert header == ["region", "reve\r\nnue", "quantity", "discount"]


def test_truncated_multibyte_character_at_end_of_file(make_csv):
    content = HEADER.encode() + b"East,1,1,0\xe2\x82"
    assert failure(make_csv(content)) == f"undecodable byte at offset {len(HEADER) + 10} for encoding utf-8"


def test_cp1252_undefined_byte_fails(make_csv):
    content = HEADER.encode() + b"East\x81,1,1,0\n"
    message = failure(make_csv(content), {"encoding": "cp1252"})
    assert message == f"undecodable byte at offset {len(HEADER) + 4} for encoding cp1252"


# --- records -----------------------------------------------------------------


def test_quoted_fields_and_line_breaks_are_kept_as_read(make_csv):
    path = make_csv(HEADER + 'East,"1",1,"a ""b"", c"\r\n"We\r\nst",2,2,0\n')
    _, rows = records(path)
    assert rows == [(1, ["East", "1", "1", 'a "b", c']), (2, ["We\r\nst", "2", "2", "0"])]


def test_empty_lines_are_skipped_and_not_counted(make_csv):
    path = make_csv("\n\r\n" + HEADER + "\nEast,1,1,0\r\n\r\n\nWest,2,2,0\n\n")
    _, rows = records(path)
    assert rows == [(1, ["East", "1", "1", "0"]), (2, ["West", "2", "2", "0"])]


def test_whitespace_line_is_a_one_field_record_and_delimiter_line_is_empty_fields(make_csv):
    _, rows = records(make_csv(HEADER + " \t \n,,,\n"))
    assert rows == [(1, [" \t "]), (2, ["", "", "", ""])]


def test_cr_only_line_ends(make_csv):
    _, rows = records(make_csv(HEADER.replace("\n", "\r") + "East,1,1,0\rWest,2,2,0"))
    assert [r[1][0] for r in rows] == ["East", "West"]


def test_a_record_spanning_lines_counts_once(make_csv):
    _, rows = records(make_csv(HEADER + '"multi\nline\nregion",1,1,0\nEast,1,1,0\n'))
    assert [number for number, _ in rows] == [1, 2]


def test_crlf_split_across_read_blocks_stays_one_line_end(make_csv, monkeypatch):
    monkeypatch.setattr(reference, "READ_BLOCK_BYTES", 5)
    _, rows = records(make_csv((HEADER + '"a\r\nb",1,1,0\r\nEast,2,2,0\r\n').replace("\n", "\n")))
    assert rows == [(1, ["a\r\nb", "1", "1", "0"]), (2, ["East", "2", "2", "0"])]


@pytest.mark.parametrize("chunk_records", [1, 2, 3, 1000])
def test_chunking_does_not_change_numbering(make_csv, chunk_records):
    path = make_csv(HEADER + "".join(f'R{i},"{i}\n",1,0\n\n' for i in range(7)))
    _, rows = records(path, chunk_records=chunk_records)
    assert [n for n, _ in rows] == list(range(1, 8))
    assert rows[6][1] == ["R6", "6\n", "1", "0"]


def test_other_delimiter(make_csv):
    _, rows = records(make_csv("region;revenue;quantity;discount\nEast;1,5;1;0\n"), {"delimiter": ";"})
    assert rows == [(1, ["East", "1,5", "1", "0"])]


# --- header -----------------------------------------------------------------


def test_header_names_are_trimmed_and_required_found_case_insensitively(make_csv):
    layout, _ = records(make_csv(" REGION ,Revenue\t, Quantity,DISCOUNT , Product Name \n"))
    assert layout.names == ("region", "revenue", "quantity", "discount", "Product Name")


def test_column_map_keys_match_case_insensitively_values_used_as_given(make_csv):
    layout, _ = records(
        make_csv("Area,Sales,Units,Rebate,Note\n"),
        {"column_map": {"area": "Region", "SALES": "revenue", "units": "quantity", "REBATE": "discount", "note": "Comment"}},
    )
    assert layout.names == ("region", "revenue", "quantity", "discount", "Comment")


def test_column_map_first_matching_key_wins_and_keys_are_not_trimmed(make_csv):
    header = "region,revenue,quantity,discount, Amt ,Note\n"
    layout, _ = records(make_csv(header), {"column_map": {"amt": "first", "AMT": "second", " note ": "ignored"}})
    assert layout.names[4:] == ("first", "Note")


def test_output_order_puts_required_columns_first(make_csv):
    layout, _ = records(make_csv("note,discount,region,extra,quantity,revenue\n"))
    assert layout.output_names == ("region", "revenue", "quantity", "discount", "note", "extra")


def test_missing_required_column_message_lists_found_names(make_csv):
    message = failure(make_csv("region,product,revenue,quantity\nEast,x,1,1\n"))
    assert message == "missing required column(s): discount; found: region, product, revenue, quantity"


def test_duplicate_required_column_after_case_folding(make_csv):
    message = failure(make_csv("region,Revenue,revenue,quantity,discount\n"))
    assert message == "duplicate column name(s) after mapping: revenue"


def test_carried_columns_must_differ_exactly_only(make_csv):
    layout, _ = records(make_csv("region,revenue,quantity,discount,Note,note\n"))
    assert layout.carried == ("Note", "note")
    message = failure(make_csv("region,revenue,quantity,discount,note, note\n"))
    assert message == "duplicate column name(s) after mapping: note"


def test_mapping_onto_an_existing_name_is_a_duplicate(make_csv):
    message = failure(make_csv("region,revenue,quantity,discount,total\n"), {"column_map": {"total": "Revenue"}})
    assert message == "duplicate column name(s) after mapping: revenue"


# --- whole-file failures -----------------------------------------------------


def test_file_over_the_size_limit(make_csv):
    path = make_csv(HEADER + "East,1,1,0\n")
    size = path.stat().st_size
    assert failure(path, limits=ReadLimits(max_file_bytes=size - 1)) == f"file is {size} bytes; the limit is {size - 1}"


@pytest.mark.parametrize("content", ["", "\n\n\r\n", "\ufeff"])
def test_no_header_record(make_csv, content):
    assert failure(make_csv(content)) == "file is empty: no header row"


def test_header_without_data_is_not_a_failure(make_csv):
    layout, rows = records(make_csv(HEADER))
    assert rows == [] and layout.names[0] == "region"


def test_unterminated_quote_names_the_record_it_started_in(make_csv):
    # records: 1 header, 2 East, 3 West (its quote never closes)
    path = make_csv(HEADER + 'East,1,1,0\n\nWest,"2,2,0\nNorth,3,3,0\n')
    assert failure(path) == "unterminated quoted field starting in record 3"


def test_unterminated_quote_without_final_newline(make_csv):
    assert failure(make_csv(HEADER + 'East,1,1,"0')) == "unterminated quoted field starting in record 2"


def test_closed_quote_at_end_of_file_is_fine(make_csv):
    _, rows = records(make_csv(HEADER + 'East,1,1,"0"'))
    assert rows == [(1, ["East", "1", "1", "0"])]


def test_failures_are_reported_in_spec_order(make_csv):
    # NUL byte beats an earlier undecodable byte
    assert "NUL byte at offset" in failure(make_csv(HEADER.encode() + b"\xff,1,1,0\n\x00"))
    # an undecodable byte late in the file beats a header problem at its start
    late_bad_byte = b"region,product\n" + b"x,y\n" * 5 + b"\xff\n"
    assert failure(make_csv(late_bad_byte)).startswith("undecodable byte at offset")
    # an unterminated quote beats a missing column
    assert failure(make_csv('region,x\n"a,b\n')).startswith("unterminated quoted field")
    # missing column beats duplicate
    assert failure(make_csv("region,Region,revenue\n")).startswith("missing required column(s): quantity, discount")
    # a bad option comes last
    assert failure(make_csv("region,x\n"), {"anomaly_k": "high"}).startswith("missing required column(s)")
    assert failure(make_csv(HEADER), {"anomaly_k": "high"}) == 'option anomaly_k must be a number >= 0, got "high"'


def test_unknown_encoding_is_a_bad_option(make_csv):
    assert failure(make_csv(HEADER), {"encoding": "klingon"}) == 'option encoding names an unknown codec: "klingon"'


def test_fill_missing_key_naming_no_column(make_csv):
    message = failure(make_csv(HEADER + "East,1,1,0\n"), {"fill_missing": {"Discount": 0}})
    assert "fill_missing" in message and "'Discount'" in message


def test_cell_longer_than_the_limit_fails_clearly(make_csv):
    message = failure(make_csv(HEADER + "East," + "1" * 50 + ",1,0\n"), limits=ReadLimits(max_field_chars=20))
    assert message == "a field near line 2 is longer than the limit of 20 characters"


def test_reserved_output_column_names_fail_clearly(make_csv):
    message = failure(make_csv("region,revenue,quantity,discount,source_row\n"))
    assert message == "column name(s) reserved for the outputs: source_row; rename them with column_map"


def test_duplicate_names_are_reported_before_reserved_ones(make_csv):
    message = failure(make_csv("region,revenue,quantity,discount,z_score,z_score\n"))
    assert message == "duplicate column name(s) after mapping: z_score"


def test_a_reserved_name_mapped_away_is_fine(make_csv):
    layout, rows = records(make_csv("region,revenue,quantity,discount,threshold\nEast,1,1,0,9\n"),
                           {"column_map": {"Threshold": "limit"}})
    assert layout.names[-1] == "limit" and rows == [(1, ["East", "1", "1", "0", "9"])]


def test_bom_constants_are_what_python_uses():
    assert reference._UTF8_BOM == codecs.BOM_UTF8
