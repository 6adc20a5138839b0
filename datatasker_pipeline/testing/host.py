"""This machine, as the test stacks use it: free ports, the environment's executables, dropping files."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

from ..processing.files import atomic_path

__all__ = ["drop_atomically", "executable", "free_port"]


def free_port() -> int:
    """A TCP port nothing listens on right now (also handy for "webserver down" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def executable(name: str) -> str:
    """An entry point of the interpreter's own environment (the uv venv), else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"cannot find the {name!r} executable next to {sys.executable} or on PATH")
    return found


def drop_atomically(incoming: Path, name: str, content: str | bytes | Path) -> Path:
    """Write under a hidden name, then rename to ``name``: the sensor never sees half a file."""
    with atomic_path(incoming / name) as partial:
        if isinstance(content, Path):
            shutil.copyfile(content, partial)
        else:
            partial.write_bytes(content.encode() if isinstance(content, str) else content)
    return incoming / name
