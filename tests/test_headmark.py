"""The ledger's at-head mark: ``upgrade head`` answered from a digest of the files.

The mark may only ever say "nothing to do" when the full run would: after
any change to the files, the store, the configuration, or a run leaving the
store anywhere but at head, the answer must come from the full run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIRST_CHAIN, cli_path, copy_store

from scopemigrate import commands
from scopemigrate.config import load_config
from scopemigrate.migration_files import at_head_mark, files_digest
from scopemigrate.quick import quick_marked_head
from scopemigrate.quick.mark import read_mark

FEATURE = """\
revision = "b7d1e0c2a9f4"
down_revision = "4f2c19a0b7e1"
release = "2026.3.1"
message = "operators gain operator.talk"

[[operations]]
kind = "grant"
role = "operator"
scopes = ["operator.talk"]
if_any = ["operator.admin"]
"""


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A store and a private copy of the shipped chain, run from an empty folder."""
    store = copy_store("2026.2.15-mixed", tmp_path)
    chain = tmp_path / "chain"
    shutil.copytree(FIRST_CHAIN, chain)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in ("SCOPEMIGRATE_CONFIG", "SCOPEMIGRATE_STORE", "SCOPEMIGRATE_LOCATIONS"):
        monkeypatch.delenv(name, raising=False)
    return store, chain


