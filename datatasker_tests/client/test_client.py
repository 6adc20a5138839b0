"""The client's parsing and formatting, without a server.

GraphQL answers below are shaped exactly like the ones a Dagster 1.13
webserver returned for DataTasker runs (copied from a live session, trimmed).
"""

from __future__ import annotations

import io
import json
from datetime import timezone

import pytest

from datatasker_pipeline import client as c
from datatasker_pipeline import vocabulary as v
from datatasker_pipeline.cli import build_parser
from datatasker_pipeline.cli.common import parse_config
from datatasker_pipeline.cli.progress import Progress

RUN_ID = "e58e2589-a251-4255-814a-90a9383a1c82"
PERSON_MESSAGE = "missing required column(s): discount; found: region, product, revenue, quantity"


def _int(label, value):
    return {"__typename": "IntMetadataEntry", "label": label, "intValue": value, "intRepr": str(value)}


def _path(label, value):
    return {"__typename": "PathMetadataEntry", "label": label, "path": value}


def _table(label, columns, records):
    return {
        "__typename": "TableMetadataEntry",
        "label": label,
        "table": {
            "records": [json.dumps(r) for r in records],
            "schema": {"columns": [{"name": n, "type": t} for n, t in columns]},
        },
    }


SUMMARY_RECORDS = [
    {"discount_mean": 0.15000000000000002, "quantity_sum": 5.0, "region": "East", "revenue_mean": 65.0, "revenue_sum": 130.0, "row_count": 2},
    {"discount_mean": 0.0, "quantity_sum": 1.0, "region": "North", "revenue_mean": 999.0, "revenue_sum": 999.0, "row_count": 1},
    {"discount_mean": 0.0, "quantity_sum": 1.0, "region": "東京", "revenue_mean": 1234567.5, "revenue_sum": 1234567.5, "row_count": 1},
]
SUMMARY_SCHEMA = [
    ("region", "string"), ("row_count", "int"), ("revenue_sum", "float"),
    ("revenue_mean", "float"), ("quantity_sum", "float"), ("discount_mean", "float"),
]
OUT = f"/data/outputs/{RUN_ID}"


def successful_run() -> dict:
    return {
        "__typename": "Run",
        "runId": RUN_ID,
        "status": "SUCCESS",
        "jobName": "process_sales_file",
        "creationTime": 1795398795.0,
        "startTime": 1795398808.0,
        "endTime": 1795398810.25,
        "tags": [
            {"key": "dagster/partition", "value": "t1.csv"},
            {"key": "datatasker/file_name", "value": "t1.csv"},
            {"key": "datatasker/fingerprint", "value": "abc"},
        ],
        "stepStats": [{"stepKey": k, "status": "SUCCESS", "startTime": 1.0, "endTime": 2.0} for k in v.STEP_KEYS],
        "assetMaterializations": [
            {"assetKey": {"path": ["raw_csv"]}, "metadataEntries": [{"__typename": "TextMetadataEntry", "label": "file_name", "text": "t1.csv"}]},
            {
                "assetKey": {"path": ["cleaned_sales"]},
                "metadataEntries": [
                    _int("rows_read", 5), _int("rows_clean", 4), _int("rows_rejected", 1),
                    {"__typename": "JsonMetadataEntry", "label": "rejected_by_reason",
                     "jsonString": "{\"duplicate\": 0, \"not_a_number\": 1}"},
                    {"__typename": "FloatMetadataEntry", "label": "seconds", "floatValue": 3.257, "floatRepr": "3.257"},
                    _path("cleaned_parquet", f"{OUT}/cleaned.parquet"),
                    _path("rejected_rows_csv", f"{OUT}/rejected_rows.csv"),
                    {"__typename": "TableSchemaMetadataEntry", "label": "dagster/column_schema"},
                ],
            },
            {
                "assetKey": {"path": ["anomaly_report"]},
                "metadataEntries": [
                    _int("anomalies", 1),
                    {"__typename": "MarkdownMetadataEntry", "label": "top_anomalies", "mdStr": "| a |\n|---|\n| 1 |"},
                    _path("anomalies_csv", f"{OUT}/anomalies.csv"),
                ],
            },
            {
                "assetKey": {"path": ["region_summary"]},
                "metadataEntries": [
                    _int("regions", 3),
                    _table("summary", SUMMARY_SCHEMA, SUMMARY_RECORDS),
                    _path("region_summary_csv", f"{OUT}/region_summary.csv"),
                ],
            },
        ],
    }


