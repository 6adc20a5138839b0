"""``datatasker upload-url FILE_NAME``: a presigned PUT URL into an object-store data root's ``incoming/``.

For people without the CLI or credentials: whoever holds the URL can put
one object at ``<root>/incoming/FILE_NAME`` until it expires
(``curl -T sales.csv "$URL"``), and the sensor takes it from there. The URL is
signed here with this machine's credentials (SigV4); nothing is uploaded.
"""

from __future__ import annotations

import argparse
import time

from ..client.errors import UsageProblem
from ..processing.intake import is_candidate
from ..vocabulary import EXIT_OK, INCOMING_DIR, SIDECAR_SUFFIX
from .common import emit_json
from .store_root import MAX_PRESIGN_SECONDS, check_root, presigned_put_url, store_root

DEFAULT_EXPIRES = 3600


def add_commands(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "upload-url",
        help="print a presigned URL to PUT a file into an s3:// data root's incoming/",
        description="Print a URL anyone may PUT FILE_NAME with (e.g. curl -T sales.csv \"$URL\") into "
        "<data root>/incoming/ of an s3://bucket/prefix data root, valid for --expires seconds. Signed with "
        "this machine's AWS credentials; the bucket is checked first. Exit status: 0 ok, 2 bad usage or the "
        "store refused the credentials / has no such bucket, 3 the store does not answer.",
    )
    command.add_argument("file_name", metavar="FILE_NAME", help="name of the object in incoming/, e.g. sales.csv")
    command.add_argument(
        "--expires", type=int, default=DEFAULT_EXPIRES, metavar="SECONDS",
        help=f"how long the URL stays valid ({DEFAULT_EXPIRES}; at most 604800, 7 days)",
    )
    command.add_argument(
        "--data-dir", metavar="URL", help="the deployment's data root, s3://bucket/prefix (default $DATATASKER_DATA_DIR)"
    )
    command.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    command.set_defaults(handler=_upload_url)


def _check_name(name: str) -> None:
    csv_name = name[: -len(SIDECAR_SUFFIX)] if name.endswith(SIDECAR_SUFFIX) else name
    if "/" in name or "\\" in name or not is_candidate(csv_name):
        raise UsageProblem(
            f"{name!r} is not a name the sensor takes: a plain *.csv name (not hidden, not .part/.tmp), "
            "or its sidecar <name>.csv.json"
        )


def _upload_url(args: argparse.Namespace) -> int:
    name = args.file_name.strip()
    _check_name(name)
    if not 1 <= args.expires <= MAX_PRESIGN_SECONDS:
        raise UsageProblem(f"--expires must be between 1 and {MAX_PRESIGN_SECONDS} seconds (7 days)")
    root = store_root(args.data_dir)
    if root is None:
        raise UsageProblem(
            "upload-url needs an object-store data root: give --data-dir s3://bucket/prefix (or $DATATASKER_DATA_DIR)"
        )
    check_root(root)  # a URL into a bucket that refuses us would only fail later, at the person's upload
    target = root / INCOMING_DIR / name
    url = presigned_put_url(target, args.expires)
    if args.json:
        expires_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + args.expires))
        emit_json({"url": url, "method": "PUT", "object": str(target), "expires_at": expires_at})
    else:
        print(url, flush=True)
    return EXIT_OK
