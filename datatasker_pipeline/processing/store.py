"""The data root as a location: a local folder or an S3-compatible prefix (no Dagster here).

A local root is a :class:`pathlib.Path` and keeps the POSIX guarantees the
rest of ``processing`` relies on (rename, links, modes). ``s3://bucket/prefix``
is a ``universal-pathlib`` path over ``s3fs``: it opens, reads, lists and
stats like a local one, so the reading and cleaning code takes either. What
an object store does differently lives here and only here: no rename (a
server-side copy pinned to the ETag the sensor saw, then a delete), listings
in bounded pages with ETags, put-if-absent for completion markers, uploads.

Credentials come the standard way (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, a profile, an instance role) and the endpoint from
``AWS_ENDPOINT_URL_S3`` or the data root's ``endpoint_url``; none of them is
ever stored in a path, a tag, metadata or a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCAL_PROTOCOLS = ("", "file", "local")
LIST_PAGE_KEYS = 1000  # ListObjectsV2's own maximum per page
ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
# Connection problems are retried by botocore first, then by the step's own retries.
CLIENT_CONFIG = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 4, "mode": "standard"}}
# s3fs reads ahead this much per request (its default is 50 MiB). The reader's own
# read-ahead thread overlaps the fetches with parsing; 16 MiB measured as fast as
# 50 MiB and ~80 MB lower at peak (docs/storage.md).
READ_BLOCK_BYTES = 16 * 1024**2


class StoreError(Exception):
    """A store failure a person must fix (credentials, bucket, endpoint): one line, no secret in it."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.message = message
        self.transient = transient


def is_remote(path: Any) -> bool:
    """True for an object-store path (``s3://...``), False for a local one."""
    return getattr(path, "protocol", "") not in LOCAL_PROTOCOLS


def is_location_url(text: str) -> bool:
    return "://" in text and not text.startswith("file://")


def location(text: str, endpoint_url: str = "") -> Any:
    """A local folder as a resolved Path, ``s3://bucket/prefix`` as a store path.

    Listings are never cached: the sensor must see each new object.
    """
    if not is_location_url(text):
        return Path(text.removeprefix("file://")).expanduser().resolve()
    from upath import UPath

    options: dict[str, Any] = {
        "use_listings_cache": False,
        "default_block_size": READ_BLOCK_BYTES,
        "config_kwargs": dict(CLIENT_CONFIG),
    }
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    return UPath(text.rstrip("/"), **options)


def endpoint_of(path: Any) -> str:
    """The endpoint a store path talks to, for messages (never a credential)."""
    configured = getattr(path, "storage_options", {}).get("endpoint_url")
    return configured or next((os.environ[e] for e in ENDPOINT_ENVS if os.environ.get(e)), "the AWS S3 endpoint")


def bucket_of(path: Any) -> str:
    return bucket_and_key(path)[0]


def bucket_and_key(path: Any) -> tuple[str, str]:
    """A store path's bucket and its key within it, as the S3 API names objects."""
    bucket, _, key = path.path.partition("/")
    return bucket, key


def describe(error: BaseException, path: Any) -> StoreError | None:
    """The person's one-line message for a store failure, or None when ``error`` is not one.

    Names the bucket and the endpoint, never a key or secret.
    """
    if isinstance(error, StoreError):
        return error
    text = f"{type(error).__name__}: {error}"
    where = f"bucket {bucket_of(path)!r} at {endpoint_of(path)}"
    credentials = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "access key", "AccessDenied", "Access Denied")
    if isinstance(error, PermissionError) or any(marker in text for marker in credentials):
        return StoreError(
            f"the object store refused the credentials for {where}: check AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or the profile) and that they may use this bucket"
        )
    if type(error).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return StoreError(
            f"no credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        )
    if "NoSuchBucket" in text or "bucket does not exist" in text:
        return StoreError(f"{where}: the bucket does not exist; create it or fix the data root's URL")
    connection = ("EndpointConnectionError", "ConnectTimeout", "ConnectionError", "Could not connect", "ReadTimeout")
    if any(marker in text for marker in connection):
        return StoreError(f"cannot reach the object store for {where}: is it running and reachable?", transient=True)
    return None


@dataclass(frozen=True)
class StoredObject:
    """One key of a listing page: its name in the folder, size, ETag and when it was last written."""

    name: str
    size: int
    etag: str
    modified: str = ""


def list_page(folder: Any, start_after: str = "", max_keys: int = LIST_PAGE_KEYS) -> tuple[list[StoredObject], bool]:
    """One ListObjectsV2 page of the objects directly in ``folder``, after name ``start_after``.

    Returns the objects and whether more follow. One request, whatever the
    number of objects under the prefix.
    """
    bucket, prefix = bucket_and_key(folder)
    prefix = f"{prefix.rstrip('/')}/" if prefix else ""
    request = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": max_keys}
    if start_after:
        request["StartAfter"] = prefix + start_after
    try:
        answer = folder.fs.call_s3("list_objects_v2", **request)
    except Exception as error:
        raise describe(error, folder) or error
    objects = [
        StoredObject(item["Key"][len(prefix):], int(item["Size"]), item["ETag"].strip('"'), str(item["LastModified"]))
        for item in answer.get("Contents", [])
    ]
    return objects, bool(answer.get("IsTruncated"))


def etag_of(path: Any) -> str | None:
    """The object's current ETag, None when there is none."""
    try:
        return path.fs.info(path.path)["ETag"].strip('"')
    except FileNotFoundError:
        return None


def copy_pinned(source: Any, target: Any, etag: str | None) -> None:
    """Server-side copy of ``source`` to ``target``, only if ``source`` still has ``etag``.

    The run so reads exactly the bytes the sensor saw, even if someone
    overwrites the key meanwhile. FileNotFoundError when the source is gone,
    :class:`ObjectChanged` when its ETag differs.
    """
    bucket, key = bucket_and_key(source)
    target_bucket, target_key = bucket_and_key(target)
    request: dict[str, Any] = {"Bucket": target_bucket, "Key": target_key, "CopySource": {"Bucket": bucket, "Key": key}}
    if etag:
        request["CopySourceIfMatch"] = f'"{etag}"'
    try:
        source.fs.call_s3("copy_object", **request)
    except OSError as error:
        if etag and _precondition_failed(error):
            raise ObjectChanged(f"{source.name} changed since it was seen (ETag {etag} then)") from None
        raise describe(error, source) or error


def _precondition_failed(error: BaseException) -> bool:
    message = str(error).lower()
    return "pre-condition" in message or "precondition" in message


class ObjectChanged(Exception):
    """The object's ETag is no longer the one a run was requested for."""


def move(source: Any, target: Any, etag: str | None = None) -> None:
    """Copy, then delete the source (an object store has no rename)."""
    copy_pinned(source, target, etag)
    source.fs.rm_file(source.path)


def put_if_absent(path: Any, data: bytes) -> bool:
    """Write ``data`` only if nothing is at ``path`` yet (``If-None-Match: *``); False when something was."""
    try:
        path.fs.pipe_file(path.path, data, mode="create")
        return True
    except (FileExistsError, OSError) as error:
        if isinstance(error, FileExistsError) or _precondition_failed(error):
            return False
        raise describe(error, path) or error


def upload(local: Path, target: Any) -> None:
    """Put a local file at ``target`` (multipart when large): it appears whole or not at all."""
    try:
        target.fs.put_file(str(local), target.path)
    except Exception as error:
        raise describe(error, target) or error

