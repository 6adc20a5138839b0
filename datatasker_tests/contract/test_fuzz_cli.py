"""Mutation fuzzing: hostile files never crash, hang, drop rows or leave half results (issue 6).

For every mutated file (see ``fuzz_corpus``) the promise is:

* SUCCESS: ``rows_read == rows_clean + rows_rejected``, all four result files
  are present, and they agree with the independent SPEC oracle; or
* FAILURE: one line a person can act on (no traceback), the oracle fails the
  file too (same kind, same facts), and the run folder holds no result file;
* never anything else: no other exception, no exit status other than 0/1,
  no hang (each case is timed; pytest-timeout bounds the whole test).

Two layers:

* ``test_fuzz_in_process``: the bulk, straight through
  ``pipeline.process_file`` (milliseconds a case). ``DATATASKER_FUZZ_CASES``
  sets the count (default 300), ``DATATASKER_FUZZ_SEED`` the seed.
* ``test_fuzz_cli_subset``: a fixed handful through the real
  ``datatasker process FILE --json`` in a subprocess over a temporary
  ``DAGSTER_HOME``/``DATATASKER_DATA_DIR`` (seconds a case: Dagster start-up).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datatasker_pipeline.processing.errors import (
    MAX_MESSAGE_CHARS,
    FileFailure,
    message_for_people,
)
from datatasker_pipeline.processing.pipeline import process_file
from datatasker_pipeline.vocabulary import OUTPUT_FILE_NAMES as RESULT_FILES
from datatasker_tests.harness.fuzz_corpus import FuzzCase, cli_cases, fuzz_cases
from datatasker_tests.harness.oracle import compare, load_outputs, run_oracle

pytestmark = pytest.mark.fuzz

FUZZ_CASES = int(os.environ.get("DATATASKER_FUZZ_CASES") or 300)
FUZZ_SEED = int(os.environ.get("DATATASKER_FUZZ_SEED") or 20240601)
CASE_SECONDS = 60  # far above the slowest case (a 1 MB cell): anything longer is a hang
CLI_SECONDS = 240


def message_problems(message) -> list[str]:
    """A failure message must be one non-empty line with no traceback in it."""
    if not isinstance(message, str) or not message.strip():
        return [f"empty or non-text failure message: {message!r}"]
    problems = []
    if "\n" in message or "\r" in message:
        problems.append(f"failure message is not one line: {message!r}")
    if "Traceback" in message or 'File "' in message:
        problems.append(f"failure message carries a traceback: {message!r}")
    if len(message) > MAX_MESSAGE_CHARS + 100:
        problems.append(f"failure message is {len(message)} characters long")
    return problems


def result_files_in(folder: Path) -> list[str]:
    """Result files (not hidden temporaries) in a run folder."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def check_in_process(case: FuzzCase, workdir: Path) -> list[str]:
    """Every broken promise for one case (empty: kept)."""
    source = workdir / "input.csv"
    source.write_bytes(case.data)
    out_dir = workdir / "out"
    oracle = run_oracle(case.data, copy.deepcopy(case.options))
    started = time.monotonic()
    try:
        result = process_file(source, out_dir, copy.deepcopy(case.options))
    except FileFailure as failure:
        # What a person reads (UI, GraphQL, CLI) is the message made one line;
        # the facts are compared on the raw message.
        problems = message_problems(message_for_people(failure.message))
        leftovers = result_files_in(out_dir)
        if leftovers:
            problems.append(f"failed file left result files: {leftovers}")
        hidden = [p.name for p in out_dir.iterdir()] if out_dir.is_dir() else []
        if hidden:
            problems.append(f"failed file left temporaries: {hidden}")
        loaded = load_outputs(out_dir)
        loaded.error = failure.message
        problems += compare(oracle, loaded)
    except Exception as crash:  # the promise is broken: neither result nor a person's message
        return [f"crash: {type(crash).__name__}: {crash}"]
    else:
        problems = []
        if result.rows_read != result.rows_clean + result.rows_rejected:
            problems.append(f"rows_read {result.rows_read} != {result.rows_clean} + {result.rows_rejected}")
        missing = [name for name in RESULT_FILES if not (out_dir / name).is_file()]
        if missing:
            problems.append(f"result files missing: {missing}")
        if any(p.name.endswith(".partial") for p in out_dir.iterdir()):
            problems.append("temporary .partial files left beside the results")
        loaded = load_outputs(out_dir)
        loaded.rows_read, loaded.rows_clean = result.rows_read, result.rows_clean
        loaded.rows_rejected, loaded.anomaly_count = result.rows_rejected, result.anomaly_count
        problems += compare(oracle, loaded)
    elapsed = time.monotonic() - started
    if elapsed > CASE_SECONDS:
        problems.append(f"took {elapsed:.1f} s (a hang?)")
    return problems


