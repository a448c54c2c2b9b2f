"""Shared test helpers: private copies of the example stores, and the installed CLI."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "openclaw"
# The chain first shipped (2026.2.19 alone), byte for byte. Tests of the
# framework's mechanics whose expected stores, device counts and heads are
# that chain's run against it with ``--migrations``, so the shipped chain can
# grow (test_openclaw_chain.py tests the shipped chain itself).
FIRST_CHAIN = Path(__file__).parent / "fixtures" / "chains" / "openclaw-2026.2.19"
FIRST = ("--migrations", str(FIRST_CHAIN))

# The real-gateway suite (tests/realgw) installs gigabytes of OpenClaw
# releases: only ``nox -s openclaw``, which names their cache, collects it.
if not os.environ.get("SCOPEMIGRATE_OPENCLAW_CACHE"):
    collect_ignore = ["realgw"]


# The validation cache (docs/cache.md): no test reads or writes the real home's,
# nor one left by the developer's settings. Collection-time loads (a module
# reading the shipped head) use the session's folder; each test gets its own
# (``own_cache``), so no test sees another's records. Every subprocess
# inherits the variable; those given an exact environment get it added
# (``run_with``, unprivileged.as_user).
CACHE_ENV = "XDG_CACHE_HOME"
for _name in ("SCOPEMIGRATE_CACHE_DIR", "SCOPEMIGRATE_NO_CACHE"):
    os.environ.pop(_name, None)
os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="scopemigrate-test-cache-")
atexit.register(shutil.rmtree, os.environ[CACHE_ENV], True)


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own cache root ($XDG_CACHE_HOME): scopemigrate's records go in its
    ``scopemigrate/validated`` folder."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def copy_store(name: str, dest: Path) -> Path:
    """Copy a fixture store (never touch the original) with OpenClaw's modes."""
    target = dest / name.replace("/", "-")
    shutil.copytree(FIXTURES / name, target)
    for root, _dirs, files in os.walk(target):
        os.chmod(root, 0o700)
        for f in files:
            os.chmod(Path(root) / f, 0o600)
    return target


def cli_path() -> str:
    """The installed console script of the interpreter running the tests."""
    candidate = Path(sys.executable).parent / "scopemigrate"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("scopemigrate")
    assert found, "scopemigrate is not installed in this environment"
    return found


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("OPENCLAW_STATE_DIR", None)
    full_env.pop("SCOPEMIGRATE_STORE", None)
    full_env.update(env or {})
    return subprocess.run(
        [cli_path(), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def run_with(
    argv: list[str], *, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``argv`` with exactly ``env`` (in ``cwd``), as an installer or a service manager
    starts a program: output captured, the exit code left to the test. (And the
    test's own cache folder, unless ``env`` names one: never the real home's.)"""
    env = {CACHE_ENV: os.environ[CACHE_ENV], **env}
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)


def run_first(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``run_cli`` against FIRST_CHAIN."""
    return run_cli(*args, *FIRST, env=env)


def store_files(store: Path) -> dict[str, bytes]:
    """Every file of the state dir, by relative path: 'changed nothing' means this."""
    return {
        str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()
    }


def fake_program(
    bin_dir: Path, name: str, output: str, code: int = 0, *, newline: bool = True
) -> Path:
    """An executable ``bin_dir/name`` that prints ``output`` and exits with ``code``:
    a stand-in for a system tool (``openclaw --version``, ``dpkg-query``). Without
    ``newline`` it prints as ``dpkg-query -f '${Version}'`` does, no line end."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    end = "\\n" if newline else ""
    path.write_text(f"#!/bin/sh\nprintf '%s{end}' '{output}'\nexit {code}\n")
    path.chmod(0o755)
    return path


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def token_values(store: Path) -> list[str]:
    """Every token string of a store, to prove none is ever printed."""
    paired = load_json(store / "devices" / "paired.json")
    return [t["token"] for rec in paired.values() for t in rec.get("tokens", {}).values()]


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return copy_store("2026.2.15-mixed", tmp_path)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A real PostgreSQL server for the session (started as an unprivileged user)."""
    from pgserver import start_server

    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def fresh_database(pg_server: Any) -> Iterator[str]:
    """The URL of a new, empty database on ``pg_server``, dropped afterwards."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_server.admin_url(name)
    with psycopg.connect(pg_server.admin_url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    with fresh_database(pg_server) as url:
        yield url
