"""``datatasker submit | status | results``: a deployment's client over its GraphQL API.

These commands talk to the Dagster webserver (``--url``, ``$DATATASKER_URL``,
default http://127.0.0.1:3000) over HTTP only. ``submit`` in its default
(local) mode also writes into the deployment's incoming folder, which must
be on this machine (or mounted here); ``--remote`` launches by partition key
instead, for a file that already lies in the deployment's incoming folder.

Exit status: 0 done, 1 the run failed, 2 bad usage, 3 the webserver does not
answer, 4 no such run (or it did not appear / finish in time), 5 the run is
still going.

Module import stays light (stdlib only): ``datatasker --help`` must not pay
for Dagster or requests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, TextIO


def add_client_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``submit``, ``status`` and ``results`` on the ``datatasker`` parser."""
    exit_codes = (
        "Exit status: 0 ok, 1 the run failed, 2 bad usage, 3 the webserver does not answer, "
        "4 no such run (or not in time), 5 the run is still going."
    )

    submit = commands.add_parser(
        "submit",
        help="drop a file into a running deployment and print its run ID",
        description="Put FILE where the deployment's sensor picks it up (the incoming folder, written under a "
        "hidden .part name then renamed; --config becomes the sidecar <file>.json, written first) and print the "
        "run ID as soon as the run exists. With --remote, FILE must already be in the deployment's incoming "
        "folder (e.g. a shared volume): the partition is added and the run launched over GraphQL. " + exit_codes,
    )
    submit.add_argument("file", metavar="FILE")
    submit.add_argument("--config", metavar="JSON", help="options as a JSON object, e.g. '{\"anomaly_k\": 3}'")
    _common(submit)
    submit.add_argument("--wait", action="store_true", help="follow the run to its end (progress bar on a terminal)")
    submit.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the deployment's data root on this machine (default: $DATATASKER_DATA_DIR, else the project's data/)",
    )
    submit.add_argument(
        "--remote",
        action="store_true",
        help="do not copy: FILE is already in the deployment's incoming folder; add its partition and launch "
        "the run over GraphQL (--config becomes run config)",
    )
    submit.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="seconds to wait for the run to appear (120)"
    )
    submit.add_argument(
        "--wait-timeout", type=float, default=3600.0, metavar="S", help="seconds --wait follows the run (3600)"
    )
    submit.set_defaults(handler=_submit_command)

    status = commands.add_parser(
        "status",
        help="status, times, file, row counts and error of a run",
        description="Status, start/end times, file, partition, row counts and the error message of RUN_ID, "
        "read over GraphQL. " + exit_codes,
    )
    status.add_argument("run_id", metavar="RUN_ID")
    _common(status)
    status.set_defaults(handler=_status_command)

    results = commands.add_parser(
        "results",
        help="output files and region summary of a finished run",
        description="The four output files of RUN_ID (their paths, or copies in --out DIR) and the region "
        "summary as a table. " + exit_codes,
    )
    results.add_argument("run_id", metavar="RUN_ID")
    results.add_argument("--out", metavar="DIR", help="copy the output files into DIR")
    results.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where the deployment's data root is mounted here, when the recorded paths are not on this machine",
    )
    _common(results)
    results.set_defaults(handler=_results_command)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", metavar="URL", help="Dagster webserver (default $DATATASKER_URL, else http://127.0.0.1:3000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


# ---------------------------------------------------------------------------
# Shared plumbing
# ---------------------------------------------------------------------------


def _run(handler, args: argparse.Namespace) -> int:
    from . import client as c

    try:
        return handler(args, c.DataTaskerClient(url=c.resolve_url(args.url)))
    except c.ClientError as error:
        print(f"datatasker: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("datatasker: interrupted", file=sys.stderr)
        return 130


def _emit_json(value: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(value, ensure_ascii=False), file=stream or sys.stdout, flush=True)


def _parse_config(text: str | None) -> dict[str, Any] | None:
    from .client import UsageProblem
    from .options import options_from_json

    try:
        return options_from_json(text)
    except ValueError as error:
        raise UsageProblem(str(error)) from None


class _Progress:
    """Progress of a run in flight on stderr: a redrawn bar on a terminal, a line per change otherwise."""

    def __init__(self, stream: TextIO, tty: bool | None = None):
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._last: tuple | None = None
        self._drawn = False

    def __call__(self, run: dict[str, Any], elapsed: float) -> None:
        from .client import STEP_KEYS, current_step, progress_bar, progress_line, steps_done

        if self.tty:
            step = current_step(run) or ""
            line = f"\r{progress_bar(steps_done(run), len(STEP_KEYS))}  {run['status']:<9} {step:<15} {elapsed:5.0f} s"
            self.stream.write(line)
            self.stream.flush()
            self._drawn = True
            return
        state = (run["status"], steps_done(run), current_step(run))
        if state != self._last:
            self._last = state
            print(progress_line(run, elapsed), file=self.stream, flush=True)

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


# ---------------------------------------------------------------------------
# submit
# ---------------------------------------------------------------------------


def _submit_command(args: argparse.Namespace) -> int:
    return _run(_submit, args)


def _submit(args: argparse.Namespace, client) -> int:
    from . import client as c

    source = Path(args.file)
    options = _parse_config(args.config)
    if args.timeout <= 0 or args.wait_timeout <= 0:
        raise c.UsageProblem("--timeout and --wait-timeout must be positive")
    if not args.remote and not source.is_file():
        raise c.UsageProblem(f"no such file: {source}")
    client.ping()  # fail before touching anything when nobody is there

    if args.remote:
        run_id, existed = _submit_remote(client, source, options), False
    else:
        run_id, existed = _submit_local(client, source, options, args.data_dir, args.timeout)

    if not args.json:
        print(run_id, flush=True)  # the key for status/results, as soon as it exists
        if existed:
            print(
                f"datatasker: these bytes (with these options) were processed before: run {run_id}; "
                "change the file or its options to process it again",
                file=sys.stderr,
            )
    if not args.wait:
        if args.json:
            run = client.run_progress(run_id)
            _emit_json({**c.run_summary(run, url=client.url), "already_processed": existed})
        return c.EXIT_OK

    progress = _Progress(sys.stderr)
    try:
        client.follow(run_id, progress, timeout=args.wait_timeout)
    finally:
        progress.close()
    run = client.run(run_id)
    summary = c.run_summary(run, client.run_error(run), url=client.url)
    if args.json:
        _emit_json({**summary, "already_processed": existed})
    else:
        print(c.format_status(summary))
    return c.EXIT_OK if run["status"] == "SUCCESS" else c.EXIT_RUN_FAILED


def _data_dir(given: str | None) -> Path:
    if given:
        return Path(given).expanduser().resolve()
    from .project import default_data_dir

    return default_data_dir()


def _submit_local(client, source: Path, options, data_dir: str | None, timeout: float) -> tuple[str, bool]:
    """Copy into incoming/ atomically, then find the run the sensor launches for these bytes."""
    from . import client as c
    from .intake import content_fingerprint
    from .options import sidecar_path
    from .partitions import partition_key_for

    root = _data_dir(data_dir)
    if not root.is_dir():
        raise c.UsageProblem(
            f"no data root at {root}: is the deployment's data folder on this machine? "
            "Give it with --data-dir (or $DATATASKER_DATA_DIR), or use --remote"
        )
    incoming = root / "incoming"
    incoming.mkdir(exist_ok=True)
    source = source.resolve()
    name = source.name
    target = incoming / name

    # The sidecar: the one beside FILE, overridden key by key by --config.
    sidecar: dict[str, Any] | None = None
    local_sidecar = sidecar_path(source)
    if local_sidecar.is_file():
        try:
            sidecar = json.loads(local_sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as error:
            raise c.UsageProblem(f"cannot read the sidecar {local_sidecar}: {error}") from None
        if not isinstance(sidecar, dict):
            raise c.UsageProblem(f"the sidecar {local_sidecar} is not a JSON object")
    if options is not None:
        sidecar = {**(sidecar or {}), **options}

    # Stage under hidden names the sensor ignores; fingerprint exactly what will be dropped.
    partial = incoming / f".{name}.part"
    partial_sidecar = sidecar_path(partial)
    try:
        if source != target:
            shutil.copyfile(source, partial)
        else:  # already dropped: only fingerprint it (a hard link costs no copy)
            try:
                os.link(source, partial)
            except OSError:
                shutil.copyfile(source, partial)
        if sidecar is not None:
            partial_sidecar.write_text(json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        else:
            partial_sidecar.unlink(missing_ok=True)
        fingerprint = content_fingerprint(partial)

        # The same bytes under another name are another file, with a run of its own.
        run_tags = {c.FINGERPRINT_TAG: fingerprint, c.PARTITION_TAG: partition_key_for(name)}
        existing = client.runs_with_tags(run_tags, limit=1)
        if existing:
            return existing[0]["runId"], True

        # Sidecar first, then the file: the sensor never sees the file without its options.
        if sidecar is not None:
            os.replace(partial_sidecar, sidecar_path(target))
        else:
            sidecar_path(target).unlink(missing_ok=True)  # a stale sidecar would change the options
        if source != target:
            os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        partial_sidecar.unlink(missing_ok=True)

    run = client.wait_for_run_with_tags(run_tags, timeout=timeout)
    return run["runId"], False


def _submit_remote(client, source: Path, options) -> str:
    """Add the file's partition and launch the job for it over GraphQL."""
    from . import client as c
    from .partitions import partition_key_for

    name = source.name
    key = partition_key_for(name)
    tags = {c.PARTITION_TAG: key, c.FILE_NAME_TAG: name}
    if source.is_file():
        # Same bytes as the deployment's copy: the sensor then knows this run handles them.
        from .intake import content_fingerprint

        tags[c.FINGERPRINT_TAG] = content_fingerprint(source)
    where = client.job_location()
    client.add_partition(where, key)
    return client.launch_run(where, tags, c.run_config_for(options))


# ---------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------


def _status_command(args: argparse.Namespace) -> int:
    return _run(_status, args)


def _status(args: argparse.Namespace, client) -> int:
    from . import client as c

    run = client.run(args.run_id.strip())
    summary = c.run_summary(run, client.run_error(run), url=client.url)
    if args.json:
        _emit_json(summary)
    else:
        print(c.format_status(summary))
    return c.EXIT_RUN_FAILED if run["status"] in c.FAILED_STATUSES else c.EXIT_OK


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


def _results_command(args: argparse.Namespace) -> int:
    return _run(_results, args)


def _local_path(recorded: str | None, run_id: str, data_dir: str | None) -> Path | None:
    """The recorded output path, or the same file under a locally mounted data root."""
    if not recorded:
        return None
    path = Path(recorded)
    if path.is_file():
        return path
    roots = [Path(data_dir).expanduser()] if data_dir else []
    if os.environ.get("DATATASKER_DATA_DIR"):
        roots.append(Path(os.environ["DATATASKER_DATA_DIR"]))
    for root in roots:
        candidate = root / "outputs" / run_id / path.name
        if candidate.is_file():
            return candidate
    return None


def _results(args: argparse.Namespace, client) -> int:
    from . import client as c

    run_id = args.run_id.strip()
    run = client.run(run_id)
    status = run["status"]
    if status in c.FAILED_STATUSES:
        error = client.run_error(run)
        if args.json:
            _emit_json({"run_id": run_id, "status": status, "outputs": None, "error": error})
        raise c.RunFailed(f"run {run_id} {'was canceled' if status == 'CANCELED' else 'failed'}: {error}")
    if status not in c.TERMINAL_STATUSES:
        raise c.RunInProgress(
            f"run {run_id} is still {status} ({c.steps_done(run)}/{len(c.STEP_KEYS)} steps done); "
            f"try again when it has finished (datatasker status {run_id})"
        )

    recorded = c.result_paths(run)
    missing_meta = [name for name, path in recorded.items() if not path]
    if missing_meta:
        raise c.RunNotFound(f"run {run_id} recorded no output file for: {', '.join(missing_meta)}")
    local = {name: _local_path(path, run_id, args.data_dir) for name, path in recorded.items()}

    copied: dict[str, str] | None = None
    if args.out:
        absent = [recorded[name] for name, path in local.items() if path is None]
        if absent:
            raise c.RunNotFound(
                f"output file(s) not on this machine: {', '.join(absent)}; mount the deployment's data root "
                "and give it with --data-dir"
            )
        out = Path(args.out).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        copied = {}
        for name, path in local.items():
            target = out / path.name
            partial = target.with_name(f".{target.name}.part")
            shutil.copyfile(path, partial)
            os.replace(partial, target)
            copied[name] = str(target.resolve())

    columns, rows, total = c.summary_rows(run)
    summary_file = local["region_summary"]
    if summary_file is not None and total is not None and total > len(rows):
        columns, rows = c.read_summary_csv(str(summary_file))  # the metadata table is capped; the file is not
    assets = c.materializations_by_asset(run)
    anomalies = assets.get("anomaly_report", {}).get("anomalies")

    if args.json:
        _emit_json(
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
        return c.EXIT_OK

    print(f"run {run_id}: {status}")
    print()
    print(c.format_table(columns, rows))
    if total is not None and total > len(rows):
        print(f"({len(rows)} of {total} regions shown; all in {recorded['region_summary']})")
    print()
    print(f"anomalies: {anomalies}")
    shown = copied or {name: str(local[name] or recorded[name]) for name in recorded}
    label = f"copied to {Path(args.out).expanduser().resolve()}" if copied else "files"
    print(f"{label}:")
    for name, path in shown.items():
        print(f"  {name + ':':<16}{path}")
    return c.EXIT_OK