FAILED_EVENTS = [
    {"__typename": "ExecutionStepStartEvent"},
    {
        "__typename": "ExecutionStepFailureEvent",
        "stepKey": "cleaned_sales",
        "message": 'Execution of step "cleaned_sales" failed.',
        "error": {
            "message": f"dagster._core.definitions.events.Failure: {PERSON_MESSAGE}\n",
            "className": "Failure",
            "cause": None,
        },
        "failureMetadata": {"label": "intentional-failure", "description": PERSON_MESSAGE},
    },
    {
        "__typename": "RunFailureEvent",
        "message": "Execution of run for \"process_sales_file\" failed. Steps failed: ['cleaned_sales'].",
        "error": {"message": f"dagster._core.definitions.events.Failure: {PERSON_MESSAGE}\n", "className": "Failure"},
    },
]


# -- metadata ------------------------------------------------------------------


def test_metadata_values_become_plain_python():
    assert c.metadata_value(_int("n", 7)) == 7
    assert c.metadata_value({"__typename": "IntMetadataEntry", "label": "n", "intValue": None, "intRepr": "9007199254740993"}) == 9007199254740993
    assert c.metadata_value({"__typename": "FloatMetadataEntry", "label": "f", "floatValue": None, "floatRepr": "inf"}) == float("inf")
    assert c.metadata_value({"__typename": "JsonMetadataEntry", "label": "j", "jsonString": "{\"a\": 1}"}) == {"a": 1}
    assert c.metadata_value({"__typename": "TextMetadataEntry", "label": "t", "text": "none"}) == "none"
    assert c.metadata_value({"__typename": "MarkdownMetadataEntry", "label": "m", "mdStr": "# x"}) == "# x"
    assert c.metadata_value({"__typename": "TableSchemaMetadataEntry", "label": "s"}) is None
    table = c.metadata_value(_table("summary", SUMMARY_SCHEMA, SUMMARY_RECORDS))
    assert table["columns"] == [n for n, _ in SUMMARY_SCHEMA]
    assert table["records"][2]["region"] == "東京"


def test_run_summary_reads_counts_tags_and_times():
    summary = c.run_summary(successful_run(), None, url="http://host:3000")
    assert summary["run_id"] == RUN_ID
    assert summary["status"] == "SUCCESS"
    assert (summary["file_name"], summary["partition"]) == ("t1.csv", "t1.csv")
    assert (summary["rows_read"], summary["rows_clean"], summary["rows_rejected"]) == (5, 4, 1)
    assert summary["rejected_by_reason"] == {"duplicate": 0, "not_a_number": 1}
    assert summary["anomalies"] == 1
    assert summary["steps_done"] == summary["steps_total"] == 4
    assert summary["duration_seconds"] == 2.25
    assert summary["ui_url"] == f"http://host:3000/runs/{RUN_ID}"
    assert summary["started_at"].startswith("20")  # ISO 8601
    json.dumps(summary)  # serialisable as is


def test_format_status_is_readable():
    text = c.format_status(c.run_summary(successful_run(), None, url="http://h"))
    assert text.splitlines()[0] == f"run {RUN_ID}: SUCCESS"
    assert "5 read, 4 clean, 1 rejected (not_a_number 1)" in text
    assert "4/4 done" in text
    assert "error" not in text


def test_format_status_of_a_failure_shows_the_message_plainly():
    run = successful_run() | {"status": "FAILURE", "assetMaterializations": []}
    text = c.format_status(c.run_summary(run, PERSON_MESSAGE))
    assert f"error:     {PERSON_MESSAGE}" in text
    assert "dagster._core" not in text and "rows:" not in text


def test_result_paths_come_from_materialization_metadata():
    assert c.result_paths(successful_run()) == {
        "region_summary": f"{OUT}/region_summary.csv",
        "anomalies": f"{OUT}/anomalies.csv",
        "rejected_rows": f"{OUT}/rejected_rows.csv",
        "cleaned": f"{OUT}/cleaned.parquet",
    }
    assert set(c.result_paths({"assetMaterializations": []}).values()) == {None}


