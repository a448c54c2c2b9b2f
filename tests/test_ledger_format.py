"""The ledger's format is checked on read: a newer one is a store ahead of us,
an older one is brought forward, and no quick path vouches for either."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, copy_store, run_cli

from scopemigrate import ledger
from scopemigrate.cli import EXIT_CODES
from scopemigrate.errors import BadStoreError, StoreAheadError
from scopemigrate.ledger import LEDGER_FORMAT, Ledger, parse_ledger

STORE_AHEAD = dict(EXIT_CODES)[StoreAheadError]
LEDGER = Path("devices") / "scopemigrate-ledger.json"


def _document(format: int, **more: Any) -> bytes:
    return json.dumps({"format": format, "heads": [], **more}).encode()


def test_a_newer_format_is_a_store_ahead_of_this_release() -> None:
    newer = rf"where: ledger format {LEDGER_FORMAT + 1} was written by a newer"
    with pytest.raises(StoreAheadError, match=newer):
        parse_ledger(_document(LEDGER_FORMAT + 1, something_new={}), "where")


def test_a_newer_format_is_found_even_when_its_heads_need_a_json_parser() -> None:
    data = _document(LEDGER_FORMAT + 1).replace(b'"heads": []', b'"heads": ["a b"]')
    with pytest.raises(StoreAheadError):
        parse_ledger(data, "where")


def test_an_older_format_is_brought_forward_on_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def rename_head(document: dict[str, Any]) -> dict[str, Any]:
        document["heads"] = document.pop("head")
        return document

    monkeypatch.setitem(ledger.FORMAT_UPGRADES, LEDGER_FORMAT - 1, rename_head)
    old = json.dumps({"format": LEDGER_FORMAT - 1, "head": ["abc"]}).encode()
    read = parse_ledger(old, "where")
    assert read == Ledger(heads=["abc"])
    assert read.format == LEDGER_FORMAT


def test_an_older_format_without_a_way_forward_is_a_bad_store() -> None:
    with pytest.raises(BadStoreError, match="where: ledger format 0 is not one scopemigrate wrote"):
        parse_ledger(_document(0), "where")


def test_the_current_format_reads_as_before() -> None:
    assert parse_ledger(_document(LEDGER_FORMAT), "where") == Ledger()


@pytest.mark.parametrize(
    "command",
    [
        ("upgrade", "head"),
        ("upgrade", "head", "--json"),
        ("hook", "--installed-version", "2026.2.19"),
        ("current",),
    ],
)
def test_every_path_refuses_a_store_of_a_newer_format(
    mixed: Path, command: tuple[str, ...]
) -> None:
    assert run_cli("upgrade", "--store", str(mixed)).returncode == 0
    path = mixed / LEDGER
    document = json.loads(path.read_text())
    document["format"] = LEDGER_FORMAT + 1
    path.write_text(json.dumps(document, indent=2))
    before = {p: p.read_bytes() for p in (mixed / "devices").iterdir() if p.is_file()}
    done = run_cli(*command, "--store", str(mixed))
    assert done.returncode == STORE_AHEAD, done.stderr
    assert f"ledger format {LEDGER_FORMAT + 1} was written by a newer scopemigrate" in done.stderr
    assert {p: p.read_bytes() for p in (mixed / "devices").iterdir() if p.is_file()} == before


FORMAT_1 = "2026.2.15-ledger-format-1"  # written by scopemigrate at 2e03118 (format 1)


def test_a_format_1_ledger_written_by_the_previous_release_is_read_and_migrated(
    tmp_path: Path,
) -> None:
    """The mixed store upgraded by the previous release's CLI (per-device provenance):
    this release reads its heads, and its provenance still undoes the upgrade exactly."""
    store = copy_store(FORMAT_1, tmp_path)
    stored = json.loads((store / LEDGER).read_text())
    assert stored["format"] == 1 and isinstance(
        stored["applied"]["4f2c19a0b7e1"]["provenance"], dict
    )
    read = parse_ledger((store / LEDGER).read_bytes(), "where")
    assert read.format == LEDGER_FORMAT
    assert read.heads == ["4f2c19a0b7e1"]
    groups = read.applied["4f2c19a0b7e1"].provenance
    assert sum(len(group.devices) for group in groups) == len(
        stored["applied"]["4f2c19a0b7e1"]["provenance"]
    )

    current = run_cli("current", "--store", str(store))
    assert current.returncode == 0 and "4f2c19a0b7e1" in current.stdout, current.stderr
    done = run_cli("downgrade", "base", "--store", str(store))
    assert done.returncode == 0, done.stderr
    original = FIXTURES / "2026.2.15-mixed" / "devices"
    assert (store / "devices" / "paired.json").read_bytes() == (
        original / "paired.json"
    ).read_bytes()
    assert json.loads((store / "devices" / "pending.json").read_bytes()) == json.loads(
        (original / "pending.json").read_bytes()
    )
    assert json.loads((store / LEDGER).read_text())["format"] == LEDGER_FORMAT