@pytest.mark.timeout(1800)
def test_fuzz_in_process(tmp_path):
    """The bulk of the corpus through ``process_file``, each case checked against the oracle."""
    broken: list[str] = []
    outcomes = {"success": 0, "failure": 0}
    mutator_use: dict[str, int] = {}
    for i, case in enumerate(fuzz_cases(FUZZ_CASES, FUZZ_SEED)):
        workdir = tmp_path / f"c{i}"
        workdir.mkdir()
        problems = check_in_process(case, workdir)
        for name in case.mutators:
            mutator_use[name] = mutator_use.get(name, 0) + 1
        outcomes["success" if (workdir / "out" / "cleaned.parquet").exists() else "failure"] += 1
        if problems:
            shown = [p if len(p) < 600 else p[:600] + f"... ({len(p)} chars)" for p in problems]
            broken.append(f"{case.name} options={case.options!r} data={case.data[:300]!r}...\n  " + "\n  ".join(shown))
    print(f"\n[fuzz] {FUZZ_CASES} in-process cases (seed {FUZZ_SEED}): {outcomes}; mutators used: {mutator_use}")
    assert set(mutator_use) >= {"truncate", "byte_flip", "cr_only", "megabyte_cell", "utf16_bom", "nul_bytes"}
    assert not broken, f"{len(broken)} of {FUZZ_CASES} cases broke the promise:\n" + "\n".join(broken[:40])


# --------------------------------------------------------------------------
# The real CLI
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzzcli")
    (base / "dagster_home").mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(base / "dagster_home"), "DATATASKER_DATA_DIR": str(base / "data")}
    env.pop("DATATASKER_URL", None)
    return base, env


@pytest.mark.timeout(CLI_SECONDS + 60)
@pytest.mark.parametrize("case", cli_cases(), ids=lambda c: c.name)
def test_fuzz_cli_subset(cli_env, case):
    base, env = cli_env
    source = base / "elsewhere" / f"{case.name}.csv"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(case.data)
    args = [sys.executable, "-m", "datatasker_pipeline.cli", "process", str(source), "--json"]
    if case.options:
        args += ["--config", json.dumps(case.options)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=CLI_SECONDS)
    assert done.returncode in (0, 1), f"exit {done.returncode} (a crash)\nstdout={done.stdout}\nstderr={done.stderr[-3000:]}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one JSON object: {done.stdout!r}"
    outcome = json.loads(lines[0])
    run_folder = Path(env["DATATASKER_DATA_DIR"]) / "outputs" / outcome["run_id"]
    oracle = run_oracle(case.data, copy.deepcopy(case.options))
    loaded = load_outputs(run_folder)
    if done.returncode == 0:
        assert outcome["status"] == "SUCCESS" and outcome["error"] is None
        assert outcome["rows_read"] == outcome["rows_clean"] + outcome["rows_rejected"], outcome
        assert sorted(Path(p).name for p in outcome["outputs"].values()) == sorted(RESULT_FILES)
        for path in outcome["outputs"].values():
            assert Path(path).parent == run_folder and Path(path).is_file(), path
        loaded.rows_read, loaded.rows_clean = outcome["rows_read"], outcome["rows_clean"]
        loaded.rows_rejected, loaded.anomaly_count = outcome["rows_rejected"], outcome["anomalies"]
    else:
        assert outcome["status"] == "FAILURE" and outcome["outputs"] is None
        assert not message_problems(outcome["error"]), message_problems(outcome["error"])
        assert result_files_in(run_folder) == [], f"failed run left result files: {result_files_in(run_folder)}"
        loaded.error = outcome["error"]
    diffs = compare(oracle, loaded)
    assert not diffs, "\n".join(diffs)
