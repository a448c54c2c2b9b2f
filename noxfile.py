"""Sessions: tests, lint (ruff check and format check), typecheck (mypy strict), docs
(the site, --strict); and, not by default, bench, sdist and precommit."""

from __future__ import annotations

import glob
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"  # nox.project.dependency_groups
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True
PYPROJECT = nox.project.load_toml("pyproject.toml")


@nox.session
def tests(session: nox.Session) -> None:
    # A real (non-editable) install: end-to-end tests run the installed CLI,
    # and the wheel must carry migrations/ for them to pass.
    session.install(".[test]")
    ensure_system_tools(
        session, also=("jq", "sqlite3")
    )  # jq: the scale smoke test; sqlite3: --sql by hand
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
    if os.geteuid() == 0 and not shutil.which("useradd"):
        # tests/unprivileged.py creates the real user the ownership tests need.
        missing.append("passwd")
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
    session.install("mypy", "types-tqdm", ".[postgres]")
    session.run("mypy", "scopemigrate")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not run by default): ratios against same-run baselines.

    ``nox -s bench`` measures stores of 1k to 100k devices; the full run of
    docs/performance.md is
    ``nox -s bench -- --sizes 1000,10000,100000,1000000 --postgres 1000000
    --rounds 2 --large-rounds 2 --out bench.json`` (about 20 minutes on 2 idle cores).
    """
    session.install(".[postgres]", "matplotlib")  # matplotlib: report.py's plot, bench only
    ensure_system_tools(session, also=("jq",))  # jq: the hand workaround measured against
    session.run("python", "benchmarks/startup.py")
    session.run("python", "benchmarks/scale.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, warnings as errors (a broken link fails CI)."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "docs"))
    # Material's notice about MkDocs 2 is advice, not a warning about our pages.
    env = {"NO_MKDOCS_2_WARNING": "1"}
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs, env=env)


@nox.session
def sdist(session: nox.Session) -> None:
    """Build the sdist, unpack it far from the checkout, and run its tests there.

    ``nox -s sdist -- -k 'not postgres'`` narrows the run like pytest's own options.
    """
    session.install("build")
    ensure_system_tools(session, also=("jq",))
    with tempfile.TemporaryDirectory() as tmp:
        session.run("python", "-m", "build", "--sdist", "--outdir", tmp)
        (archive,) = Path(tmp).glob("scopemigrate-*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        unpacked = archive.with_name(archive.name.removesuffix(".tar.gz"))
        session.install(f"{unpacked}[test]")
        session.chdir(unpacked)
        session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def precommit(session: nox.Session) -> None:
    """Run .pre-commit-hooks.yaml's hook with pre-commit, in a project that authors migrations.

    try-repo installs this checkout's committed HEAD, as a user's pre-commit would.
    """
    session.install("pre-commit", ".")
    root = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        session.chdir(tmp)
        git = ("git", "-c", "user.name=nox", "-c", "user.email=nox@localhost")
        session.run("git", "init", "-q", external=True)
        session.run("scopemigrate", "init")
        session.run(
            "scopemigrate", "revision", "-m", "first", "--release", "2026.3.1",
            "--grant", "operator:operator.x",
        )  # fmt: skip
        session.run(*git, "add", "-A", external=True)
        session.run(*git, "commit", "-qm", "migrations", external=True)
        session.run("pre-commit", "try-repo", str(root), "scopemigrate-check", "--all-files")
        # A second head must fail the hook (check exits 11).
        session.run(
            "scopemigrate", "revision", "-m", "rival", "--release", "2026.3.1",
            "--head", "base", "--grant", "operator:operator.y",
        )  # fmt: skip
        session.run(*git, "add", "-A", external=True)
        session.run(
            "pre-commit", "try-repo", str(root), "scopemigrate-check", "--all-files",
            success_codes=[1],
        )  # fmt: skip


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


@nox.session
def soak(session: nox.Session) -> None:
    """The free-running live-gateway soak test (not run by default: it depends on
    the machine's load; tests/test_hostile_writers.py is its deterministic twin)."""
    session.install(".[test]")
    session.run("pytest", "-m", "soak", *session.posargs)
