"""This machine, as the test stacks use it: free ports, the environment's executables, dropping files, processes."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from ..processing.files import atomic_path

__all__ = ["cmdline", "drop_atomically", "executable", "free_port", "pids_with_open_file_under"]


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


def pids_with_open_file_under(folder: Path) -> list[int]:
    """Processes (ours: /proc of others is unreadable) holding a file under ``folder`` open."""
    found = []
    prefix = str(folder.resolve())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                if os.readlink(f"/proc/{entry}/fd/{fd}").startswith(prefix):
                    found.append(int(entry))
                    break
        except OSError:
            continue
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
