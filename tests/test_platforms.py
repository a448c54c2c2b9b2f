"""Platform policy: Linux and macOS run; Windows is refused at start with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scopemigrate import quick
from scopemigrate.platforms import EXIT_UNSUPPORTED_PLATFORM, refusal


@pytest.mark.parametrize("platform", ["linux", "darwin", "freebsd14"])
def test_posix_platforms_are_not_refused(platform: str) -> None:
    assert refusal(platform) is None


def test_windows_is_refused_before_anything_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    # A store that does not exist: reaching it would be a different error.
    monkeypatch.setattr(sys, "argv", ["scopemigrate", "upgrade", "head", "--store", "/nonexistent"])
    with pytest.raises(SystemExit) as stopped:
        quick.main()
    assert stopped.value.code == EXIT_UNSUPPORTED_PLATFORM
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: scopemigrate runs on Linux and macOS")


def test_python_dash_m_is_refused_too() -> None:
    code = (
        "import sys, runpy; sys.platform = 'win32'; "
        "runpy.run_module('scopemigrate', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == EXIT_UNSUPPORTED_PLATFORM
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Linux and macOS only" in done.stderr


def test_the_refusal_code_is_documented_and_taken_by_no_error_class() -> None:
    from scopemigrate import cli

    page = Path(__file__).parent.parent / "docs" / "exit-codes.md"
    assert f"| {EXIT_UNSUPPORTED_PLATFORM} | unsupported platform" in page.read_text()
    assert EXIT_UNSUPPORTED_PLATFORM not in {code for _, code in cli.EXIT_CODES}
    assert EXIT_UNSUPPORTED_PLATFORM not in {cli.EXIT_OK, cli.EXIT_INTERNAL, cli.EXIT_USAGE}
