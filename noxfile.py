"""Sessions: tests, lint (ruff check and format check), typecheck (mypy strict)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    # A real (non-editable) install: end-to-end tests run the installed CLI,
    # and the wheel must carry migrations/ for them to pass.
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("mypy", ".")
    session.run("mypy", "scopemigrate")
