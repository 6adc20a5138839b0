"""``datatasker results RUN_ID``: the output files and region summary of a finished run."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ..client.answers import (
    data_root_of,
    materializations_by_asset,
    read_summary_csv,
    result_paths,
    steps_done,
    summary_rows,
)
from ..client.errors import RunFailed, RunInProgress, RunNotFound
from ..client.text import format_table
from ..processing.files import copy_atomically
from ..vocabulary import (
    ANOMALY_ASSET,
    DATA_DIR_ENV,
    EXIT_OK,
    FAILED_STATUSES,
    FINISHED_STATUSES,
    MANIFESTS_DIR,
    OUTPUTS_DIR,
    REGION_SUMMARY_FILE,
    RESULT_FILES,
    STEP_KEYS,
)
from .common import emit_json
from .connection import EXIT_CODES, add_connection_options, client_for
from .store_root import download, read_if_present, store_location, store_root


def add_commands(commands: argparse._SubParsersAction) -> None:
    results = commands.add_parser(
        "results",
        help="output files and region summary of a finished run",
        description="The four output files of RUN_ID (their paths, or copies in --out DIR) and the region "
        "summary as a table; only for a run whose manifest (manifests/<run_id>.json) says its results are "
        "complete. For an s3:// data root the files are downloaded from the store. " + EXIT_CODES,
    )
    results.add_argument("run_id", metavar="RUN_ID")
    results.add_argument("--out", metavar="DIR", help="copy the output files into DIR")
    results.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where the deployment's data root is mounted here, when the recorded paths are not on this machine; "
        "or its s3://bucket/prefix (by default the one the run recorded)",
    )
    add_connection_options(results)
    results.set_defaults(handler=_results)


def _local_path(recorded: str | None, run_id: str, data_dir: str | None) -> Path | None:
    """The recorded output path, or the same file under a locally mounted data root."""
    if not recorded:
        return None
    path = Path(recorded)
    if path.is_file():
        return path
    roots = [Path(data_dir).expanduser()] if data_dir else []
    if os.environ.get(DATA_DIR_ENV):
        roots.append(Path(os.environ[DATA_DIR_ENV]))
    for root in roots:
        candidate = root / OUTPUTS_DIR / run_id / path.name
        if candidate.is_file():
            return candidate
    return None


def _no_results(run_id: str, where: str) -> RunNotFound:
    return RunNotFound(
        f"run {run_id} has no complete results in {where}: its manifest {MANIFESTS_DIR}/{run_id}.json is missing "
        "(the run did not finish placing its four files, or they were removed)"
    )


def _from_folder(recorded: dict, run_id: str, out: str | None, data_dir: str | None):
    """A data root on this machine: the recorded files (or the same under --data-dir), copied to ``out``."""
    local = {name: _local_path(path, run_id, data_dir) for name, path in recorded.items()}
    for path in local.values():
        root = data_root_of(str(path), run_id) if path is not None else None
        if root is not None:
            manifests = Path(root) / MANIFESTS_DIR
            # Roots written before manifests existed have no manifests/ folder: their files are trusted as before.
            if manifests.is_dir() and not (manifests / f"{run_id}.json").is_file():
                raise _no_results(run_id, root)
            break
    copied: dict[str, str] | None = None
    if out:
        absent = [recorded[name] for name, path in local.items() if path is None]
        if absent:
            raise RunNotFound(
                f"output file(s) not on this machine: {', '.join(absent)}; mount the deployment's data root "
                "and give it with --data-dir"
            )
        folder = Path(out).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        copied = {name: str(copy_atomically(path, folder / path.name).resolve()) for name, path in local.items()}
    shown = copied or {name: str(local[name] or recorded[name]) for name in recorded}
    return copied, shown, local["region_summary"]


def _store_for(data_dir: str | None, recorded: dict, run_id: str):
    """The object-store data root of the run's results: an s3:// --data-dir, else the one the run recorded.

    A run on a store root records its outputs as ``s3://`` URLs; None for a local root.
    """
    if data_dir:
        return store_root(data_dir)
    for path in recorded.values():
        root = data_root_of(path, run_id) if path and path.startswith("s3://") else None
        if root is not None:
            return store_location(root)
    return None


def _from_store(store, run_id: str, out: str | None, scratch: Path | None):
    """A store data root: trusted only with the run's manifest; the four files streamed down to ``out``."""
    if read_if_present(store / MANIFESTS_DIR / f"{run_id}.json") is None:
        raise _no_results(run_id, str(store))
    outputs = store / OUTPUTS_DIR / run_id
    names = {name: file_name for name, (file_name, _, _) in RESULT_FILES.items()}
    copied: dict[str, str] | None = None
    summary_file = None
    if out:
        folder = Path(out).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        copied = {name: str(download(outputs / f, folder / f).resolve()) for name, f in names.items()}
        summary_file = copied["region_summary"]
    elif scratch is not None:
        summary_file = download(outputs / REGION_SUMMARY_FILE, scratch / REGION_SUMMARY_FILE)
    shown = copied or {name: str(outputs / f) for name, f in names.items()}
    return copied, shown, summary_file


def _results(args: argparse.Namespace) -> int:
    client = client_for(args)
    run_id = args.run_id.strip()
    run = client.run(run_id)
    status = run["status"]
    if status in FAILED_STATUSES:
        error = client.run_error(run)
        if args.json:
            emit_json({"run_id": run_id, "status": status, "outputs": None, "error": error})
        raise RunFailed(f"run {run_id} {'was canceled' if status == 'CANCELED' else 'failed'}: {error}")
    if status not in FINISHED_STATUSES:
        raise RunInProgress(
            f"run {run_id} is still {status} ({steps_done(run)}/{len(STEP_KEYS)} steps done); "
            f"try again when it has finished (datatasker status {run_id})"
        )

    recorded = result_paths(run)
    missing_meta = [name for name, path in recorded.items() if not path]
    if missing_meta:
        raise RunNotFound(f"run {run_id} recorded no output file for: {', '.join(missing_meta)}")
    columns, rows, total = summary_rows(run)
    capped = total is not None and total > len(rows)  # the metadata table is capped; the file is not

    with tempfile.TemporaryDirectory(prefix="datatasker-results-") as scratch:
        store = _store_for(args.data_dir, recorded, run_id)
        if store is not None:
            copied, shown, summary_file = _from_store(store, run_id, args.out, Path(scratch) if capped else None)
        else:
            copied, shown, summary_file = _from_folder(recorded, run_id, args.out, args.data_dir)
        if summary_file is not None and capped:
            columns, rows = read_summary_csv(str(summary_file))
    anomalies = materializations_by_asset(run).get(ANOMALY_ASSET, {}).get("anomalies")

    if args.json:
        emit_json(
            {
                "run_id": run_id,
                "status": status,
                "outputs": recorded,
                "copied": copied,
                "anomalies": anomalies,
                "region_summary": rows,
                "regions": total,
            }
        )
        return EXIT_OK

    print(f"run {run_id}: {status}")
    print()
    print(format_table(columns, rows))
    if total is not None and total > len(rows):
        print(f"({len(rows)} of {total} regions shown; all in {recorded['region_summary']})")
    print()
    print(f"anomalies: {anomalies}")
    label = f"copied to {Path(args.out).expanduser().resolve()}" if copied else "files"
    print(f"{label}:")
    for name, path in shown.items():
        print(f"  {name + ':':<16}{path}")
    return EXIT_OK
