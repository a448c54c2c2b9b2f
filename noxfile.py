"""Sessions: tests, lint (ruff check and format check), typecheck (mypy strict)."""

from __future__ import annotations

import glob
import os
import shutil

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    # A real (non-editable) install: end-to-end tests run the installed CLI,
    # and the wheel must carry migrations/ for them to pass.
    session.install(".[test]")
    ensure_system_tools(session, also=("jq",))  # jq: the scale benchmark's smoke test
    session.run("pytest", *session.posargs)


def _has_postgres() -> bool:
    return shutil.which("initdb") is not None or bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def ensure_system_tools(
    session: nox.Session, also: tuple[str, ...] = (), postgres: bool = True
) -> None:
    """Install what the tests run besides Python: npm (the postinstall test) and a
    PostgreSQL server (the tests start their own, as the unprivileged postgres user);
    ``also`` names more programs (packages of the same name).

    A fresh CI machine runs as root with Debian's registry; elsewhere, say what
    is missing rather than install into someone's system.
    """
    missing = [name for name in ("npm", *also) if not shutil.which(name)]
    if postgres and not _has_postgres():
        missing.append("postgresql")
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        session.error(f"the tests need {', '.join(missing)}; install it and run again")
    quiet = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=quiet)
    session.run("apt-get", "install", "-y", "-qq", *missing, external=True, env=quiet)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("mypy", ".[postgres]")
    session.run("mypy", "scopemigrate")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not run by default): ratios against same-run baselines.

    ``nox -s bench`` measures stores of 1k to 100k devices; the full run of
    docs/performance.md is
    ``nox -s bench -- --sizes 1000,10000,100000,1000000 --postgres 1000000``.
    """
    session.install(".[postgres]")
    ensure_system_tools(session, also=("jq",))  # jq: the hand workaround measured against
    session.run("python", "benchmarks/startup.py")
    session.run("python", "benchmarks/scale.py", *session.posargs)


# Where ``nox -s openclaw`` keeps the Node and OpenClaw releases it installs
# (about 7 GB for the eight below; see docs/real-gateways.md), between runs.
OPENCLAW_CACHE = ".cache/openclaw"


@nox.session
def openclaw(session: nox.Session) -> None:
    """Real OpenClaw gateways from the npm registry (not run by default).

    Pairs on 2026.2.17, starts 2.19, 2.21, 2.22 and 8.1 on the same state and
    repairs it live; checks M2/M3 with 4.5, 7.1, 8.1's own verifyDeviceToken.
    ``SCOPEMIGRATE_OPENCLAW_CACHE`` overrides where the releases are cached.
    """
    session.install(".[test]")
    ensure_system_tools(session, postgres=False)
    cache = os.path.abspath(os.environ.get("SCOPEMIGRATE_OPENCLAW_CACHE", OPENCLAW_CACHE))
    session.run(
        "pytest",
        "tests/realgw",
        "-v",
        *session.posargs,
        env={"SCOPEMIGRATE_OPENCLAW_CACHE": cache},
    )
