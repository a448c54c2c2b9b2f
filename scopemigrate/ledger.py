"""The ledger: what a store has applied, how it got there, and what each revision did.

A store adapter keeps the ledger beside its devices (a sidecar file for JSON,
tables for SQL) and writes it in the same atomic commit as the devices.
"""

from __future__ import annotations

import getpass
import os
import socket
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scopemigrate.errors import BadStoreError
from scopemigrate.migration import Migration
from scopemigrate.operations import FieldEdit

LEDGER_FORMAT = 1

# device id -> field -> edits in the order they were made
DeviceProvenance = dict[str, dict[str, list[FieldEdit]]]


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
    provenance: DeviceProvenance = Field(default_factory=dict)
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
    format: int = LEDGER_FORMAT
    heads: list[str] = Field(default_factory=list)
    # headmark.files_digest of the migration files whose head the store was
    # left at, or None. Kept right after the heads, in the file's first bytes,
    # so that ``upgrade head`` can answer from them (see headmark.py).
    at_head_of: str | None = None
    applied: dict[str, AppliedRevision] = Field(default_factory=dict)
    history: list[RunRecord] = Field(default_factory=list)

    def stored_migrations(self) -> list[Migration]:
        return [entry.migration for entry in self.applied.values()]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def parse_ledger(data: str | bytes, where: str) -> Ledger:
    """A stored ledger, or a one-line ``BadStoreError`` naming ``where`` and the field."""
    try:
        return Ledger.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise BadStoreError(
            f"{where}: not a valid scopemigrate ledger ({field}: {first['msg']})"
        ) from None