# -- failure messages ------------------------------------------------------------


def test_failure_message_is_the_persons_description():
    assert c.failure_message(FAILED_EVENTS) == PERSON_MESSAGE


def test_failure_message_of_an_unexpected_error_is_its_innermost_cause():
    events = [
        {
            "__typename": "ExecutionStepFailureEvent",
            "message": "failed",
            "error": {
                "message": 'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "cleaned_sales"\n',
                "className": "DagsterExecutionStepExecutionError",
                "cause": {"message": "KeyError: 'revenue'\n", "className": "KeyError", "cause": None},
            },
            "failureMetadata": None,
        }
    ]
    assert c.failure_message(events) == "KeyError: 'revenue'"


def test_failure_message_without_a_step_failure_uses_the_run_failure():
    events = [{"__typename": "RunFailureEvent", "message": "Run failed to start: no such partition", "error": None}]
    assert c.failure_message(events) == "Run failed to start: no such partition"
    assert c.failure_message([{"__typename": "RunCanceledEvent", "message": ""}]) == "the run was canceled"
    assert c.failure_message([]) is None


@pytest.mark.parametrize(
    ("message", "class_name", "expected"),
    [
        ("dagster._core.definitions.events.Failure: file is empty: no header row\n", "Failure", "file is empty: no header row"),
        ("builtins.ValueError: bad: value", "ValueError", "ValueError: bad: value"),
        ("plain text without a class", None, "plain text without a class"),
        ("Failure: keep: colons", "Failure", "keep: colons"),
    ],
)
def test_strip_class_path(message, class_name, expected):
    assert c.strip_class_path(message, class_name) == expected


# -- tables, bars, times -----------------------------------------------------------


def test_region_table_is_aligned_with_numbers_right_aligned():
    columns, rows, total = c.summary_rows(successful_run())
    assert total == 3 and len(rows) == 3
    text = c.format_table(columns, rows)
    lines = text.splitlines()
    assert lines[0].split() == list(v.SUMMARY_COLUMNS)
    assert set(lines[1].replace(" ", "")) == {"-"}
    widths = {c.display_width(line) for line in lines}
    assert len(widths) == 1, lines  # every line equally wide on a terminal (東京 is 4 columns)
    east = lines[2]
    assert east.startswith("East ")
    assert "130.00" in east and "0.1500" in east and "1,234,567.50" in lines[4]
    # right alignment: numbers end where their header ends
    header_end = lines[0].index("revenue_sum") + len("revenue_sum")
    assert east[:header_end].endswith("130.00")


def test_empty_region_table_says_why():
    text = c.format_table(list(v.SUMMARY_COLUMNS), [])
    assert "no clean rows" in text


def test_cells_are_single_line_and_floats_readable():
    assert c.format_cell("a\nb") == "a\\nb"
    assert c.format_cell(float("nan")) == "nan"
    assert c.format_cell(3, "row_count") == "3"
    assert c.format_cell(12345, "row_count") == "12,345"
    assert c.format_cell(0.123456, "discount_mean") == "0.1235"


def test_display_width_counts_wide_and_combining_characters():
    assert c.display_width("abc") == 3
    assert c.display_width("東京") == 4
    assert c.display_width("e\u0301") == 1


def test_progress_bar():
    assert c.progress_bar(0, 4, width=8) == "[░░░░░░░░] 0/4 steps"
    assert c.progress_bar(2, 4, width=8) == "[████░░░░] 2/4 steps"
    assert c.progress_bar(9, 4, width=8) == "[████████] 4/4 steps"


