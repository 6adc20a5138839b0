"""The run's raw copy: the exact bytes a run reads, kept in ``raw/<run_id>/`` (no Dagster here).

``incoming/`` is an inbox: it holds only files waiting for a run. A run takes
its file out of it (:func:`take_dropped_file`: a rename, so no second copy of
the bytes), and ``raw/<run_id>/`` is where a processed file lives from then
on, until the retention job removes it with the run's outputs. A run that
has no file waiting (a re-execution, a partition launched by hand) copies an
earlier run's raw file instead (:func:`copy_raw_file`).
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import FileFailure, size_failure
from .files import atomic_path
from .intake import DroppedFile, blocks_of, file_for_partition, is_plain_file, sha256_of
from .options import sidecar_path
from .store import ObjectChanged, copy_pinned, etag_of, is_remote, move, upload

READ_ONLY = 0o444


@dataclass(frozen=True)
class RawFile:
    """The run's own copy of the dropped file and its sidecar."""

    path: Path
    original_name: str
    sha256: str
    size: int
    sidecar: Path | None


def copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    """Copy ``source`` to ``target`` (an open path, not placed atomically here); its SHA-256 and size."""
    import hashlib

    digest = hashlib.sha256()
    copied = 0
    with source.open("rb") as src, target.open("wb") as dst:
        for block in blocks_of(src):
            digest.update(block)
            dst.write(block)
            copied += len(block)
    return digest.hexdigest(), copied


def _raw_file(path: Path, sha256: str, size: int) -> RawFile:
    sidecar = sidecar_path(path)
    return RawFile(path, path.name, sha256, size, sidecar if is_plain_file(sidecar) else None)


def copy_raw_file(source: Path, destination_dir: Path, max_file_bytes: int, name: str | None = None) -> RawFile:
    """Copy ``source`` (and its sidecar) into ``destination_dir`` as ``name``, hashing as it goes.

    The size limit is checked first, so an oversized file is never copied.
    The copy appears under its final name only when complete, read-only.
    """
    size = source.stat().st_size
    if size > max_file_bytes:
        raise FileFailure(size_failure(size, max_file_bytes))
    target = destination_dir / (name or source.name)
    if is_remote(target):
        return _copy_into_store(source, target)
    with atomic_path(target) as partial:
        sha256, copied = copy_hashing(source, partial)
        os.chmod(partial, READ_ONLY)
    sidecar = sidecar_path(source)
    if is_plain_file(sidecar):
        with atomic_path(sidecar_path(target)) as partial:
            shutil.copyfile(sidecar, partial)
            os.chmod(partial, READ_ONLY)
    return _raw_file(target, sha256, copied)


def _copy_into_store(source, target) -> RawFile:
    """Server-side copy within the store, or an upload of a local file; hashed from the source."""
    place = (lambda a, b: copy_pinned(a, b, None)) if is_remote(source) else upload
    place(source, target)
    sidecar = sidecar_path(source)
    if is_plain_file(sidecar):
        place(sidecar, sidecar_path(target))
    return _raw_file(target, sha256_of(source), source.stat().st_size)


def _take_from_store(source, destination_dir, max_file_bytes: int, expected_etag: str | None) -> RawFile:
    """The object-store inbox: copy the object the sensor saw (pinned to its ETag) into the raw folder, then delete it.

    A key overwritten since the run was requested is left alone (its new
    version gets its own run); the run fails with a message.
    """
    size = source.stat().st_size
    target = destination_dir / source.name
    if size > max_file_bytes:
        move(source, target)
        raise FileFailure(size_failure(size, max_file_bytes))
    try:
        copy_pinned(source, target, expected_etag)
    except ObjectChanged:
        raise FileFailure(
            f"{source.name} was replaced after this run was requested: the new version stays in incoming/ "
            "for a run of its own"
        ) from None
    sidecar = sidecar_path(source)
    if is_plain_file(sidecar):
        move(sidecar, sidecar_path(target))
    # Delete only the version this run copied; a newer upload under the same key stays for its own run.
    if expected_etag is None or etag_of(source) == expected_etag:
        source.fs.rm_file(source.path)
    return _raw_file(target, sha256_of(target), size)


