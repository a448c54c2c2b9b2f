"""Progress of long runs, for a person watching a terminal.

A run over a million devices takes long enough that silence looks like a
hang. The engine reports how many devices it has done; the command line
draws a bar on stderr when stderr is a terminal, and nothing otherwise (logs,
install steps, ``-q``, the Python API by default).
"""

from __future__ import annotations

import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, label: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    """Reports nowhere: the default for the API and for runs off a terminal."""

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


NO_PROGRESS = NoProgress()


class TerminalBar:
    """A one-line bar, redrawn in place; shown only once a run has taken a while,
    so that quick runs print nothing extra."""

    WIDTH = 30
    DELAY_SECONDS = 0.5
    REDRAW_SECONDS = 0.1

    def __init__(self, stream: TextIO, delay: float = DELAY_SECONDS) -> None:
        self.stream = stream
        self.delay = delay
        self.label, self.total, self.done = "", 0, 0
        self.started = self.drawn_at = 0.0
        self.shown = False

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = time.monotonic()
        self.shown = False

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.started < self.delay or now - self.drawn_at < self.REDRAW_SECONDS:
            return
        self.drawn_at = now
        self.shown = True
        self.stream.write("\r" + self.line())
        self.stream.flush()

    def line(self) -> str:
        share = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = round(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        return f"{self.label} [{bar}] {share:4.0%} {self.done:,}/{self.total:,} devices"

    def finish(self) -> None:
        if self.shown:
            self.done = self.total
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()
        self.shown = False
