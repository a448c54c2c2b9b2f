"""``stamp --purge``: Alembic's meaning, through the installed CLI.

Alembic's purge deletes the version table's rows without reading them, then
stamps from nothing. Here the ledger is not read either: whatever it holds
(revisions no file knows, text that is no ledger) is replaced. The target must
still name one state of the files, and no device is ever touched.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import FIRST_CHAIN, copy_store, run_cli, run_first

from scopemigrate.migration_files import MigrationFiles

LEDGER = Path("devices") / "scopemigrate-ledger.json"


def files_of(store: Path) -> dict[str, bytes]:
    """The store's files (not the lock file, which any run leaves behind, empty)."""
    found = sorted((store / "devices").iterdir())
    return {p.name: p.read_bytes() for p in found if p.is_file() and not p.name.endswith(".lock")}


def first_head() -> str:
    (head,) = MigrationFiles([FIRST_CHAIN]).graph().heads
    return head


def test_purge_replaces_a_ledger_naming_revisions_no_file_knows(tmp_path: Path) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    assert run_first("upgrade", "--store", str(store)).returncode == 0
    ledger = json.loads((store / LEDGER).read_text())
    ledger["heads"] = ["0123456789ab"]  # written by a release whose files are not here
    (store / LEDGER).write_text(json.dumps(ledger))
    before = files_of(store)

    refused = run_first("stamp", "head", "--store", str(store))
    assert refused.returncode == 8, refused.stderr  # store ahead: plain stamp consults it
    assert files_of(store) == before

    purged = run_first("stamp", "--purge", "head", "--json", "--store", str(store))
    assert purged.returncode == 0, purged.stderr
    document = json.loads(purged.stdout)
    assert document["purged"] is True and document["changed"] is True
    assert document["from_heads"] == [] and document["to_heads"] == [first_head()]
    after = files_of(store)
    assert {k: v for k, v in after.items() if k != LEDGER.name} == {
        k: v for k, v in before.items() if k != LEDGER.name
    }  # devices and pending requests byte for byte
    written = json.loads(after[LEDGER.name])
    assert written["heads"] == [first_head()]
    assert [run["direction"] for run in written["history"]] == ["stamp"]  # replaced whole
    current = run_first("current", "--json", "--store", str(store))
    assert json.loads(current.stdout)["heads"] == [first_head()]


def test_purge_replaces_a_ledger_that_does_not_parse(tmp_path: Path) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    (store / LEDGER).write_text("{not a ledger")
    assert run_first("stamp", "base", "--store", str(store)).returncode == 5
    purged = run_first("stamp", "--purge", "base", "--store", str(store))
    assert purged.returncode == 0, purged.stderr
    assert "ledger purged, now at base" in purged.stdout
    current = run_first("current", "--json", "--store", str(store))
    assert current.returncode == 0 and json.loads(current.stdout)["heads"] == []


def two_branches(tmp_path: Path) -> Path:
    migrations = tmp_path / "branches"
    migrations.mkdir()
    for name in ("alpha", "beta"):
        written = run_cli(
            "revision",
            *("-m", name, "--release", "2026.3.1", "--head", "base"),
            *("--branch-label", name, "--grant", f"operator:operator.{name}"),
            *("--migrations", str(migrations)),
        )
        assert written.returncode == 0, written.stderr
    return migrations


def test_purge_still_refuses_what_is_ambiguous(tmp_path: Path) -> None:
    migrations = two_branches(tmp_path)
    store = copy_store("2026.2.15-mixed", tmp_path)
    (store / LEDGER).write_text("{not a ledger")
    before = files_of(store)
    where = ("--migrations", str(migrations), "--store", str(store))
    several = run_cli("stamp", "--purge", "head", *where)
    assert several.returncode == 4 and "several heads" in several.stderr
    relative = run_cli("stamp", "--purge", "-1", *where)
    assert relative.returncode == 12 and "named state" in relative.stderr
    assert files_of(store) == before  # refused: the unread ledger is left as it was
    one = run_cli("stamp", "--purge", "alpha@head", "--json", *where)
    assert one.returncode == 0, one.stderr
    both = run_cli("stamp", "--purge", "heads", "--json", *where)
    assert len(json.loads(both.stdout)["to_heads"]) == 2
    assert {k: v for k, v in files_of(store).items() if k != LEDGER.name} == {
        k: v for k, v in before.items() if k != LEDGER.name
    }


def test_purge_on_a_sqlite_store_replaces_the_ledger_row_only(tmp_path: Path) -> None:
    state = copy_store("2026.9-sqlite", tmp_path)
    database = state / "state" / "openclaw.sqlite"
    assert run_first("upgrade", "--store", str(state)).returncode == 0

    def rows() -> list[tuple[object, ...]]:
        with sqlite3.connect(database) as conn:
            return conn.execute("SELECT * FROM device_pairing_paired ORDER BY 1").fetchall()

    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE scopemigrate_ledger SET document = '[not a ledger' WHERE id = 1")
    devices = rows()
    assert run_first("stamp", "base", "--store", str(state)).returncode == 5
    purged = run_first("stamp", "--purge", "head", "--store", str(state))
    assert purged.returncode == 0, purged.stderr
    assert rows() == devices
    current = run_first("current", "--json", "--store", str(state))
    assert json.loads(current.stdout)["heads"] == [first_head()]


def test_purge_replaces_a_newer_format_but_still_refuses_a_linked_ledger(tmp_path: Path) -> None:
    store = copy_store("2026.2.15-mixed", tmp_path)
    (store / LEDGER).write_text(json.dumps({"format": 99, "heads": ["0123456789ab"]}))
    assert run_first("stamp", "head", "--store", str(store)).returncode == 8
    assert run_first("stamp", "--purge", "head", "--store", str(store)).returncode == 0
    assert json.loads((store / LEDGER).read_text())["heads"] == [first_head()]

    # The file itself is still the store's to refuse (docs/threat-model.md):
    # purge does not consult what the ledger says, not where it points.
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{not a ledger")
    (store / LEDGER).unlink()
    (store / LEDGER).symlink_to(outside)
    linked = run_first("stamp", "--purge", "base", "--store", str(store))
    assert linked.returncode == 5 and "symbolic link" in linked.stderr
    assert (store / LEDGER).is_symlink() and outside.read_text() == "{not a ledger"
