"""The client commands' side of an object-store data root: which root, checked uploads, downloads, presigned URLs.

A deployment whose data root is ``s3://bucket/prefix`` is reached the way
the deployment itself reaches it: credentials from the standard AWS
variables (or a profile), the endpoint from ``AWS_ENDPOINT_URL_S3``. Every
store failure becomes one line naming the bucket and the endpoint, never a
key or secret (``processing.store.describe``): exit 2 when the store refuses
(credentials, no such bucket), 3 when it does not answer.

s3fs, universal-pathlib and botocore are imported only when a store root is
used: the command line starts without them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..client.errors import ClientError, StoreRefused, StoreUnavailable, UsageProblem
from ..processing.files import download_atomically
from ..processing.store import bucket_and_key, bucket_of, describe, endpoint_of, is_location_url, list_page, location
from ..vocabulary import DATA_DIR_ENV, INCOMING_DIR

# Files up to this size go up in one PUT, larger ones in parts of this size (one part in memory at a
# time). S3 wants parts of at least 5 MiB and at most 10,000 of them: parts grow for huge files.
PART_BYTES = 16 * 1024**2
MAX_PARTS = 10_000
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit


def store_root(data_dir: str | None) -> Any | None:
    """``--data-dir``, else ``$DATATASKER_DATA_DIR``, as a store path when it is an ``s3://`` URL; else None."""
    text = (data_dir or os.environ.get(DATA_DIR_ENV) or "").strip()
    if not text or not is_location_url(text):
        return None
    return store_location(text)


def store_location(url: str) -> Any:
    if not url.startswith("s3://") or not url[len("s3://"):].strip("/"):
        raise UsageProblem(f"{url!r} is not a data root this client can use: give a local folder or s3://bucket/prefix")
    return location(url)


def failure(error: BaseException, path: Any) -> ClientError | None:
    """The client error (one line, exit 2 or 3) for a store failure, None when ``error`` is not one."""
    problem = describe(error, path)
    if problem is None:
        return None
    return (StoreUnavailable if problem.transient else StoreRefused)(problem.message)


@contextlib.contextmanager
def store_errors(path: Any) -> Iterator[None]:
    """Turn a store failure inside the block into its one-line client error."""
    try:
        yield
    except ClientError:
        raise
    except Exception as error:
        found = failure(error, path)
        if found is None:
            raise
        raise found from None


def check_root(root: Any) -> None:
    """One listing request on ``incoming/``: the credentials work, the bucket exists, the endpoint answers.

    Done before anything is uploaded or handed out, so a wrong setup costs nothing.
    """
    with store_errors(root):
        list_page(root / INCOMING_DIR, max_keys=1)


# -- uploads ------------------------------------------------------------------


@dataclass
class Checksums:
    """What one pass over a local file tells before it is uploaded (the upload then sends these)."""

    size: int
    part_bytes: int
    sha256: str  # of the whole file, hex
    part_sha256: list[bytes] = field(default_factory=list)
    part_md5: list[bytes] = field(default_factory=list)

    @property
    def multipart(self) -> bool:
        return self.size > self.part_bytes

    @property
    def expected_etag(self) -> str:
        """The ETag S3 gives these bytes uploaded this way: MD5, or MD5 of the parts' MD5s and their count."""
        if not self.multipart:
            return (self.part_md5[0] if self.part_md5 else hashlib.md5(b"").digest()).hex()
        return f"{hashlib.md5(b''.join(self.part_md5)).hexdigest()}-{len(self.part_md5)}"


