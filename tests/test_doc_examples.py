"""Every shell block of the tutorial and the how-to guides runs, and prints what the page shows.

Each page runs in a fresh folder holding a copy of ``examples/``, with a home
of its own (so nothing finds the machine's ``~/.openclaw``) and the installed
CLI first on ``PATH``. ``/tmp/`` in a page stands for a private temporary
folder, so the pages can show plain paths and runs in parallel cannot meet.
The marks that keep a block from running, or expect an exit code, are in
docs/contributing.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_path
from docblocks import Block, output_matches, shell_blocks

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.glob("tutorial*.md"), *(DOCS / "howto").glob("*.md")])
# Pages whose blocks talk to a PostgreSQL registry named by $FLEET.
NEEDS_POSTGRES = {"postgres-fleet.md"}


def _sandbox(tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    work, home, private_tmp = tmp_path / "work", tmp_path / "home", tmp_path / "tmp"
    for folder in (home, private_tmp):
        folder.mkdir()
    shutil.copytree(ROOT / "examples", work / "examples")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SCOPEMIGRATE_", "OPENCLAW_"))
    }
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(Path(cli_path()).parent), env.get("PATH", "")]),
        LC_ALL="C.UTF-8",
        COLUMNS="100",
    )
    return work, env, f"{private_tmp}/"


@pytest.fixture
def fleet(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A fresh database on the session's PostgreSQL server, for the pages that need one."""
    if request.node.callspec.params["page"].name not in NEEDS_POSTGRES:
        yield None
        return
    server: Any = request.getfixturevalue("pg_server")
    name = "docs_fleet"
    admin = server.admin_url("postgres")
    subprocess.run(["psql", "-q", admin, "-c", f"CREATE DATABASE {name}"], check=True)
    try:
        yield server.admin_url(name)
    finally:
        subprocess.run(["psql", "-q", admin, "-c", f"DROP DATABASE {name}"], check=True)


def _run(block: Block, work: Path, env: dict[str, str], tmp: str) -> str:
    script = block.script.replace("/tmp/", tmp)
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout.replace(tmp, "/tmp/")
    assert done.returncode == block.exit_code, (
        f"{block.where}: exit {done.returncode}, the page expects {block.exit_code}\n"
        f"{block.script}\n{output}"
    )
    return output


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_shell_block_runs_as_shown(page: Path, tmp_path: Path, fleet: str | None) -> None:
    blocks = shell_blocks(page)
    assert blocks, f"{page.name} has no shell block"
    work, env, tmp = _sandbox(tmp_path)
    if fleet is not None:
        env["FLEET"] = fleet
    for block in blocks:
        if block.skip is not None:
            continue
        output = _run(block, work, env, tmp)
        if block.expected is not None:
            assert output_matches(block.expected, output), (
                f"{block.where}: the page shows\n{block.expected}\n"
                f"but the command printed\n{output}"
            )


def test_the_runner_sees_drift() -> None:
    """The matcher must fail on a changed line, a missing line and an extra line."""
    shown = "Upgraded /tmp/oc from base to 4f2c… (1 revision(s)).\n  31a2…d223  cli: +x\n…\n"
    printed = "Upgraded /tmp/oc from base to 4f2c19a0b7e1 (1 revision(s)).\n  31a2ffd223  cli: +x\n"
    assert output_matches(shown, printed)
    assert output_matches(shown, printed + "  more\n  lines\n")
    assert not output_matches(shown, printed.replace("Upgraded", "Would upgrade"))
    assert not output_matches("a\nb\n", "a\n")
    assert not output_matches("a\n", "a\nb\n")


def test_marks_are_read(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: skip installs into your environment -->\n```sh\npip install x\n```\n\n"
        "<!-- docs-test: exit 11 -->\n```sh\nscopemigrate check\n```\n\n```text\nerror: …\n```\n"
        "Prose.\n\n```text\nnot output\n```\n",
        encoding="utf-8",
    )
    first, second = shell_blocks(page)
    assert first.skip == "installs into your environment" and first.expected is None
    assert second.skip is None and second.exit_code == 11 and second.expected == "error: …\n"
    page.write_text("<!-- docs-test: skip -->\n```sh\ntrue\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="say why"):
        shell_blocks(page)