def test_progress_output_tty_and_plain():
    run = {"runId": "r1", "status": "STARTED", "stepStats": [
        {"stepKey": "raw_csv", "status": "SUCCESS"}, {"stepKey": "cleaned_sales", "status": "IN_PROGRESS"}]}
    plain = io.StringIO()
    progress = Progress(plain, tty=False)
    progress(run, 1.0)
    progress(run, 2.0)  # no change: no new line
    progress(run | {"status": "SUCCESS", "stepStats": [{"stepKey": k, "status": "SUCCESS"} for k in v.STEP_KEYS]}, 3.0)
    progress.close()
    lines = plain.getvalue().splitlines()
    assert lines == [
        "run r1: STARTED, 1/4 steps done, running cleaned_sales (1 s)",
        "run r1: SUCCESS, 4/4 steps done (3 s)",
    ]
    tty = io.StringIO()
    progress = Progress(tty, tty=True)
    progress(run, 1.0)
    progress.close()
    assert tty.getvalue().startswith("\r[") and "1/4 steps" in tty.getvalue() and tty.getvalue().endswith("\n")


def test_format_time_and_duration():
    assert c.format_time(0, timezone.utc) == "1970-01-01T00:00:00+00:00"
    assert c.format_time(None) is None
    assert c.format_duration(2.5) == "2.5 s"
    assert c.format_duration(125) == "2 min 05 s"
    assert c.format_duration(3 * 3600 + 60) == "3 h 01 min"


# -- URL, config, command line ---------------------------------------------------------


def test_resolve_url_order():
    assert c.resolve_url(None, {}) == "http://127.0.0.1:3000"
    assert c.resolve_url(None, {"DATATASKER_URL": "http://dagster:3000/"}) == "http://dagster:3000"
    assert c.resolve_url("localhost:4000", {"DATATASKER_URL": "http://x"}) == "http://localhost:4000"


def test_run_config_nests_options_under_cleaned_sales():
    assert c.run_config_for({"anomaly_k": 3}) == {"ops": {"cleaned_sales": {"config": {"anomaly_k": 3}}}}
    assert c.run_config_for(None) is None and c.run_config_for({}) is None


def test_config_must_be_a_json_object():
    assert parse_config('{"anomaly_k": 3}') == {"anomaly_k": 3}
    assert parse_config(None) is None
    for bad in ("{", "[1]", "3"):
        with pytest.raises(c.UsageProblem):
            parse_config(bad)


def test_commands_are_registered_with_their_options():
    parser = build_parser()
    args = parser.parse_args(["submit", "f.csv", "--config", "{}", "--url", "http://u", "--wait", "--json", "--remote"])
    assert (args.file, args.config, args.url, args.wait, args.json, args.remote) == ("f.csv", "{}", "http://u", True, True, True)
    args = parser.parse_args(["status", RUN_ID, "--json"])
    assert args.run_id == RUN_ID and args.json
    args = parser.parse_args(["results", RUN_ID, "--out", "/tmp/x"])
    assert args.out == "/tmp/x"


def test_exit_codes_are_distinct():
    codes = [v.EXIT_OK, v.EXIT_FAILED, v.EXIT_USAGE, v.EXIT_UNREACHABLE, v.EXIT_NOT_FOUND, v.EXIT_IN_PROGRESS]
    assert codes == [0, 1, 2, 3, 4, 5]
    assert c.WebserverUnavailable("x").exit_code == 3
    assert c.RunNotFound("x").exit_code == 4 and c.WaitTimedOut("x").exit_code == 4
    assert c.RunInProgress("x").exit_code == 5 and c.RunFailed("x").exit_code == 1


# -- the client against a fake transport -----------------------------------------------


class _Response:
    def __init__(self, status=200, body=None):
        self.status_code = status
        self._body = body

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class _Session:
    def __init__(self, answers):
        self.answers = list(answers)
        self.posts = []

    def post(self, url, json=None, timeout=None):
        self.posts.append((url, json))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_client_maps_answers_to_errors():
    import requests

    client = c.DataTaskerClient("http://h:1", session=_Session([
        _Response(body={"data": {"runOrError": {"__typename": "RunNotFoundError", "message": "nope"}}}),
        requests.ConnectionError("refused"),
        _Response(status=502, body=None),
        _Response(body={"errors": [{"message": "Cannot query field"}]}),
        _Response(body=ValueError("not json")),
    ]))
    with pytest.raises(c.RunNotFound, match="no run with ID x"):
        client.run("x")
    with pytest.raises(c.WebserverUnavailable, match="not answering"):
        client.run("x")
    with pytest.raises(c.WebserverUnavailable, match="HTTP 502"):
        client.run("x")
    with pytest.raises(c.WebserverUnavailable, match="Cannot query field"):
        client.run("x")
    with pytest.raises(c.WebserverUnavailable, match="JSON"):
        client.run("x")
    assert client.session.posts[0][0] == "http://h:1/graphql"


