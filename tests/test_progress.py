"""The progress bar: drawn on a terminal for long runs, silent everywhere else."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import cli_path
from storegen import make_store

from scopemigrate import commands
from scopemigrate.config import load_config
from scopemigrate.progress import DOWNGRADING, READING, UPGRADING, WRITING, TerminalBar


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, as stderr at a person's shell does."""

    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def redrawn_lines(text: str) -> list[str]:
    """What the terminal showed, one entry per draw (a draw starts with a carriage return)."""
    return [line.rstrip("\n") for line in text.split("\r") if line.strip()]


def test_the_bar_counts_devices_and_ends_its_line() -> None:
    stream = io.StringIO()
    bar = TerminalBar(stream, delay=0.0)
    bar.start("Upgrading", 10_000)
    bar.advance(4096)
    bar.finish()
    text = stream.getvalue()
    assert text.startswith("\rUpgrading [")
    assert "4,096/10,000 devices" in text
    assert text.endswith("100% 10,000/10,000 devices\n")


def test_a_quick_run_draws_nothing() -> None:
    stream = io.StringIO()
    bar = TerminalBar(stream)  # the default delay: quick runs stay quiet
    bar.start("Upgrading", 10)
    bar.advance(10)
    bar.finish()
    assert stream.getvalue() == ""


def _stderr_of(args: list[str], tty: bool) -> bytes:
    """Run the installed CLI with stderr on a pseudo-terminal (or a pipe)."""
    if not tty:
        return subprocess.run(args, capture_output=True, check=True, timeout=300).stderr
    leader, follower = pty.openpty()
    try:
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert child.wait(timeout=300) == 0
        return b"".join(chunks)
    finally:
        os.close(leader)


def test_no_bar_off_a_terminal_or_when_quiet(tmp_path: Path) -> None:
    for name, tty, quiet in (("piped", False, False), ("quiet", True, True)):
        state = make_store(tmp_path / name, 20_000)
        args = [cli_path(), "upgrade", "head", "--store", str(state), "--no-backup"]
        stderr = _stderr_of([*args, *(["-q"] if quiet else [])], tty)
        assert b"Upgrading [" not in stderr, name


def test_each_phase_shows_its_figures_and_keeps_its_final_line() -> None:
    stream, clock = FakeTerminal(), FakeClock()
    bar = TerminalBar(stream, clock=clock, ticker=False, columns=200)
    bar.start(READING, 0)
    clock.now += 1.5
    bar.refresh()
    bar.start("Upgrading", 300_000)  # ends the reading phase
    clock.now += 2.0
    bar.advance(100_000)
    clock.now += 2.0
    bar.advance(100_000)
    bar.finish()
    bar.start(WRITING, 0)
    clock.now += 14.0
    bar.refresh()
    clock.now += 1.0
    bar.finish()
    lines = redrawn_lines(stream.getvalue())
    assert lines[0] == "Reading... 00:01"
    assert lines[1] == "Reading done in 00:01"
    assert lines[2].startswith("Upgrading [##########----")
    assert "50.0k/s 00:04 left  33% 100,000/300,000 devices" in lines[2]  # 100k in 2 s
    assert "50.0k/s 00:02 left  67% 200,000/300,000 devices" in lines[3]
    assert lines[4].endswith("75.0k/s took 00:04 100% 300,000/300,000 devices")
    assert lines[5:] == ["Writing... 00:14", "Writing done in 00:15"]
    # Every phase that was shown ends its line: the next output starts clean.
    assert stream.getvalue().count("\n") == 3 and stream.getvalue().endswith("\n")


def test_a_narrow_terminal_drops_the_bar_but_keeps_rate_eta_and_count() -> None:
    stream, clock = FakeTerminal(), FakeClock()
    bar = TerminalBar(stream, clock=clock, ticker=False, columns=70)
    bar.start("Downgrading", 300_000)
    clock.now += 1.0
    bar.advance(100_000)
    bar.finish()
    lines = redrawn_lines(stream.getvalue())
    assert lines[0] == "Downgrading  100k/s 00:02 left  33% 100,000/300,000 devices"
    assert all(len(line) < 70 for line in lines)


def test_phases_of_a_quick_run_draw_nothing() -> None:
    stream, clock = FakeTerminal(), FakeClock()
    bar = TerminalBar(stream, clock=clock, ticker=False)
    for label, total in ((READING, 0), ("Upgrading", 8), (WRITING, 0)):
        bar.start(label, total)
        clock.now += 0.1  # the whole run stays under the delay
        bar.advance(total)
        bar.refresh()
    bar.finish()
    assert stream.getvalue() == ""


class SignallingTerminal(FakeTerminal):
    def __init__(self) -> None:
        super().__init__()
        self.drawn = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self.drawn.set()
        return written


