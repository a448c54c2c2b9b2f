"""The progress bar: drawn on a terminal for long runs, silent everywhere else."""

from __future__ import annotations

import io
import os
import pty
import subprocess
from pathlib import Path

from conftest import cli_path
from storegen import make_store

from scopemigrate.progress import TerminalBar


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
