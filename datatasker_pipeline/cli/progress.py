"""Progress of a run in flight, on stderr."""

from __future__ import annotations

from typing import Any, TextIO

from ..client.answers import current_step, steps_done
from ..client.text import progress_bar, progress_line
from ..vocabulary import STEP_KEYS


class Progress:
    """Progress of a run in flight on stderr: a redrawn bar on a terminal, a line per change otherwise."""

    def __init__(self, stream: TextIO, tty: bool | None = None):
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._last: tuple | None = None
        self._drawn = False

    def __call__(self, run: dict[str, Any], elapsed: float) -> None:
        if self.tty:
            step = current_step(run) or ""
            line = f"\r{progress_bar(steps_done(run), len(STEP_KEYS))}  {run['status']:<9} {step:<15} {elapsed:5.0f} s"
            self.stream.write(line)
            self.stream.flush()
            self._drawn = True
            return
        state = (run["status"], steps_done(run), current_step(run))
        if state != self._last:
            self._last = state
            print(progress_line(run, elapsed), file=self.stream, flush=True)

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