def test_an_uncounted_phase_is_redrawn_by_the_ticker_without_any_advance() -> None:
    stream = SignallingTerminal()
    bar = TerminalBar(stream, delay=0.0)  # a terminal: the ticker runs
    bar.start(WRITING, 0)
    assert stream.drawn.wait(timeout=30), "the ticker never drew the writing phase"
    bar.finish()
    text = stream.getvalue()
    assert text.startswith("\rWriting... ") and "Writing done in " in text
    assert text.endswith("\n")


def test_the_api_reports_no_progress_unless_asked(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    state = make_store(tmp_path / "api", 20_000)
    result = commands.upgrade(load_config(store=str(state)), "head")
    assert result.devices
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


class RecordedPhases:
    """A Progress that remembers each phase it was given, in order."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []

    def start(self, label: str, total: int) -> None:
        self.phases.append((label, total))

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


def test_a_run_reports_reading_then_applying_then_writing(tmp_path: Path) -> None:
    state = make_store(tmp_path / "phases", 50)
    progress = RecordedPhases()
    commands.upgrade(load_config(store=str(state)), "head", progress=progress)
    labels = [label for label, _ in progress.phases]
    assert labels[0] == READING and labels[-1] == WRITING
    assert all(total > 0 for label, total in progress.phases[1:-1])
    dry = RecordedPhases()
    commands.downgrade(load_config(store=str(state)), "base", dry_run=True, progress=dry)
    assert dry.phases[0] == (READING, 0) and WRITING not in [label for label, _ in dry.phases]


def test_a_failed_write_ends_the_progress_line_before_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scopemigrate.errors import RunFailedError
    from scopemigrate.stores.openclaw_json.store import OpenClawJsonStore

    state = make_store(tmp_path / "fails", 50)
    terminal = FakeTerminal()
    bar = TerminalBar(terminal, delay=0.0, ticker=True)
    drawn = threading.Event()

    def failing_commit(self: OpenClawJsonStore, *args: object, **kwargs: object) -> None:
        # Fail once the writing phase is on the terminal (the ticker draws it).
        while "Writing..." not in terminal.getvalue():
            drawn.wait(0.01)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(OpenClawJsonStore, "commit", failing_commit)
    with pytest.raises(RunFailedError):
        commands.upgrade(load_config(store=str(state)), "head", progress=bar)
    assert terminal.getvalue().endswith("\n")  # the error starts a line of its own


class RecordedCounts(RecordedPhases):
    """A Progress that also sums each phase's advances."""

    def __init__(self) -> None:
        super().__init__()
        self.done: list[int] = []

    def start(self, label: str, total: int) -> None:
        super().start(label, total)
        self.done.append(0)

    def advance(self, count: int) -> None:
        self.done[-1] += count


def test_a_downgrade_counts_out_of_the_same_devices_as_the_upgrade(tmp_path: Path) -> None:
    # 20,000 devices, of which the first revision edits only some: a downgrade
    # counted its provenance records (fewer), not the store's devices.
    state = make_store(tmp_path / "counts", 20_000)
    config = load_config(store=str(state))
    up, down = RecordedCounts(), RecordedCounts()
    commands.upgrade(config, "head", progress=up)
    done = commands.downgrade(config, "base", progress=down)
    assert 0 < len(done.devices) < 20_000
    (upgrading,) = [
        (total, n) for (label, total), n in zip(up.phases, up.done, strict=True) if total
    ]
    (downgrading,) = [
        (total, n) for (label, total), n in zip(down.phases, down.done, strict=True) if total
    ]
    assert upgrading[0] == downgrading[0] == 20_000
    assert downgrading[1] == 20_000  # every device counted once, ending at the total
    assert [label for label, _ in down.phases] == [READING, "Downgrading", WRITING]


def test_a_store_that_runs_the_revisions_itself_shows_the_phase_timed(tmp_path: Path) -> None:
    # SQLite runs an upgrade set-based, in SQL: no device passes through the
    # engine to count, and the run showed no phase at all.
    # (The first chain's grants run set-based; later revisions go row by row.)
    from conftest import FIRST_CHAIN, FIXTURES
    from sqlstores import make_sqlite

    state = make_sqlite(tmp_path / "sqlite", FIXTURES / "2026.2.15-mixed")
    config = load_config(store=str(state), locations=[str(FIRST_CHAIN)])
    up, down = RecordedPhases(), RecordedPhases()
    assert commands.upgrade(config, "head", progress=up).devices_changed
    assert commands.downgrade(config, "base", progress=down).devices_changed
    assert up.phases == [(UPGRADING, 0)]
    # SQLite undoes row by row (the set-based run declines before any work).
    assert [label for label, total in down.phases if total] == [DOWNGRADING]