def _move(source: Path, target: Path) -> None:
    """Rename; across file systems, copy then remove the original."""
    try:
        os.replace(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        with atomic_path(target) as partial:
            shutil.copyfile(source, partial)
        source.unlink()


def take_dropped_file(
    source: Path, destination_dir: Path, max_file_bytes: int, expected_sha256: str | None, expected_etag: str | None = None
) -> RawFile:
    """Move a dropped file (and its sidecar) out of ``incoming/`` into the run's raw folder.

    With ``expected_sha256`` (what the sensor hashed when it requested the
    run) the file is hashed where it lies first, and a file whose bytes
    changed since is left alone: the new version gets a run of its own. An
    oversized file is moved unhashed, and fails. In an object store the
    ``expected_etag`` pins the version instead (see :func:`_take_from_store`).
    """
    if is_remote(source):
        return _take_from_store(source, destination_dir, max_file_bytes, expected_etag)
    size = source.stat().st_size
    target = destination_dir / source.name
    destination_dir.mkdir(parents=True, exist_ok=True)
    if size > max_file_bytes:
        _move(source, target)
        raise FileFailure(size_failure(size, max_file_bytes))
    sha256 = sha256_of(source)
    if expected_sha256 and sha256 != expected_sha256:
        raise FileFailure(
            f"{source.name} was replaced after this run was requested (sha256 {expected_sha256[:12]}... then, "
            f"{sha256[:12]}... now): the new version stays in incoming/ for a run of its own"
        )
    sidecar = sidecar_path(source)
    _move(source, target)
    if is_plain_file(sidecar):
        _move(sidecar, sidecar_path(target))
        os.chmod(sidecar_path(target), READ_ONLY)
    os.chmod(target, READ_ONLY)
    return _raw_file(target, sha256, size)


def set_aside_duplicate(seen: DroppedFile, duplicates_dir: Path) -> Path | None:
    """Move a re-dropped file whose bytes a run already processed out of ``incoming/``.

    It goes to ``duplicates/<that run's id>/`` (under retention like the run's
    other folders), with its sidecar, unless it changed since the sensor saw
    it (``seen``; then the next look decides again). None when it was left in
    place.
    """
    dropped = seen.path
    if is_remote(dropped):
        return _set_aside_in_store(seen, duplicates_dir)
    stat = dropped.stat()
    sidecar = sidecar_path(dropped)
    sidecar_mtime = sidecar.lstat().st_mtime_ns if is_plain_file(sidecar) else 0
    if [stat.st_size, stat.st_mtime_ns, sidecar_mtime] != seen.signature:
        return None
    duplicates_dir.mkdir(parents=True, exist_ok=True)
    target = duplicates_dir / dropped.name
    _move(dropped, target)
    if sidecar_mtime:
        _move(sidecar, sidecar_path(target))
    return target


def _set_aside_in_store(seen: DroppedFile, duplicates_dir) -> Path | None:
    """The same in a store: unchanged means the same ETags, and each move is pinned to them."""
    dropped, sidecar = seen.path, sidecar_path(seen.path)
    if etag_of(dropped) != seen.etag or (etag_of(sidecar) or "") != seen.sidecar_etag:
        return None
    target = duplicates_dir / dropped.name
    move(dropped, target, seen.etag)
    if seen.sidecar_etag:
        move(sidecar, sidecar_path(target), seen.sidecar_etag)
    return target


def staged_raw_file(folder: Path, partition_key: str, sha256: str) -> RawFile | None:
    """A raw copy someone placed in the run's own raw folder before the run (``datatasker process``).

    It was written atomically and hashed as it was copied, so it is taken as
    it is: no second copy, no second hash.
    """
    staged = file_for_partition(folder, partition_key)
    return None if staged is None else _raw_file(staged, sha256, staged.stat().st_size)


def earlier_raw_file(folders: Iterable[Path], partition_key: str, sha256: str | None = None) -> Path | None:
    """The partition's file in the first of ``folders`` (earlier runs' raw folders, newest first) that has it.

    With ``sha256``, only a copy of exactly those bytes counts (each candidate is hashed).
    """
    for folder in folders:
        found = file_for_partition(folder, partition_key)
        if found is not None and (sha256 is None or sha256_of(found) == sha256):
            return found
    return None
