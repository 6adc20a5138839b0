"""Placing files so that no reader ever sees half of one (standard library only).

Everything DataTasker writes where someone else looks (result files, raw
copies, failure records, files dropped into ``incoming/``, downloads) is
written under a hidden temporary name in its final folder and renamed into
place only when complete. The hidden name also keeps the file-drop sensor
away from a file being written. In an object store (no rename) the file is
written locally and uploaded whole (``store.upload``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .store import is_remote

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class StagedFile:
    """A hidden temporary ``path`` beside ``final``; :meth:`publish` renames it into place."""

    path: Path
    final: Path

    def publish(self) -> Path:
        os.replace(self.path, self.final)
        return self.final


@contextlib.contextmanager
def staged_file(final: Path) -> Iterator[StagedFile]:
    """Write under a hidden name, publish when (and if) the caller decides; otherwise it is removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = StagedFile(final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}"), final)
    try:
        yield staged
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.path.unlink()


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A hidden temporary path beside ``final`` that becomes ``final`` only on success.

    For an object-store ``final`` the temporary file is local and is uploaded
    on success: an object appears whole when its upload completes.
    """
    if is_remote(final):
        with _uploaded_on_success(final) as local:
            yield local
        return
    with staged_file(final) as staged:
        yield staged.path
        staged.publish()


@contextlib.contextmanager
def _uploaded_on_success(final) -> Iterator[Path]:
    from .store import upload

    with tempfile.TemporaryDirectory(prefix="datatasker-upload-") as folder:
        local = Path(folder) / final.name
        yield local
        upload(local, final)


def copy_atomically(source: Path, target: Path) -> Path:
    with atomic_path(target) as partial:
        shutil.copyfile(source, partial)
    return target


def download_atomically(source, target: Path) -> Path:
    """Stream ``source`` (anything that opens for reading: an object in a store too) into ``target``, placed whole.

    Memory stays at one read block, whatever the size.
    """
    with atomic_path(target) as partial, source.open("rb") as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, 8 * 1024**2)
    return target


def write_text_atomically(target: Path, text: str) -> Path:
    with atomic_path(target) as partial:
        partial.write_text(text, encoding="utf-8")
    return target
