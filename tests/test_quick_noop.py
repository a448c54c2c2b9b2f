"""``upgrade head`` at head answers without parsing the store or loading the full CLI.

The quick answer must be the full answer: same words, same exit code, same
verdict on every store, and nothing read beyond the ledger's first bytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import FIXTURES, copy_store
from sqlstores import make_sqlite

from scopemigrate import commands
from scopemigrate.cli import main as cli_main
from scopemigrate.config import load_config
from scopemigrate.quick.argv import UPGRADE_FLAG_OPTIONS, UPGRADE_VALUE_OPTIONS
from scopemigrate.quick.verdicts import at_head
from scopemigrate.stores.layout import LEDGER_FORMAT

MIXED = FIXTURES / "2026.2.15-mixed"


def _run(*args: str, quick: bool = True) -> subprocess.CompletedProcess[str]:
    entry = (
        ["-X", "importtime", "-m", "scopemigrate"]
        if quick
        else [
            "-c",
            "from scopemigrate.cli import run; run()",
        ]
    )
    return subprocess.run(
        [sys.executable, *entry, *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_at_head_the_quick_answer_is_the_full_answer(tmp_path: Path) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    assert _run("upgrade", "head", "--store", str(store)).returncode == 0
    files = sorted((store / "devices").glob("*.json"))
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in files}
    quick = _run("upgrade", "head", "--store", str(store))
    full = _run("upgrade", "head", "--store", str(store), quick=False)
    assert quick.returncode == full.returncode == 0
    assert quick.stdout == full.stdout
    assert "nothing to do" in quick.stdout
    assert "pydantic" not in quick.stderr and "click" not in quick.stderr
    quiet = _run("upgrade", "head", "-q", "--store", str(store))
    assert (quiet.returncode, quiet.stdout) == (0, "")
    assert before == {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in files}


def test_a_large_ledger_is_not_parsed(tmp_path: Path) -> None:
    """Only the ledger's first bytes are read: the heads come first."""
    store = copy_store("2026.2.15-mixed", tmp_path)
    config = load_config(store=str(store), env={})
    commands.upgrade(config, "head")
    ledger = store / "devices" / "scopemigrate-ledger.json"
    text = ledger.read_text()
    assert text.startswith(f'{{\n  "format": {LEDGER_FORMAT},\n  "heads": [')
    # Break everything after the heads: a full parse would fail, the quick read does not.
    ledger.write_text(text[: text.index("]") + 1] + ', "applied": {broken')
    assert at_head(config)[0] is True


def test_the_quick_parser_knows_only_upgrade_options() -> None:
    command = cli_main.commands["upgrade"]
    names = {name for p in command.params if isinstance(p, click.Option) for name in p.opts}
    assert set(UPGRADE_VALUE_OPTIONS) | set(UPGRADE_FLAG_OPTIONS) <= names


@pytest.mark.parametrize("target", ["base", "4f2c19a0b7e1", "head"])
@pytest.mark.parametrize("kind", ["json", "sqlite"])
def test_the_quick_verdict_agrees_with_a_full_dry_run(
    tmp_path: Path, target: str, kind: str
) -> None:
    if kind == "json":
        store = copy_store("2026.2.15-mixed", tmp_path)
    else:
        store = make_sqlite(tmp_path / "sqlite-state", MIXED)
    config = load_config(store=str(store), env={})
    if target != "base":
        commands.upgrade(config, target)
    done, _ = at_head(config)
    assert done == (not commands.upgrade(config, "head", dry_run=True).revisions)
