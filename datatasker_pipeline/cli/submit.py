"""``datatasker submit FILE``: drop a file into a running deployment and print its run ID.

In its default (local) mode the deployment's incoming folder must be on this
machine (or mounted here); for an ``s3://bucket/prefix`` data root the file
is uploaded into the store's ``incoming/`` (:mod:`.submit_store`);
``--remote`` launches by partition key over GraphQL instead, for a file that
already lies in the deployment's incoming folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from ..client.answers import run_summary
from ..client.errors import UsageProblem
from ..client.http import run_config_for
from ..client.text import format_status
from ..locations import default_data_dir
from ..processing.files import staged_file
from ..processing.intake import (
    content_fingerprint,
    fingerprint_from_hashes,
    partition_key_for,
    sha256_of,
)
from ..processing.options import sidecar_path
from ..processing.raw_copies import copy_hashing
from ..vocabulary import (
    EXIT_OK,
    FILE_NAME_TAG,
    FINGERPRINT_TAG,
    INCOMING_DIR,
    ORIGIN_SUBMIT,
    ORIGIN_TAG,
    PARTITION_TAG,
)
from .common import emit_json, exit_status, parse_config
from .connection import EXIT_CODES, add_connection_options, client_for
from .progress import Progress
from .store_root import store_root
from .submit_store import submit_to_store


def add_commands(commands: argparse._SubParsersAction) -> None:
    submit = commands.add_parser(
        "submit",
        help="drop a file into a running deployment and print its run ID",
        description="Put FILE where the deployment's sensor picks it up (the incoming folder, written under a "
        "hidden .part name then renamed; --config becomes the sidecar <file>.json, written first) and print the "
        "run ID as soon as the run exists. For an s3://bucket/prefix data root FILE is uploaded to its incoming/ "
        "(sidecar first; multipart when large, SHA-256 checked; credentials from the AWS_* variables). With --remote, FILE must already be in the deployment's incoming "
        "folder (e.g. a shared volume): the partition is added and the run launched over GraphQL. " + EXIT_CODES,
    )
    submit.add_argument("file", metavar="FILE")
    submit.add_argument("--config", metavar="JSON", help="options as a JSON object, e.g. '{\"anomaly_k\": 3}'")
    add_connection_options(submit)
    submit.add_argument("--wait", action="store_true", help="follow the run to its end (progress bar on a terminal)")
    submit.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the deployment's data root: a folder on this machine, or s3://bucket/prefix to upload into its "
        "object store (default: $DATATASKER_DATA_DIR, else the project's data/)",
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
    submit.set_defaults(handler=_submit)


def _submit(args: argparse.Namespace) -> int:
    source = Path(args.file)
    options = parse_config(args.config)
    if args.timeout <= 0 or args.wait_timeout <= 0:
        raise UsageProblem("--timeout and --wait-timeout must be positive")
    if not args.remote and not source.is_file():
        raise UsageProblem(f"no such file: {source}")
    client = client_for(args)
    client.ping()  # fail before touching anything when nobody is there

    store = None if args.remote else store_root(args.data_dir)
    if args.remote:
        run_id, existed = _submit_remote(client, source, options), False
    elif store is not None:
        run_id, existed = submit_to_store(client, source, _sidecar_text(source, options), store, args.timeout)
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
            emit_json({**run_summary(run, url=client.url), "already_processed": existed})
        return EXIT_OK

    progress = Progress(sys.stderr)
    try:
        client.follow(run_id, progress, timeout=args.wait_timeout)
    finally:
        progress.close()
    run = client.run(run_id)
    summary = run_summary(run, client.run_error(run), url=client.url)
    if args.json:
        emit_json({**summary, "already_processed": existed})
    else:
        print(format_status(summary))
    return exit_status(run["status"] == "SUCCESS")


def _sidecar_for(source: Path, options: dict[str, Any] | None) -> dict[str, Any] | None:
    """The sidecar to drop: the one beside FILE, overridden key by key by --config."""
    sidecar: dict[str, Any] | None = None
    local_sidecar = sidecar_path(source)
    if local_sidecar.is_file():
        try:
            sidecar = json.loads(local_sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as error:
            raise UsageProblem(f"cannot read the sidecar {local_sidecar}: {error}") from None
        if not isinstance(sidecar, dict):
            raise UsageProblem(f"the sidecar {local_sidecar} is not a JSON object")
    if options is not None:
        sidecar = {**(sidecar or {}), **options}
    return sidecar


def _sidecar_text(source: Path, options: dict[str, Any] | None) -> str | None:
    """The sidecar to drop, as its file's text; None for none."""
    sidecar = _sidecar_for(source, options)
    return json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n" if sidecar is not None else None


def _submit_local(client, source: Path, options, data_dir: str | None, timeout: float) -> tuple[str, bool]:
    """Drop FILE into incoming/ (unless these bytes ran before), then find the run the sensor launches."""
    root = Path(data_dir).expanduser().resolve() if data_dir else default_data_dir()
    if not root.is_dir():
        raise UsageProblem(
            f"no data root at {root}: is the deployment's data folder on this machine? "
            "Give it with --data-dir (or $DATATASKER_DATA_DIR), or use --remote"
        )
    incoming = root / INCOMING_DIR
    incoming.mkdir(exist_ok=True)
    source = source.resolve()
    target = incoming / source.name
    sidecar_text = _sidecar_text(source, options)

    # Staged under hidden names the sensor ignores, so the fingerprint is of exactly what is dropped.
    with staged_file(target) as staged, staged_file(sidecar_path(target)) as staged_sidecar:
        if source == target:  # already dropped: only fingerprint it
            sha256 = sha256_of(source)
        else:
            sha256, _ = copy_hashing(source, staged.path)
        if sidecar_text is not None:
            staged_sidecar.path.write_text(sidecar_text, encoding="utf-8")
        sidecar_sha256 = hashlib.sha256(sidecar_text.encode()).hexdigest() if sidecar_text is not None else None
        fingerprint = fingerprint_from_hashes(sha256, sidecar_sha256)

        # The same bytes under another name are another file, with a run of its own.
        run_tags = {FINGERPRINT_TAG: fingerprint, PARTITION_TAG: partition_key_for(source.name)}
        existing = client.runs_with_tags(run_tags, limit=1)
        if existing:
            return existing[0]["runId"], True

        # Sidecar first, then the file: the sensor never sees the file without its options.
        if sidecar_text is not None:
            staged_sidecar.publish()
        else:
            sidecar_path(target).unlink(missing_ok=True)  # a stale sidecar would change the options
        if source != target:
            staged.publish()

    run = client.wait_for_run_with_tags(run_tags, timeout=timeout)
    return run["runId"], False


def _submit_remote(client, source: Path, options) -> str:
    """Add the file's partition and launch the job for it over GraphQL."""
    name = source.name
    key = partition_key_for(name)
    tags = {PARTITION_TAG: key, FILE_NAME_TAG: name, ORIGIN_TAG: ORIGIN_SUBMIT}
    if source.is_file():
        # Same bytes as the deployment's copy: the sensor then knows this run handles them.
        tags[FINGERPRINT_TAG] = content_fingerprint(source)
    where = client.job_location()
    client.add_partition(where, key)
    return client.launch_run(where, tags, run_config_for(options))