def test_wait_for_run_is_bounded_and_tolerates_a_missed_poll():
    import requests

    now = [0.0]
    empty = _Response(body={"data": {"runsOrError": {"__typename": "Runs", "results": []}}})
    found = _Response(body={"data": {"runsOrError": {"__typename": "Runs", "results": [{"runId": "r9"}]}}})
    session = _Session([empty, requests.ConnectionError("blip"), found])
    client = c.DataTaskerClient("http://h", session=session)
    run = client.wait_for_run_with_tags({"k": "v"}, timeout=10, clock=lambda: now[0],
                                        sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert run["runId"] == "r9"
    assert session.posts[0][1]["variables"]["tags"] == [{"key": "k", "value": "v"}]

    session = _Session([empty] * 20)
    client = c.DataTaskerClient("http://h", session=session)
    with pytest.raises(c.WaitTimedOut):
        client.wait_for_run_with_tags({"k": "v"}, timeout=3, clock=lambda: now[0],
                                      sleep=lambda s: now.__setitem__(0, now[0] + s))


def test_launch_run_sends_partition_tags_and_run_config():
    session = _Session([_Response(body={"data": {"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": "new"}}}})])
    client = c.DataTaskerClient("http://h", session=session)
    where = c.JobLocation("datatasker", "__repository__")
    run_id = client.launch_run(where, {"dagster/partition": "a.csv"}, c.run_config_for({"anomaly_k": 3}))
    assert run_id == "new"
    params = session.posts[0][1]["variables"]["executionParams"]
    assert params["selector"] == {"repositoryLocationName": "datatasker", "repositoryName": "__repository__", "jobName": "process_sales_file"}
    assert params["runConfigData"] == {"ops": {"cleaned_sales": {"config": {"anomaly_k": 3}}}}
    assert {"key": "dagster/partition", "value": "a.csv"} in params["executionMetadata"]["tags"]


def test_status_command_webserver_down_exits_3(capsys):
    from datatasker_pipeline.cli import main
    from datatasker_pipeline.testing.host import free_port

    code = main(["status", RUN_ID, "--url", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and "not answering" in err


def test_submit_of_a_missing_file_is_usage(capsys, tmp_path):
    from datatasker_pipeline.cli import main

    code = main(["submit", str(tmp_path / "absent.csv"), "--url", "http://127.0.0.1:9"])
    assert code == 2
    assert "no such file" in capsys.readouterr().err


def test_a_file_run_row_says_when_and_by_which_run_a_file_was_processed():
    from datatasker_pipeline.client.answers import file_run_row

    run = {"runId": "r9", "status": "SUCCESS", "creationTime": 0.0, "endTime": 60.0, "tags": [
        {"key": "datatasker/origin", "value": "sensor"}, {"key": "dagster/partition", "value": "sales.csv"},
        {"key": "datatasker/sha256", "value": "ab" * 32}]}
    row = file_run_row(run)
    assert (row["run_id"], row["status"], row["origin"], row["partition"]) == ("r9", "SUCCESS", "sensor", "sales.csv")
    assert row["ended_at"] == c.format_time(60.0) and row["sha256"] == "ab" * 32


def test_the_summary_csv_reads_a_region_name_longer_than_the_csv_modules_field_limit(tmp_path):
    long_region = "north " * 40_000  # 240,000 characters; the csv module's default limit is 131,072
    summary = tmp_path / "region_summary.csv"
    summary.write_text(
        ",".join(v.SUMMARY_COLUMNS) + "\n"
        f'"{long_region}",2,30.0,15.0,4.0,0.1\n'
        "south,1,5.0,5.0,1.0,0.0\n",
        encoding="utf-8",
    )
    columns, rows = c.read_summary_csv(str(summary))
    assert columns[:2] == ["region", "row_count"]
    assert [(r["region"], r["row_count"], r["revenue_sum"]) for r in rows] == [(long_region, 2, 30.0), ("south", 1, 5.0)]