def checksums_of(local: Path, part_bytes: int = PART_BYTES) -> Checksums:
    size = local.stat().st_size
    part_bytes = max(part_bytes, -(-size // MAX_PARTS))
    whole = hashlib.sha256()
    found = Checksums(size, part_bytes, "")
    with local.open("rb") as handle:
        while data := handle.read(part_bytes):
            whole.update(data)
            found.part_sha256.append(hashlib.sha256(data).digest())
            found.part_md5.append(hashlib.md5(data).digest())
    found.sha256 = whole.hexdigest()
    return found


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def upload_checked(local: Path, target: Any, checksums: Checksums | None = None) -> str:
    """Put ``local`` at ``target`` with SHA-256 checksums the store verifies; returns the object's ETag.

    One PUT up to the part size, else a multipart upload (aborted on any
    failure, so nothing half-written stays behind). The checksums come from
    the pass before: bytes changed since then are refused by the store.
    """
    sums = checksums or checksums_of(local)
    bucket, key = bucket_and_key(target)
    call = target.fs.call_s3
    with store_errors(target), _checksum_mismatch(target), local.open("rb") as handle:
        if not sums.multipart:
            data = handle.read(sums.part_bytes + 1)
            checksum = sums.part_sha256[0] if sums.part_sha256 else hashlib.sha256(b"").digest()
            answer = call(
                "put_object", Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(checksum)
            )
            return answer["ETag"].strip('"')
        upload_id = call("create_multipart_upload", Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
        try:
            parts = []
            for number, checksum in enumerate(sums.part_sha256, start=1):
                answer = call(
                    "upload_part", Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                    Body=handle.read(sums.part_bytes), ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(checksum),
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": _b64(checksum)})
            answer = call(
                "complete_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(Exception):
                call("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
            raise
        return answer["ETag"].strip('"')


@contextlib.contextmanager
def _checksum_mismatch(target: Any) -> Iterator[None]:
    """The store refused bytes whose checksum differs from the one sent: say so in one line."""
    try:
        yield
    except OSError as error:
        text = str(error)
        if any(marker in text for marker in ("did not match", "BadDigest", "ChecksumMismatch", "checksum")):
            raise ClientError(
                f"bucket {bucket_of(target)!r} at {endpoint_of(target)} received bytes whose SHA-256 differs from "
                f"the file's ({target.name} changed while uploading, or was damaged on the way); nothing was "
                "placed: try again"
            ) from None
        raise


def upload_bytes(data: bytes, target: Any) -> str:
    """A small object (a sidecar) in one checked PUT; returns its ETag."""
    bucket, key = bucket_and_key(target)
    with store_errors(target), _checksum_mismatch(target):
        answer = target.fs.call_s3(
            "put_object", Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(hashlib.sha256(data).digest()),
        )
    return answer["ETag"].strip('"')


def remove_if_present(target: Any) -> None:
    with store_errors(target), contextlib.suppress(FileNotFoundError):
        target.fs.rm_file(target.path)


# -- downloads and reads --------------------------------------------------------


def download(source: Any, target: Path) -> Path:
    """Stream ``source`` into the local ``target``, which appears only once complete."""
    with store_errors(source):
        return download_atomically(source, target)


def read_if_present(source: Any) -> bytes | None:
    """The object's bytes, None when there is no such object."""
    with store_errors(source):
        try:
            return source.read_bytes()
        except FileNotFoundError:
            return None


# -- presigned uploads ------------------------------------------------------------


def presigned_put_url(target: Any, expires: int) -> str:
    """A URL anyone may PUT ``target`` with (no credentials needed) for ``expires`` seconds, signed with SigV4."""
    import botocore.session
    from botocore.config import Config

    if not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise UsageProblem(f"--expires must be between 1 and {MAX_PRESIGN_SECONDS} seconds (7 days)")
    session = botocore.session.get_session()
    region = os.environ.get("AWS_REGION") or session.get_config_variable("region") or "us-east-1"
    endpoint = getattr(target, "storage_options", {}).get("endpoint_url") or None
    bucket, key = bucket_and_key(target)
    with store_errors(target):
        client = session.create_client(
            "s3", region_name=region, endpoint_url=endpoint, config=Config(signature_version="s3v4")
        )
        return client.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires, HttpMethod="PUT"
        )
