"""Progress of long runs, for a person watching a terminal.

A run over a million devices takes long enough that silence looks like a
hang. A run goes through phases: reading the store, applying the revisions
(the engine counts devices), writing the store. Each phase is a ``start``;
the next ``start`` or a ``finish`` ends it. The command line draws the phases
on stderr when stderr is a terminal, and nothing otherwise (logs, install
steps, ``-q``, the Python API unless a caller passes a ``Progress``).

A counted phase shows a bar, its rate and the time left; a phase without a
count (reading, writing) shows how long it has taken, redrawn by a ticker
thread so that a long write does not look stuck. Rates and times are
formatted by tqdm, imported only once something is drawn: a quick run (and
the hook's no-op answer) never loads it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from typing import Protocol, TextIO

# The phases of a run: reading the store, applying the revisions (the engine
# counts devices; a store that runs them itself is timed), writing the store.
READING = "Reading"
UPGRADING = "Upgrading"
DOWNGRADING = "Downgrading"
WRITING = "Writing"


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


def _counted_line(
    label: str, done: int, total: int, elapsed: float, final: bool, bar: bool = True
) -> str:
    from tqdm.std import tqdm

    share = min(done / total, 1.0) if total else 1.0
    when = "took {elapsed}" if final else "{remaining} left"  # one width: no flicker
    drawn = f" [{{bar:{TerminalBar.WIDTH}}}]" if bar else ""
    # The count stays last, so a line's end reads the same at any width.
    layout = f"{{desc}}{drawn} {{rate_fmt:>7}} {when} {share:4.0%} {done:,}/{total:,} devices"
    return tqdm.format_meter(
        min(done, total),
        total,
        elapsed,
        prefix=label,
        ascii="-#",
        unit="",
        unit_scale=True,
        bar_format=layout,
    )


def _phase_line(label: str, elapsed: float, final: bool) -> str:
    from tqdm.std import tqdm

    return f"{label}{' done in' if final else '...'} {tqdm.format_interval(elapsed)}"


class TerminalBar:
    """Phases drawn on one line each, redrawn in place; shown only once a run has
    taken a while, so that quick runs print nothing extra."""

    WIDTH = 30
    DELAY_SECONDS = 0.5
    REDRAW_SECONDS = 0.1

    def __init__(
        self,
        stream: TextIO,
        delay: float = DELAY_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        ticker: bool | None = None,
        columns: int | None = None,
    ) -> None:
        """``ticker``: redraw uncounted phases from a thread (default: when
        ``stream`` is a terminal); ``columns``: the width to fit (default: the
        terminal's, unlimited off a terminal)."""
        self.stream, self.delay, self.clock = stream, delay, clock
        self.ticker = stream.isatty() if ticker is None else ticker
        self.columns = columns
        self.label, self.total, self.done = "", 0, 0
        self.run_started: float | None = None
        self.started = 0.0
        self.drawn_at: float | None = None
        self.drawn_width = 0
        self.active = self.shown = False
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None

    def start(self, label: str, total: int) -> None:
        """Begin a phase (``total`` devices, or 0 when it is not counted)."""
        self.finish()
        with self._lock:
            now = self.clock()
            if self.run_started is None:
                self.run_started = now
            self.label, self.total, self.done = label, total, 0
            self.started, self.drawn_at = now, None
            self.active, self.shown = True, False
        if self.ticker:
            self._stop = threading.Event()
            threading.Thread(target=self._tick, args=(self._stop,), daemon=True).start()

    def advance(self, count: int) -> None:
        with self._lock:
            self.done += count
            self._draw_if_due()

    def refresh(self) -> None:
        """Redraw if it is time (what the ticker calls)."""
        with self._lock:
            self._draw_if_due()

    def _tick(self, stop: threading.Event) -> None:
        while not stop.wait(self.REDRAW_SECONDS):
            self.refresh()

    def _draw_if_due(self) -> None:
        if not self.active or self.run_started is None:
            return
        now = self.clock()
        if now - self.run_started < self.delay:
            return
        if self.drawn_at is not None and now - self.drawn_at < self.REDRAW_SECONDS:
            return
        self.drawn_at = now
        self._write(self.line(now - self.started, final=False))

    def line(self, elapsed: float, final: bool) -> str:
        if not self.total:
            text = _phase_line(self.label, elapsed, final)
        else:
            text = _counted_line(self.label, self.done, self.total, elapsed, final)
            width = self._width()
            if width and len(text) > width:  # a narrow terminal: the figures without the bar
                text = _counted_line(self.label, self.done, self.total, elapsed, final, bar=False)
        width = self._width()
        return text[-width:] if width else text  # keeps the count, the line's end

    def _width(self) -> int | None:
        if self.columns is not None:
            return self.columns - 1
        if not self.stream.isatty():
            return None
        return shutil.get_terminal_size().columns - 1  # the last column wraps on some

    def _write(self, text: str, end: str = "") -> None:
        # A shorter line is drawn over a blanked one, so no old text lingers.
        blank = " " * self.drawn_width + "\r" if len(text) < self.drawn_width else ""
        self.stream.write("\r" + blank + text + end)
        self.stream.flush()
        self.drawn_width = 0 if end else len(text)
        self.shown = True

    def finish(self) -> None:
        """End the current phase; its line stays, with its final figures, if it was shown."""
        if self._stop is not None:
            self._stop.set()
            self._stop = None
        with self._lock:
            if not self.active:
                return
            self.active = False
            if self.shown:
                self.done = self.total
                self._write(self.line(self.clock() - self.started, final=True), end="\n")
            self.shown = False
