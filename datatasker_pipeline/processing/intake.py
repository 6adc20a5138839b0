"""Dropped files: which ones count, what they are called, and what their bytes are.

No Dagster here, and nothing heavier than the standard library: the client
commands use these too.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from ..vocabulary import CSV_SUFFIX, IN_PROGRESS_SUFFIXES
from .options import sidecar_path
from .store import is_remote

# Reading, hashing and writing let go of the GIL, but a thread gets it back between blocks only
# at the next switch (5 ms) while another thread runs Python: `datatasker process` copies while it
# imports Dagster, and 1 MiB blocks made a 287 MB copy take 1.4-1.9 s instead of 0.3-0.8 s.
HASH_BLOCK_BYTES = 8 << 20
# Partition keys stay file-name safe: Dagster rejects "..." (its range
# separator) and control characters, and keys appear in URLs and folder names.
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


def partition_key_for(file_name: str) -> str:
    """The partition key of a dropped file.

    A plain name (letters, digits, ``.``, ``_``, ``-``) is its own key, so
    ``sales.csv`` is partition ``sales.csv``. Any other name is reduced to
    its safe characters plus a short hash of the full name, so two names
    never share a key and the key is the same every time; the original name
    is kept in run tags and metadata.
    """
    if _SAFE_KEY.fullmatch(file_name) and "..." not in file_name:
        return file_name
    stem = _UNSAFE_RUN.sub("_", file_name).replace("...", "_").strip("._-")[:80] or "file"
    digest = hashlib.sha256(file_name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{stem}-{digest}"


def is_candidate(name: str) -> bool:
    """A finished CSV drop: ``*.csv``, not hidden, not a .part/.tmp in progress."""
    lower = name.lower()
    return not name.startswith(".") and lower.endswith(CSV_SUFFIX) and not lower.endswith(IN_PROGRESS_SUFFIXES)


def is_plain_file(path: Path) -> bool:
    """A regular file that is not a symbolic link (a link could point anywhere on the machine)."""
    if is_remote(path):
        return path.is_file()  # an object store has no links
    return path.is_file() and not path.is_symlink()


@dataclass(frozen=True)
class DroppedFile:
    """A candidate file as seen by one look at the incoming folder."""

    name: str
    path: Path
    size: int
    mtime_ns: int
    sidecar_mtime_ns: int  # 0 when there is no sidecar
    # In an object store: the object's ETag and its sidecar's ("" when none), and when the
    # object was written (mtimes are 0 there: an object is whole once it is listed).
    etag: str = ""
    sidecar_etag: str = ""
    modified: str = ""

    @property
    def signature(self) -> list:
        """Cheap change detector: same signature, same bytes (assumed, not hashed; an ETag in a store).

        In a store the write time is part of it: the same bytes uploaded again
        are a new arrival (a duplicate to set aside), not the object seen before.
        """
        if self.etag:
            return [self.size, f"{self.etag} {self.modified}", self.sidecar_etag]
        return [self.size, self.mtime_ns, self.sidecar_mtime_ns]


def scan_incoming(folder: Path) -> list[DroppedFile]:
    """Candidate files in ``folder``, oldest first.

    Symbolic links are skipped: only files actually placed in the data root
    are processed.
    """
    if not folder.is_dir():
        return []
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not is_candidate(entry.name) or entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
            sidecar = sidecar_path(Path(entry.path))
            try:
                sidecar_stat = sidecar.lstat()
                sidecar_mtime = sidecar_stat.st_mtime_ns if is_plain_file(sidecar) else 0
            except FileNotFoundError:
                sidecar_mtime = 0
            found.append(DroppedFile(entry.name, Path(entry.path), stat.st_size, stat.st_mtime_ns, sidecar_mtime))
    return sorted(found, key=lambda f: (f.mtime_ns, f.name))


def file_for_partition(folder: Path, partition_key: str) -> Path | None:
    """The regular file directly in ``folder`` whose partition key is ``partition_key``, if any.

    Never a symbolic link, never a path the key spells (``../x``, ``/etc/x``:
    such keys match no file name's key).
    """
    exact = folder / partition_key
    if partition_key_for(partition_key) == partition_key and exact.parent == folder and is_plain_file(exact):
        return exact
    if is_remote(folder):
        return _find_in_store(folder, partition_key)
    if not folder.is_dir():
        return None
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and partition_key_for(entry.name) == partition_key:
                return Path(entry.path)
    return None


def _find_in_store(folder, partition_key: str):
    """The object directly in ``folder`` whose name has this key, page by page (raises the store's own errors)."""
    from .store import list_page

    after, more = "", True
    while more:
        objects, more = list_page(folder, after)
        for found in objects:
            if partition_key_for(found.name) == partition_key:
                return folder / found.name
        after = objects[-1].name if objects else after
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in blocks_of(f):
            digest.update(block)
    return digest.hexdigest()


def blocks_of(f: BinaryIO) -> Iterator[memoryview]:
    """The rest of ``f`` in blocks of up to HASH_BLOCK_BYTES, read into one reused buffer.

    Each block is valid until the next is read (a new buffer per block of this size
    would be mapped and faulted in again every time).
    """
    view = memoryview(bytearray(HASH_BLOCK_BYTES))
    while size := f.readinto(view):
        yield view[:size]


def fingerprint_of(sha256: str, sidecar: Path | None) -> str:
    """Identifies a file's bytes together with its sidecar's, from the file's SHA-256.

    Changed options are a change too: the same CSV with a new sidecar is
    processed again.
    """
    if sidecar is not None and is_plain_file(sidecar):
        return fingerprint_from_hashes(sha256, sha256_of(sidecar))
    return fingerprint_from_hashes(sha256, None)


def fingerprint_from_hashes(sha256: str, sidecar_sha256: str | None) -> str:
    if sidecar_sha256 is None:
        return sha256[:32]
    return hashlib.sha256((sha256 + sidecar_sha256).encode()).hexdigest()[:32]


def fingerprint_from_etags(etag: str, sidecar_etag: str) -> str:
    """An object store's fingerprint: its ETags (same bytes uploaded the same way, same ETag)."""
    return hashlib.sha256(f"etag:{etag}/{sidecar_etag}".encode()).hexdigest()[:32]


def content_fingerprint(path: Path) -> str:
    """:func:`fingerprint_of` a file beside its sidecar (if any)."""
    return fingerprint_of(sha256_of(path), sidecar_path(path))
