"""The ledger: what a store has applied, how it got there, and what each revision did.

A store adapter keeps the ledger beside its devices (a sidecar file for JSON,
tables for SQL) and writes it in the same atomic commit as the devices.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scopemigrate.errors import BadLedgerError, BadStoreError, StoreAheadError
from scopemigrate.migration import Migration
from scopemigrate.provenance import Provenance, dump_groups
from scopemigrate.stores.jsontext import check_text, check_values
from scopemigrate.stores.layout import LEDGER_FORMAT, read_ledger_prefix

__all__ = [
    "LEDGER_FORMAT",
    "AppliedRevision",
    "Ledger",
    "RemovedPending",
    "RunRecord",
    "now_iso",
    "parse_ledger",
    "who",
]


class RemovedPending(BaseModel):
    """A pending request a revision satisfied and removed, kept to put it back."""

    index: int
    record: dict[str, Any]  # the adapter's own record, restored as it was
    # Empty in ledgers written before SQL stores existed (JSON records carry it
    # as ``requestId``).
    request_id: str = ""

    def key(self) -> str:
        return self.request_id or str(self.record.get("requestId", ""))


class AppliedRevision(BaseModel):
    """One applied revision: its content and exactly what it changed."""

    migration: Migration
    applied_at: str
    # One group per distinct change, with the devices it was made to.
    provenance: Provenance = Field(default_factory=list)
    removed_pending: list[RemovedPending] = Field(default_factory=list)


class RunRecord(BaseModel):
    """One run's entry in the history."""

    model_config = ConfigDict(frozen=True)

    direction: Literal["upgrade", "downgrade", "stamp"]
    from_heads: list[str]
    to_heads: list[str]
    revisions: list[str]
    devices_changed: int
    at: str
    by: str
    tool_version: str


class Ledger(BaseModel):
    """What a store has applied: its heads, each applied revision's effect, the run log.

    The field order is part of the format: ``format``, ``heads`` and
    ``at_head_of`` are dumped first so that the quick paths read them from the
    first bytes (``stores/layout.py``, ``read_ledger_prefix``).
    """

    format: int = LEDGER_FORMAT
    heads: list[str] = Field(default_factory=list)
    # migration_files.digest_of the files whose head the store was left at, or
    # None (see quick/mark.py).
    at_head_of: str | None = None
    applied: dict[str, AppliedRevision] = Field(default_factory=dict)
    history: list[RunRecord] = Field(default_factory=list)

    def stored_migrations(self) -> list[Migration]:
        return [entry.migration for entry in self.applied.values()]

    def advance(
        self,
        record: RunRecord,
        *,
        at_head_of: str | None,
        applied: Mapping[str, AppliedRevision] = {},
        undone: Iterable[str] = (),
    ) -> Ledger:
        """A copy moved by one run: to its record's heads and mark, with the revisions
        it applied (and what they changed) added, those it undid removed, and the
        record appended to the history."""
        moved = self.model_copy(deep=True)
        moved.heads = list(record.to_heads)
        moved.at_head_of = at_head_of
        moved.applied.update(applied)
        for rev in undone:
            moved.applied.pop(rev, None)
        moved.history.append(record)
        return moved

    def dump(self) -> bytes:
        """The ledger as stored: indented JSON, except each revision's provenance,
        written one group a line (``provenance.dump_groups``): at a million devices
        the device ids are nearly all of the ledger, and a line per id would add a
        fifth to it. The groups are serialised one at a time, never as one tree."""
        marker = f"provenance-{uuid.uuid4().hex}-"
        document = self.model_dump(mode="json", exclude={"applied": {"__all__": {"provenance"}}})
        for revision, entry in document["applied"].items():
            # The stored key order: provenance where the model declares it.
            document["applied"][revision] = {
                name: f"{marker}{revision}" if name == "provenance" else entry[name]
                for name in AppliedRevision.model_fields
            }
        text = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
        pieces: list[bytes] = []
        position = 0
        for revision, entry in self.applied.items():
            placeholder = json.dumps(f"{marker}{revision}", ensure_ascii=False).encode("utf-8")
            found = text.index(placeholder, position)
            pieces.append(text[position:found])
            pieces.extend(dump_groups(entry.provenance))
            position = found + len(placeholder)
        pieces.append(text[position:])
        return b"".join(pieces)

    def with_provenance_of(self, applied: Mapping[str, AppliedRevision]) -> Ledger:
        """A copy whose applied revisions also hold what ``applied`` changed (more devices)."""
        grown = self.model_copy(deep=True)
        for revision, entry in applied.items():
            # Newcomers are devices the run had not seen: new groups, no merging needed.
            grown.applied[revision].provenance.extend(entry.provenance)
            grown.applied[revision].removed_pending.extend(entry.removed_pending)
        return grown


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def _format_1_to_2(document: dict[str, Any]) -> dict[str, Any]:
    """Format 2 groups each revision's provenance per distinct change. Format 1's
    object (device id -> field -> edits) is regrouped, losing nothing, by the
    ``Provenance`` type as the document is validated, so a bad edit in it is
    named like any other field; nothing else changed."""
    return document


