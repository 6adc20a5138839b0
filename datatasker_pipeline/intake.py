"""Finding dropped files and taking an immutable copy of one (no Dagster here)."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import FileFailure
from .options import sidecar_path

# The atomic-drop convention: write under a hidden or .part/.tmp name, then
# rename to the final *.csv name; only the final name is picked up.
IGNORED_SUFFIXES = (".part", ".tmp")
HASH_BLOCK_BYTES = 1 << 20


def is_candidate(name: str) -> bool:
    """A finished CSV drop: ``*.csv``, not hidden, not a .part/.tmp in progress."""
    lower = name.lower()
    return not name.startswith(".") and lower.endswith(".csv") and not lower.endswith(IGNORED_SUFFIXES)


@dataclass(frozen=True)
class DroppedFile:
    """A candidate file as seen by one look at the incoming folder."""

    name: str
    path: Path
    size: int
    mtime_ns: int
    sidecar_mtime_ns: int  # 0 when there is no sidecar

    @property
    def signature(self) -> list[int]:
        """Cheap change detector: same signature, same bytes (assumed, not hashed)."""
        return [self.size, self.mtime_ns, self.sidecar_mtime_ns]


def scan_incoming(folder: Path) -> list[DroppedFile]:
    """Candidate files in ``folder``, oldest first.

    Symbolic links are skipped: a link could point anywhere on the machine,
    and only files actually placed in the data root are processed.
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
                sidecar_mtime = sidecar_stat.st_mtime_ns if sidecar.is_file() and not sidecar.is_symlink() else 0
            except FileNotFoundError:
                sidecar_mtime = 0
            found.append(DroppedFile(entry.name, Path(entry.path), stat.st_size, stat.st_mtime_ns, sidecar_mtime))
    return sorted(found, key=lambda f: (f.mtime_ns, f.name))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def content_fingerprint(path: Path) -> str:
    """Identifies the bytes of a file together with its sidecar's.

    Changed options are a change too: the same CSV with a new sidecar is
    processed again.
    """
    fingerprint = sha256_of(path)
    sidecar = sidecar_path(path)
    if sidecar.is_file() and not sidecar.is_symlink():
        fingerprint = hashlib.sha256((fingerprint + sha256_of(sidecar)).encode()).hexdigest()
    return fingerprint[:32]


@dataclass(frozen=True)
class RawFile:
    """The run's own copy of the dropped file and its sidecar."""

    path: Path
    original_name: str
    sha256: str
    size: int
    sidecar: Path | None


def copy_raw_file(source: Path, destination_dir: Path, max_file_bytes: int) -> RawFile:
    """Copy ``source`` (and its sidecar) into ``destination_dir``, hashing as it goes.

    The size limit is checked first, so an oversized file is never copied.
    """
    size = source.stat().st_size
    if size > max_file_bytes:
        raise FileFailure(f"file is {size} bytes; the limit is {max_file_bytes}")
    destination_dir.mkdir(parents=True, exist_ok=True)
    target = destination_dir / source.name
    target.unlink(missing_ok=True)  # a retried step starts its copy afresh
    digest = hashlib.sha256()
    copied = 0
    with source.open("rb") as src, target.open("wb") as dst:
        while block := src.read(HASH_BLOCK_BYTES):
            digest.update(block)
            dst.write(block)
            copied += len(block)
    os.chmod(target, 0o444)
    sidecar = sidecar_path(source)
    sidecar_copy = None
    if sidecar.is_file() and not sidecar.is_symlink():  # a linked sidecar could be any file on the machine
        sidecar_copy = destination_dir / sidecar.name
        sidecar_copy.unlink(missing_ok=True)
        shutil.copyfile(sidecar, sidecar_copy)
        os.chmod(sidecar_copy, 0o444)
    return RawFile(path=target, original_name=source.name, sha256=digest.hexdigest(), size=copied, sidecar=sidecar_copy)
