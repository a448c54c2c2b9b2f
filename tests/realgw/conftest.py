"""Fixtures of the real-gateway suite; run by ``nox -s openclaw`` only.

``SCOPEMIGRATE_OPENCLAW_CACHE`` names the folder the releases are installed
in (kept between runs). Every pair prints what failed before the repair and
what succeeds after it, at the end of the run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from harness import REPORT, Releases

STARTED = time.monotonic()


@pytest.fixture(scope="session")
def releases() -> Releases:
    cache = Path(os.environ["SCOPEMIGRATE_OPENCLAW_CACHE"]).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    return Releases(cache)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.section("real OpenClaw gateways")
    for line in REPORT:
        terminalreporter.write_line(line)
    cache = os.environ.get("SCOPEMIGRATE_OPENCLAW_CACHE")
    if cache and Path(cache).is_dir():
        size = sum(p.stat().st_size for p in Path(cache).rglob("*") if p.is_file())
        terminalreporter.write_line(f"release cache {cache}: {size / 2**30:.1f} GiB")
    terminalreporter.write_line(f"suite run time: {time.monotonic() - STARTED:.0f} s")
