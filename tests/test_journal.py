"""The JSON store's typed commit journal: what it writes is what it reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from scopemigrate.errors import BadStoreError
from scopemigrate.stores.openclaw_json.journal import Journal, JournalEntry, JournalFile


def test_an_entry_reads_back_as_written(tmp_path: Path) -> None:
    entry = JournalEntry(
        (
            JournalFile("paired.json", ".paired.json.ab.scopemigrate-tmp", (1, 2, 3), (4, 5, 6)),
            JournalFile("scopemigrate-ledger.json", ".l.cd.scopemigrate-tmp", None, (7, 8, 9)),
        ),
        ("req-1",),
        ((2, {"requestId": "req-2", "scopes": ["operator.read"]}),),
    )
    assert JournalEntry.from_json(entry.to_json(), tmp_path / "j.json") == entry
    assert entry.our_identity("paired.json") == (4, 5, 6)
    assert entry.changes().pending_restored == [(2, dict(entry.pending_restored[0][1]))]


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "not json",
        '{"files": []}',
        '{"files": [{"name": "paired.json", "old": null}]}',
        '{"files": [{"name": "paired.json", "tmp": 3, "old": null}]}',
        '{"files": [{"name": "paired.json", "tmp": "t", "old": [1, 2]}]}',
        '{"files": [{"name": "p", "tmp": "t", "old": null}], "pending_restored": [[0, 1]]}',
    ],
)
def test_an_unreadable_journal_is_refused_and_its_temps_kept(tmp_path: Path, text: str) -> None:
    """A journal edited by hand: the run refuses, naming it, and deletes nothing."""
    journal = tmp_path / "scopemigrate-journal.json"
    journal.write_text(text)
    temp = tmp_path / ".paired.json.ab.scopemigrate-tmp"
    temp.write_text("{}")
    with pytest.raises(BadStoreError, match=f"{journal}: unreadable commit journal"):
        Journal(tmp_path, journal, tmp_path / "pending.json").recover()
    assert temp.exists() and journal.read_text() == text