# Older formats, each brought one format forward on read: {format: upgrade of
# the parsed document to format + 1}. A new format adds its step here and bumps
# LEDGER_FORMAT in stores/layout.py.
FORMAT_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _format_1_to_2}


def _stored_format(data: bytes, where: str) -> int:
    """The format a stored ledger declares (from its first bytes when it can)."""
    prefix = read_ledger_prefix(data)
    if prefix is not None:
        return prefix.format
    try:
        document = json.loads(data)
    except ValueError:
        return LEDGER_FORMAT  # not JSON: validation names the problem
    found = document.get("format", LEDGER_FORMAT) if isinstance(document, dict) else None
    if not isinstance(found, int) or isinstance(found, bool):
        return LEDGER_FORMAT  # validation names the field
    return found


def parse_ledger(data: str | bytes, where: str) -> Ledger:
    """A stored ledger, or a one-line error naming ``where``.

    A ledger of a newer format was written by a newer release: a
    ``StoreAheadError``, since reading it as ours could lose what it records.
    An older one is brought forward through ``FORMAT_UPGRADES``; a bad one is
    a ``BadLedgerError`` naming the field.
    """
    try:
        return _parsed(data, where)
    except BadLedgerError:
        raise
    except BadStoreError as exc:  # the bounds of jsontext, checked on the ledger's text
        raise BadLedgerError(str(exc)) from None


def _parsed(data: str | bytes, where: str) -> Ledger:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    check_text(where, raw)
    stored = _stored_format(raw, where)
    if stored > LEDGER_FORMAT:
        raise StoreAheadError(
            f"{where}: ledger format {stored} was written by a newer scopemigrate "
            f"(this one reads up to format {LEDGER_FORMAT}); install that release (or newer)"
        )
    try:
        if stored == LEDGER_FORMAT:
            ledger = Ledger.model_validate_json(raw)
        else:
            ledger = Ledger.model_validate(_upgraded(json.loads(raw), stored, where))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise BadLedgerError(
            f"{where}: not a valid scopemigrate ledger ({field}: {first['msg']})"
        ) from None
    for revision, entry in ledger.applied.items():
        for removed in entry.removed_pending:
            # Records go back into pending.json as they are: only values
            # OpenClaw's JSON.parse reads.
            check_values(where, removed.record, f"applied.{revision}.removed_pending")
    return ledger


def _upgraded(document: dict[str, Any], stored: int, where: str) -> dict[str, Any]:
    for version in range(stored, LEDGER_FORMAT):
        step = FORMAT_UPGRADES.get(version)
        if step is None:
            raise BadLedgerError(f"{where}: ledger format {stored} is not one scopemigrate wrote")
        document = step(document)
        document["format"] = version + 1
    return document
