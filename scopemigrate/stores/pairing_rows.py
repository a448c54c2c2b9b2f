"""Rows of OpenClaw's ``device_pairing_paired`` and ``device_pairing_pending`` tables.

The SQLite generation of OpenClaw's store and the PostgreSQL fleet registry
share this shape: one row per device, list-valued fields in JSON columns
(text in SQLite, jsonb in PostgreSQL). This module turns rows into the
engine's ``DeviceState`` and scope lists back into column values; the
adapters only move rows. Errors name the store, table, row and column, never
a value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from scopemigrate.devices import (
    APPROVED_SCOPES,
    SCOPES,
    DeviceState,
    PendingRequest,
    revoked_roles,
    token_field,
    token_role,
)
from scopemigrate.errors import BadStoreError
from scopemigrate.stores.base import Snapshot
from scopemigrate.stores.layout import LEDGER_TABLE, PAIRED_TABLE, PENDING_TABLE

if TYPE_CHECKING:
    from scopemigrate.devices import ChangeSet, ScopeList

# The engine's field -> the column that holds it (tokens live inside tokens_json).
LIST_COLUMNS = {SCOPES: "scopes_json", APPROVED_SCOPES: "approved_scopes_json"}
DEVICE_COLUMNS = (
    "device_id",
    "display_name",
    "client_id",
    "client_mode",
    "role",
    "roles_json",
    "scopes_json",
    "approved_scopes_json",
    "tokens_json",
)


class _Overflow(ValueError):
    """A JSON number beyond a double: written back, it would be ``Infinity``, not JSON."""


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise _Overflow(text)
    return value


# Python's json, but refusing a number it would read as an infinity (OpenClaw's
# JSON.parse would too, and writing it back gives text that is not JSON).
_decode = json.JSONDecoder(parse_float=_finite).decode


class RowChecker:
    """One-line errors: store, table, row and column; never a column's value."""

    def __init__(self, store: str, table: str, key: str, *, text_json: bool):
        self.store, self.table, self.key = store, table, key
        self.text_json = text_json  # JSON columns hold text (SQLite), not values (jsonb)

    def fail(self, column: str, problem: str) -> BadStoreError:
        return BadStoreError(
            f"{self.store}: table {self.table}, row {self.key}: {column}: {problem}"
        )

    def json_value(self, row: dict[str, Any], column: str) -> Any:
        """A JSON column's value: decoded from text (SQLite) or as given (jsonb)."""
        value = row.get(column)
        if not self.text_json or value is None:
            return value
        if not isinstance(value, str):
            raise self.fail(column, "expected JSON text")
        try:
            return _decode(value)
        except json.JSONDecodeError as exc:
            raise self.fail(column, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        except _Overflow:
            raise self.fail(column, "a number too large for a double") from None

    def strings(self, value: Any, column: str) -> ScopeList:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(column, "expected a JSON list of strings")
        return list(value)

    def text(self, row: dict[str, Any], column: str) -> str | None:
        value = row.get(column)
        if value is not None and not isinstance(value, str):
            raise self.fail(column, "expected text")
        return value


def _keyed(
    store: str, table: str, column: str, row: dict[str, Any], text_json: bool
) -> tuple[str, RowChecker, frozenset[str]]:
    """A row's key, the checker naming it, and its roles (``roles_json`` and ``role``)."""
    key = row.get(column)
    if not isinstance(key, str) or not key:
        raise BadStoreError(f"{store}: table {table}: a row has no {column}")
    check = RowChecker(store, table, key, text_json=text_json)
    roles = set(check.strings(check.json_value(row, "roles_json"), "roles_json") or [])
    role = check.text(row, "role")
    if role:
        roles.add(role)
    return key, check, frozenset(roles)


def device_from_row(store: str, row: dict[str, Any], *, text_json: bool) -> DeviceState:
    device_id, check, roles = _keyed(store, PAIRED_TABLE, "device_id", row, text_json)
    fields: dict[str, ScopeList] = {
        name: check.strings(check.json_value(row, column), column)
        for name, column in LIST_COLUMNS.items()
    }
    tokens = check.json_value(row, "tokens_json")
    if tokens is not None and not isinstance(tokens, dict):
        raise check.fail("tokens_json", "expected a JSON object keyed by role")
    for role, token in (tokens or {}).items():
        where = f"tokens_json.{role}"
        if not isinstance(token, dict):
            raise check.fail(where, "expected a JSON object")
        fields[token_field(role)] = check.strings(token.get("scopes"), f"{where}.scopes")
    label = check.text(row, "display_name") or check.text(row, "client_id") or device_id[:12]
    return DeviceState(
        device_id=device_id,
        label=label,
        roles=roles,
        client_id=check.text(row, "client_id"),
        client_mode=check.text(row, "client_mode"),
        fields=fields,
        revoked_tokens=revoked_roles(tokens or {}),
    )


def pending_from_row(store: str, row: dict[str, Any], *, text_json: bool) -> PendingRequest:
    request_id, check, roles = _keyed(store, PENDING_TABLE, "request_id", row, text_json)
    return PendingRequest(
        request_id=request_id,
        device_id=check.text(row, "device_id") or "",
        roles=roles,
        scopes=tuple(check.strings(check.json_value(row, "scopes_json"), "scopes_json") or ()),
        is_repair=bool(row.get("is_repair")),
        raw=dict(row),
    )


def dump_like(original: Any, value: Any) -> str:
    """JSON text for a column, in the separator style the column already used.

    OpenClaw writes ``JSON.stringify`` (compact); a store imported by other
    tools may use ``", "``. Keeping the style makes a downgrade byte-exact.
    """
    spaced = isinstance(original, str) and (", " in original or ": " in original)
    separators = (", ", ": ") if spaced else (",", ":")
    text = json.dumps(value, ensure_ascii=False, separators=separators)
    if text.isascii():
        return text
    # A lone surrogate (read from a ``\ud800`` escape) is not UTF-8: write it
    # escaped again, as JSON.stringify does.
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_LONE_SURROGATE = re.compile("[\\ud800-\\udfff]")


def updated_columns(
    row: dict[str, Any], fields: dict[str, ScopeList], *, as_text: bool
) -> dict[str, Any]:
    """New values of the columns that hold the changed ``fields`` of one device row.

    ``as_text``: JSON text (SQLite) rather than Python values for jsonb. A
    device list that becomes absent is NULL; a token keeps its other keys.
    """
    check = RowChecker("", PAIRED_TABLE, str(row.get("device_id")), text_json=as_text)
    columns: dict[str, Any] = {}
    tokens: dict[str, Any] | None = None
    for name, value in fields.items():
        role = token_role(name)
        if role is not None:
            if tokens is None:
                tokens = check.json_value(row, "tokens_json") or {}
            token = tokens.setdefault(role, {})
            if value is None:
                token.pop("scopes", None)
            else:
                token["scopes"] = value
            continue
        column = LIST_COLUMNS[name]
        if value is None:
            columns[column] = None
        else:
            columns[column] = dump_like(row.get(column), value) if as_text else value
    if tokens is not None:
        original = row.get("tokens_json")
        columns["tokens_json"] = dump_like(original, tokens) if as_text else tokens
    return columns


def snapshot_of(
    store: str,
    paired: Iterable[dict[str, Any]],
    pending: Iterable[dict[str, Any]],
    *,
    text_json: bool,
) -> Snapshot[Rows]:
    """The engine's view of the rows; the rows themselves stay private for the commit."""
    rows = {row["device_id"]: row for row in paired}
    devices = [device_from_row(store, row, text_json=text_json) for row in rows.values()]
    requests = [pending_from_row(store, row, text_json=text_json) for row in pending]
    return Snapshot(devices, requests, rows)


Statement = tuple[str, dict[str, Any]]

# paired rows as read, by device id: what an SQL snapshot keeps to commit against
Rows = dict[str, dict[str, Any]]


def write_statements(
    snapshot: Snapshot[Rows],
    changes: ChangeSet,
    ledger_document: str,
    *,
    text_json: bool,
    placeholder: str,
    encode: Callable[[Any], Any] = lambda value: value,
) -> list[Statement]:
    """The statements of one commit, with named parameters in the driver's
    ``placeholder`` style (``:{}`` for SQLite, ``%({})s`` for psycopg).

    ``encode`` wraps JSON values for the driver (jsonb); with ``text_json``
    they are already text.
    """
    rows = snapshot.private
    statements: list[Statement] = []
    for device_id, fields in changes.devices.items():
        columns = updated_columns(rows[device_id], fields, as_text=text_json)
        # The list columns are never device_id: it names the row.
        assignments = ", ".join(f"{column} = {placeholder.format(column)}" for column in columns)
        where = placeholder.format("device_id")
        params = {column: encode(value) for column, value in columns.items()}
        statements.append(
            (
                f"UPDATE {PAIRED_TABLE} SET {assignments} WHERE device_id = {where}",
                params | {"device_id": device_id},
            )
        )
    for request_id in changes.pending_removed:
        where = placeholder.format("request_id")
        statements.append(
            (f"DELETE FROM {PENDING_TABLE} WHERE request_id = {where}", {"request_id": request_id})
        )
    for _index, record in changes.pending_restored:
        names = ", ".join(record)
        values = ", ".join(placeholder.format(name) for name in record)
        statements.append(
            (
                f"INSERT INTO {PENDING_TABLE} ({names}) VALUES ({values}) ON CONFLICT DO NOTHING",
                {name: encode(value) for name, value in record.items()},
            )
        )
    statements.append(ledger_statement(ledger_document, placeholder))
    return statements


def ledger_statement(ledger_document: str, placeholder: str) -> tuple[str, dict[str, Any]]:
    """The statement that stores the ledger document (its one row)."""
    document = placeholder.format("document")
    return (
        f"INSERT INTO {LEDGER_TABLE} (id, document) VALUES (1, {document}) "
        "ON CONFLICT (id) DO UPDATE SET document = excluded.document",
        {"document": ledger_document},
    )