def run(store: Path, chain: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cli_path(), *args, "--store", str(store), "--migrations", str(chain)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def quick(store: Path, chain: Path, target: str = "head") -> bool:
    return quick_marked_head([target, "--store", str(store), "--migrations", str(chain), "-q"])


def mark_of(chain: Path, heads: list[str]) -> str:
    """The at-head mark: the files' digest bound to the heads (see quick/mark.py)."""
    digest = files_digest([chain])
    assert digest is not None
    return at_head_mark(digest, heads)


def ledger_of(store: Path) -> dict[str, object]:
    data = json.loads((store / "devices" / "scopemigrate-ledger.json").read_text())
    assert isinstance(data, dict)
    return data


def test_a_run_to_head_marks_the_ledger_and_the_mark_answers(setup: tuple[Path, Path]) -> None:
    store, chain = setup
    assert run(store, chain, "upgrade", "head").returncode == 0
    assert ledger_of(store)["at_head_of"] == mark_of(chain, ["4f2c19a0b7e1"])
    assert read_mark(str(store / "devices" / "scopemigrate-ledger.json")) == (
        ["4f2c19a0b7e1"],
        mark_of(chain, ["4f2c19a0b7e1"]),
    )
    files = sorted((store / "devices").glob("*.json"))
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in files}
    assert quick(store, chain)
    # The installed CLI takes this path: its words are the full CLI's, and it
    # loads neither TOML, JSON, pathlib, click nor pydantic.
    args = ["upgrade", "head", "--store", str(store), "--migrations", str(chain)]
    marked = subprocess.run(
        [sys.executable, "-X", "importtime", cli_path(), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    full = subprocess.run(
        [sys.executable, "-c", "from scopemigrate.cli import run; run()", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert marked.returncode == full.returncode == 0
    assert marked.stdout == full.stdout
    assert "nothing to do" in marked.stdout
    imported = set(re.findall(r"\|\s+([\w.]+)$", marked.stderr, re.MULTILINE))
    assert "scopemigrate.quick.mark" in imported
    assert not imported & {"tomllib", "json", "pathlib", "click", "pydantic", "scopemigrate.hook"}
    assert before == {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in files}


def test_a_new_migration_breaks_the_mark_and_the_full_run_applies_it(
    setup: tuple[Path, Path],
) -> None:
    store, chain = setup
    assert run(store, chain, "upgrade", "head").returncode == 0
    (chain / "2026.3.1_talk.toml").write_text(FEATURE)
    assert not quick(store, chain)
    done = run(store, chain, "upgrade", "head")
    assert done.returncode == 0 and "b7d1e0c2a9f4" in done.stdout
    assert ledger_of(store)["at_head_of"] == mark_of(chain, ["b7d1e0c2a9f4"])
    assert quick(store, chain)


def test_an_edited_or_removed_file_breaks_the_mark(setup: tuple[Path, Path]) -> None:
    store, chain = setup
    assert run(store, chain, "upgrade", "head").returncode == 0
    shipped = next(chain.glob("*.toml"))
    text = shipped.read_text()
    shipped.write_text(text + "\n# a comment\n")
    assert not quick(store, chain)
    shipped.write_text(text)
    assert quick(store, chain)
    shipped.rename(chain / "renamed.toml")
    assert not quick(store, chain)


def test_runs_that_leave_the_store_below_head_clear_the_mark(setup: tuple[Path, Path]) -> None:
    store, chain = setup
    (chain / "2026.3.1_talk.toml").write_text(FEATURE)
    assert run(store, chain, "upgrade", "4f2c19a0b7e1").returncode == 0
    assert ledger_of(store)["at_head_of"] is None
    assert not quick(store, chain)
    assert run(store, chain, "upgrade", "head").returncode == 0
    assert quick(store, chain)
    assert run(store, chain, "downgrade", "4f2c19a0b7e1").returncode == 0
    assert ledger_of(store)["at_head_of"] is None
    assert not quick(store, chain)
    assert run(store, chain, "stamp", "head").returncode == 0
    assert quick(store, chain)


def test_the_mark_steps_aside_for_anything_it_cannot_see(
    setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, chain = setup
    (chain / "2026.3.1_talk.toml").write_text(FEATURE)
    assert run(store, chain, "upgrade", "head").returncode == 0
    assert quick(store, chain)
    # Other migration folders (the shipped chain alone), or the same given another way.
    assert not quick_marked_head(["head", "--store", str(store), "-q"])
    monkeypatch.setenv("SCOPEMIGRATE_LOCATIONS", str(chain))
    assert quick_marked_head(["head", "--store", str(store), "-q"])
    monkeypatch.setenv("SCOPEMIGRATE_STORE", str(store))
    assert quick_marked_head(["head", "-q"])
    # A configuration file could name other folders or stores: TOML decides.
    Path("pyproject.toml").write_text('[tool.scopemigrate]\nstore = "elsewhere"\n')
    assert not quick(store, chain)
    Path("pyproject.toml").write_text('[tool]\nscopemigrate = { store = "elsewhere" }\n')
    assert not quick(store, chain)
    # A project that merely depends on scopemigrate configures nothing.
    Path("pyproject.toml").write_text('[project]\ndependencies = ["scopemigrate>=1"]\n')
    assert quick(store, chain)
    monkeypatch.setenv("SCOPEMIGRATE_CONFIG", "somewhere.toml")
    assert not quick(store, chain)
    monkeypatch.delenv("SCOPEMIGRATE_CONFIG")
    # Options it does not handle, forms of the store whose name the CLI prints.
    assert not quick_marked_head(["head", "--dry-run", "--store", str(store)])
    assert not quick_marked_head(["head", "--store", str(store / "devices")])
    assert not quick_marked_head(["head", "--store", f"{store}/../{store.name}"])
    # A commit to recover first.
    journal = store / "devices" / "scopemigrate-journal.json"
    journal.write_text("{}")
    assert not quick(store, chain)
    journal.unlink()
    assert quick(store, chain)


def test_several_heads_answer_for_heads_but_not_for_head(setup: tuple[Path, Path]) -> None:
    store, chain = setup
    (chain / "2026.3.1_talk.toml").write_text(FEATURE)
    (chain / "2026.3.1_walk.toml").write_text(
        FEATURE.replace("b7d1e0c2a9f4", "c0ffee123456").replace("operator.talk", "operator.walk")
    )
    assert run(store, chain, "upgrade", "heads").returncode == 0
    assert quick(store, chain, "heads")
    assert not quick(store, chain, "head")


def test_the_python_api_marks_the_ledger_too(setup: tuple[Path, Path]) -> None:
    store, chain = setup
    config = load_config(store=str(store), locations=[str(chain)], env={})
    commands.upgrade(config, "head")
    assert ledger_of(store)["at_head_of"] == mark_of(chain, ["4f2c19a0b7e1"])
    commands.downgrade(config, "base")
    assert ledger_of(store)["at_head_of"] is None


def test_a_hidden_migration_file_counts_as_the_loader_reads_it(setup: tuple[Path, Path]) -> None:
    """Path.glob lists dot-files: the digest must cover every file a run loads."""
    store, chain = setup
    assert run(store, chain, "upgrade", "head").returncode == 0
    (chain / ".talk.toml").write_text(FEATURE)
    assert not quick(store, chain)
    done = run(store, chain, "upgrade", "head")
    assert done.returncode == 0 and "b7d1e0c2a9f4" in done.stdout
    assert quick(store, chain)
