"""Set-based runs for OpenClaw's SQLite store: each operation one ``UPDATE`` over its rows.

The row-by-row way reads every device into Python, runs the engine and writes
each changed row back: about 5x a hand-written ``UPDATE`` at 100k devices.
Here, as ``postgres_sql.py`` does for PostgreSQL, each operation of each
revision selects its rows in SQL (JSON1's ``json_each`` over the scope
columns: roles, client, if_any/if_all/if_none) and rewrites them in one
statement, recording each edit in a temporary table. The list edits are the
engine's own functions (``Operation.edit``), computed once per distinct list
text among the operation's rows (a store holds few: a SQL function keyed by
the text) into a temporary map that every row joins by id: the result is the
engine's to the byte (same order of scopes, same sorted token lists, same
separators as ``pairing_rows.dump_like``). A token's list is written back
with ``json_set`` where the column is written as the engine writes it
(compact, no escapes, integers only: ``json_set`` then changes nothing
else), otherwise by Python, as the engine writes the column.

Pending repair requests, few by nature, are decided in Python per revision
exactly as the engine decides them.

Every row is first read as the row-by-row reader reads it (Python's json,
one SQL function call a row: ``_RowCheck``), which also proves that JSON1
reads the same text alike (no key repeated, no ``NaN``); the first suspect
row is then read the engine's way, so that the error is today's, word for
word, and nothing is written. A row that the reader accepts but JSON1 may
read otherwise (``NaN``, a key twice) makes the whole run fall back to the
row-by-row way (``SetBasedUnavailable``). A hypothesis test holds
both ways equal.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from scopemigrate.devices import (
    APPROVED_SCOPES,
    SCOPES,
    DevicePlan,
    ScopeList,
    net_plan,
    token_field,
)
from scopemigrate.ledger import AppliedRevision, RemovedPending
from scopemigrate.migration import Migration
from scopemigrate.operations import ALL_LISTS, FieldEdit, Grant, Operation, Rename, Revoke
from scopemigrate.provenance import EditGroup, ProvenanceBuilder
from scopemigrate.stores.layout import PAIRED_TABLE as PAIRED
from scopemigrate.stores.layout import PENDING_TABLE as PENDING
from scopemigrate.stores.pairing_rows import (
    DEVICE_COLUMNS,
    device_from_row,
    dump_like,
    pending_from_row,
    updated_columns,
)


class SetBasedUnavailable(Exception):
    """This store must be migrated row by row (the caller's engine path), not set-based."""


# What the row check finds in a row (``_RowCheck``).
_PLAIN = 0  # JSON1 reads it as the reader does, and json_set writes it as the engine does
_SUSPECT = 1  # the reader may refuse it, or reads it otherwise than JSON1: the reader decides
_RENDERED = 2  # read alike, but only Python writes its tokens_json as the engine does


class _RowCheck:
    """Each row as the row-by-row reader reads it (Python's json), and whether
    JSON1 reads the same text alike; a SQL function over every row.

    The list columns hold few distinct texts, so each is judged once. A
    token object is parsed per row, by orjson (the standard library decides
    where orjson cannot tell: a fraction, a number beyond 64 bits, a lone
    surrogate, anything orjson refuses); a key repeated at any depth makes the
    row suspect (JSON1 reads a repeated key's first value, Python and
    OpenClaw's ``JSON.parse`` its last). The proof that none is repeated is
    cheap: each member of an object has its own ``:``, so when the text
    holds as many colons as the parsed objects hold keys, no key was dropped
    (nor was any colon in a string, nor any deeper object): else the text is
    parsed again, keeping every member. A key written with an escape is
    suspect too: JSON1's paths do not find it. Rows whose tokens ``json_set`` would
    write otherwise than the engine (escapes, spacing, a number Python
    writes in its own form: a fraction, an exponent, ``-0``) are listed in
    ``rendered``, and their tokens are written by Python.
    """

    def __init__(self) -> None:
        self._lists: dict[Any, bool] = {}
        self._float = False
        # One decoder for every row (json.loads with hooks builds one a call).
        self._decode = json.JSONDecoder(parse_float=self._saw_float, parse_constant=_refuse).decode
        self.rendered: list[int] = []

    def __call__(self, rowid: int, *columns: Any) -> int:
        device_id, *texts, roles, scopes, approved, tokens = columns
        if type(device_id) is not str or not device_id:
            return _SUSPECT
        for text in texts:
            if text is not None and type(text) is not str:
                return _SUSPECT
        for listed in (roles, scopes, approved):
            if listed is not None:
                ok = self._lists.get(listed)
                if ok is None:
                    ok = self._lists[listed] = _strings_or_null(listed)
                if not ok:
                    return _SUSPECT
        found = _PLAIN if tokens is None else self._tokens(tokens)
        if found == _RENDERED:
            self.rendered.append(rowid)
        return found

    def _tokens(self, text: Any) -> int:
        if type(text) is not str:
            return _SUSPECT
        try:
            found = self._judge(text, orjson.loads(text), exact=False)
        except orjson.JSONDecodeError:
            found = None
        if found is None:  # only the standard library's reading can tell
            self._float = False
            try:
                tokens = self._decode(text)
            except (ValueError, RecursionError):
                return _SUSPECT
            found = self._judge(text, tokens, exact=True)
        return _SUSPECT if found is None else found  # exact: never None

    def _judge(self, text: str, tokens: Any, *, exact: bool) -> int | None:
        """What a row's tokens are, read by orjson (three times as fast) or, when
        not ``exact`` cannot tell (a number that is not an integer, a deeper
        object), ``None``: the standard library reads it again."""
        if tokens is None:
            return _PLAIN
        if type(tokens) is not dict:
            return _SUSPECT
        keys = len(tokens)
        for token in tokens.values():
            if type(token) is not dict:
                return _SUSPECT
            keys += len(token)
            scopes = token.get("scopes")
            if scopes is not None:
                if type(scopes) is not list:
                    return _SUSPECT
                for scope in scopes:
                    if type(scope) is not str:
                        return _SUSPECT
            if not exact:
                for value in token.values():
                    if type(value) is float or (type(value) is list and _holds_float(value)):
                        return None
        if text.count(":") != keys:
            if not exact:
                return None
            if _repeats_a_key(text):
                return _SUSPECT
        if "\\" in text and _escaped_key(text):
            return _SUSPECT
        if (exact and self._float) or "\\" in text or "-0" in text or ", " in text or ": " in text:
            return _RENDERED
        return _PLAIN

    def _saw_float(self, text: str) -> float:
        self._float = True
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)  # the reader refuses it
        return value


def _holds_float(items: list[Any]) -> bool:
    return any(type(i) is float or (type(i) is list and _holds_float(i)) for i in items)


def _strings_or_null(text: Any) -> bool:
    """Whether the reader takes a list column's text (a JSON list of strings, or null)."""
    if type(text) is not str:
        return False
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return value is None or (type(value) is list and all(type(item) is str for item in value))


def _refuse(constant: str) -> Any:
    """NaN and Infinity: Python's json reads them, JSON1 does not."""
    raise ValueError(constant)


# Each string of a JSON text, in order (no quote stands outside a string), and
# whether it is a key (a colon follows).
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?')


def _escaped_key(text: str) -> bool:
    """Whether a key is written with an escape: JSON1's paths then miss it
    (``$."operator"`` does not find ``"oper\\u0061tor"``), where Python reads
    the key unescaped."""
    return any(m.group(1) and "\\" in m.group(0) for m in _STRINGS.finditer(text))


def _repeats_a_key(text: str) -> bool:
    repeated = False

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        found = dict(pairs)
        repeated = repeated or len(found) != len(pairs)
        return found

    json.loads(text, object_pairs_hook=members)
    return repeated


# The first row (in the reader's order) the row check finds suspect; it lists
# the rows whose tokens Python must write as it goes.
_FIRST_SUSPECT = (
    f"SELECT {', '.join(DEVICE_COLUMNS)} FROM {PAIRED} "
    f"WHERE sm_check(rowid, {', '.join(DEVICE_COLUMNS)}) = {_SUSPECT} ORDER BY rowid LIMIT 1"
)


TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS sm_changed (
  row_id INTEGER PRIMARY KEY, s INTEGER, a INTEGER, t INTEGER
);
CREATE TEMP TABLE IF NOT EXISTS sm_map (id INTEGER PRIMARY KEY, new TEXT);
CREATE TEMP TABLE IF NOT EXISTS sm_multi (row_id INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS sm_rendered (row_id INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS sm_before (
  row_id INTEGER PRIMARY KEY, scopes_json TEXT, approved_scopes_json TEXT, tokens_json TEXT
);
DELETE FROM temp.sm_changed;
DELETE FROM temp.sm_multi;
DELETE FROM temp.sm_before;
DELETE FROM temp.sm_rendered;
"""

# The scopes the filters test: an absent or null list holds nothing.
_HELD = "SELECT value FROM json_each(coalesce(d.scopes_json, '[]')) WHERE type = 'text'"
_TOKEN_PATH = "'$.\"' || :role || '\"'"


def operation_filter(op: Grant | Revoke | Rename) -> str:
    """The WHERE clause selecting the rows ``op.matches`` selects (named parameters)."""
    clauses = [
        "(d.role = :role OR EXISTS (SELECT 1 FROM json_each(coalesce(d.roles_json, '[]')) "
        "WHERE type = 'text' AND value = :role))"
    ]
    if op.client_ids:
        clauses.append("d.client_id IN (SELECT value FROM json_each(:client_ids))")
    if op.client_modes:
        clauses.append("d.client_mode IN (SELECT value FROM json_each(:client_modes))")
    if op.if_any:
        clauses.append(f"EXISTS ({_HELD} AND value IN (SELECT value FROM json_each(:if_any)))")
    if op.if_all:
        clauses.append(
            f"NOT EXISTS (SELECT 1 FROM json_each(:if_all) a WHERE a.value NOT IN ({_HELD}))"
        )
    if op.if_none:
        clauses.append(f"NOT EXISTS ({_HELD} AND value IN (SELECT value FROM json_each(:if_none)))")
    return " AND ".join(clauses)


def _parameters(op: Grant | Revoke | Rename, index: int) -> dict[str, Any]:
    params: dict[str, Any] = {"op": index, "role": op.role}
    for name in ("client_ids", "client_modes", "if_any", "if_all", "if_none"):
        values = getattr(op, name)
        if values:
            params[name] = json.dumps(list(values))
    return params


_TOKEN_SCOPES = f"json_extract(d.tokens_json, {_TOKEN_PATH} || '.scopes')"
_APPROVED_PRESENT = (
    "d.approved_scopes_json IS NOT NULL AND json_type(d.approved_scopes_json) <> 'null'"
)
_TOKEN_PRESENT = f"json_type(d.tokens_json, {_TOKEN_PATH}) = 'object'"


def select_changes(op: Grant | Revoke | Rename) -> str:
    """Fill sm_changed with the rows ``op`` selects (its filter, JSON1 over every
    row) and, per list, the id of its edit (``_ListEdits``), NULL where none."""
    return f"""
INSERT INTO temp.sm_changed (row_id, s, a, t)
SELECT d.rowid, sm_edit(0, d.scopes_json),
  CASE WHEN {_APPROVED_PRESENT} THEN sm_edit(0, d.approved_scopes_json) END,
  CASE WHEN {_TOKEN_PRESENT} THEN sm_edit(1, {_TOKEN_SCOPES}) END
FROM {PAIRED} d WHERE {operation_filter(op)}
"""


# Selected rows that no edit changes.
UNCHANGED = "DELETE FROM temp.sm_changed WHERE s IS NULL AND a IS NULL AND t IS NULL"

# The operation's edits, row by row in the reader's order, for the provenance.
CHANGES = f"""
SELECT c.row_id, d.device_id, c.s, c.a, c.t
FROM temp.sm_changed c JOIN {PAIRED} d ON d.rowid = c.row_id ORDER BY c.row_id
"""


# The lists each changed row held before the run (its first edit's old lists),
# kept when a report is asked or a row may be edited more than once.
SAVE_BEFORE = f"""
INSERT OR IGNORE INTO temp.sm_before (row_id, scopes_json, approved_scopes_json, tokens_json)
SELECT d.rowid, d.scopes_json, d.approved_scopes_json, d.tokens_json
FROM temp.sm_changed c JOIN {PAIRED} d ON d.rowid = c.row_id
"""

# A row's new lists in one subquery (a row value): a tenth cheaper than
# UPDATE ... FROM joining the map, which gathers every changed row first.
APPLY_CHANGES = f"""
UPDATE {PAIRED} AS d SET (scopes_json, approved_scopes_json, tokens_json) = (
  SELECT CASE WHEN c.s IS NULL THEN d.scopes_json ELSE ms.new END,
    CASE WHEN c.a IS NULL THEN d.approved_scopes_json ELSE ma.new END,
    CASE WHEN c.t IS NULL THEN d.tokens_json
      WHEN d.rowid IN temp.sm_rendered THEN sm_tokens(:op, d.tokens_json)
      WHEN mt.new IS NULL THEN json_remove(d.tokens_json, {_TOKEN_PATH} || '.scopes')
      ELSE json_set(d.tokens_json, {_TOKEN_PATH} || '.scopes', json(mt.new)) END
  FROM temp.sm_changed c
    LEFT JOIN temp.sm_map ms ON ms.id = c.s
    LEFT JOIN temp.sm_map ma ON ma.id = c.a
    LEFT JOIN temp.sm_map mt ON mt.id = c.t
  WHERE c.row_id = d.rowid)
WHERE d.rowid IN (SELECT row_id FROM temp.sm_changed)
"""


# A row edited by several operations went through intermediate lists, which
# can lose the column's separator style (a one-item list shows none) or come
# back to where they started. The engine writes each changed column once, from
# its original text, and leaves an unchanged one alone: so do these rows.
_LIST_COLUMNS = ("scopes_json", "approved_scopes_json", "tokens_json")
RESTORE_STYLE = f"""
UPDATE {PAIRED} AS d SET
{",".join(f"  {c} = sm_final(b.{c}, d.{c})" for c in _LIST_COLUMNS)}
FROM temp.sm_before b
WHERE d.rowid = b.row_id
  AND b.row_id IN temp.sm_multi
"""

CHANGED_ROWS = f"""
SELECT b.row_id, {", ".join(f"d.{c}" for c in DEVICE_COLUMNS)},
       b.scopes_json AS old_scopes, b.approved_scopes_json AS old_approved,
       b.tokens_json AS old_tokens
FROM temp.sm_before b JOIN {PAIRED} d ON d.rowid = b.row_id
WHERE {" OR ".join(f"b.{c} IS NOT d.{c}" for c in _LIST_COLUMNS)}
ORDER BY b.row_id
"""


class _Edits:
    """The engine's edits, memoised by (operation, kind of list, the list's text)."""

    def __init__(self, operations: Sequence[Operation]):
        self.operations = operations
        self._done: dict[tuple[int, int, str | None], tuple[str | None, str | None]] = {}

    def result(self, op: int, sorted_list: int, text: str | None) -> tuple[str | None, str | None]:
        key = (op, sorted_list, text)
        found = self._done.get(key)
        if found is None:
            current: ScopeList = None if text is None else json.loads(text)
            # Only the field's kind matters to an edit: sorted token list or device list.
            name = token_field("token") if sorted_list else "scopes"
            value, edit = self.operations[op].edit(name, current)
            found = (
                None if value is None else dump_like(text, value),
                None if edit is None else _edit_text(edit),
            )
            self._done[key] = found
        return found

    def tokens(self, op: int, text: str) -> str:
        """A whole tokens_json with the operation's role's list edited, as the engine writes it."""
        operation = self.operations[op]
        tokens = json.loads(text)
        name = token_field(operation.role)
        value, _ = operation.edit(name, tokens[operation.role].get("scopes"))
        row = {"device_id": "", "tokens_json": text}
        return str(updated_columns(row, {name: value}, as_text=True)["tokens_json"])


@functools.lru_cache(maxsize=1024)
def _edit_text(edit: FieldEdit) -> str:
    return edit.model_dump_json()


@functools.lru_cache(maxsize=1024)
def _edit_of(text: str) -> FieldEdit:
    return FieldEdit.model_validate_json(text)


def _final(before: str | None, after: str | None) -> str | None:
    """A column's text as the engine writes it: the original text when the value
    is back to what it held, else the new value in the original's style."""
    if before == after:
        return before
    old = None if before is None else json.loads(before)
    new = None if after is None else json.loads(after)
    if old == new:
        return before
    return None if new is None else dump_like(before, new)


@dataclass
class SetBasedRun:
    """What a set-based upgrade did, in the engine's terms."""

    provenance: dict[str, list[EditGroup]] = field(default_factory=dict)
    removed_pending: dict[str, list[RemovedPending]] = field(default_factory=dict)
    pending_removed: list[str] = field(default_factory=list)
    changed: int = 0
    devices: list[DevicePlan] = field(default_factory=list)  # only when a report was asked

    def applied(self, steps: Sequence[Migration], applied_at: str) -> dict[str, AppliedRevision]:
        """The ledger entries: provenance grouped per distinct change."""
        return {
            m.revision: AppliedRevision(
                migration=m,
                applied_at=applied_at,
                provenance=self.provenance.get(m.revision, []),
                removed_pending=self.removed_pending.get(m.revision, []),
            )
            for m in steps
        }


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows as dicts, whatever row factory the caller's connection uses."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    return [dict(row) for row in cursor.execute(sql, params).fetchall()]


def check_rows(conn: sqlite3.Connection, store: str) -> None:
    """Refuse, with the row-by-row reader's message, the first row it would refuse;
    list in ``temp.sm_rendered`` the rows whose tokens Python must write.

    Raises ``SetBasedUnavailable`` when the reader accepts a row JSON1 may
    read otherwise, or a text column is not UTF-8 (the reader then decides).
    """
    check = _RowCheck()
    conn.create_function("sm_check", 1 + len(DEVICE_COLUMNS), check)
    try:
        suspect = _rows(conn, _FIRST_SUSPECT)
    except sqlite3.OperationalError:  # a text Python cannot decode
        raise SetBasedUnavailable(f"{store}: a row Python cannot decode") from None
    if suspect:
        device_from_row(store, suspect[0], text_json=True)  # raises today's error
        raise SetBasedUnavailable(f"{store}: a row the set-based path cannot vouch for")
    conn.executemany(
        "INSERT INTO temp.sm_rendered (row_id) VALUES (?)", ((i,) for i in check.rendered)
    )


def _pending(conn: sqlite3.Connection, store: str) -> list[tuple[int, Any]]:
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (PENDING,)
    ).fetchone()
    if has_table is None:
        return []
    rows = _rows(conn, f"SELECT * FROM {PENDING} ORDER BY ts, rowid")
    requests = [pending_from_row(store, row, text_json=True) for row in rows]
    return [(i, r) for i, r in enumerate(requests) if r.is_repair]


class _Repairs:
    """Open repair requests per device, settled per revision as the engine settles them."""

    def __init__(self, conn: sqlite3.Connection, store: str):
        self.conn, self.store = conn, store
        self.by_device: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        repairs = _pending(conn, store)
        wanted = {request.device_id for _, request in repairs}
        roles = {device_id: self._device(device_id) for device_id in wanted}
        for index, request in repairs:
            device = roles.get(request.device_id)
            if device is not None and request.roles <= device.roles:
                self.by_device[request.device_id].append((index, request))
        # Devices in the reader's order, as the engine visits them.
        order = (
            {
                device_id: position
                for position, (device_id,) in enumerate(
                    conn.execute(f"SELECT device_id FROM {PAIRED} ORDER BY rowid")
                )
                if device_id in self.by_device
            }
            if self.by_device
            else {}
        )
        self.by_device = defaultdict(
            list, sorted(self.by_device.items(), key=lambda item: order[item[0]])
        )

    def _device(self, device_id: str) -> Any:
        rows = _rows(
            self.conn,
            f"SELECT {', '.join(DEVICE_COLUMNS)} FROM {PAIRED} WHERE device_id = ?",
            (device_id,),
        )
        return device_from_row(self.store, rows[0], text_json=True) if rows else None

    def _held(self, device_id: str) -> set[str]:
        device = self._device(device_id)
        return set(device.scopes()) if device is not None else set()

    def open(self) -> dict[str, list[tuple[int, Any]]]:
        """Per device, the requests its scopes do not cover now."""
        found = {}
        for device_id, requests in self.by_device.items():
            held = self._held(device_id)
            still = [(i, r) for i, r in requests if not set(r.scopes) <= held]
            if still:
                found[device_id] = still
        return found

    def settle(self, opened: dict[str, list[tuple[int, Any]]]) -> list[RemovedPending]:
        """Remove the requests of ``opened`` that the device's scopes now cover."""
        removed = []
        for device_id, requests in opened.items():
            held = self._held(device_id)
            for index, request in requests:
                if set(request.scopes) <= held:
                    removed.append(
                        RemovedPending(
                            index=index, record=request.raw, request_id=request.request_id
                        )
                    )
                    self.by_device[device_id].remove((index, request))
                    self.conn.execute(
                        f"DELETE FROM {PENDING} WHERE request_id = ?", (request.request_id,)
                    )
        return removed


def _register(conn: sqlite3.Connection, edits: _Edits) -> None:
    functions: list[tuple[str, int, Callable[..., Any]]] = [
        ("sm_tokens", 2, edits.tokens),
        ("sm_final", 2, _final),
    ]
    for name, arity, function in functions:
        conn.create_function(name, arity, function, deterministic=True)


def upgrade_set_based(
    conn: sqlite3.Connection, store: str, steps: Sequence[Migration], *, report: bool = False
) -> SetBasedRun:
    """Apply ``steps`` to the store inside the caller's open transaction.

    Writes the devices and pending requests, not the ledger: the caller records
    ``SetBasedRun`` (``applied``) in the same transaction and commits. Raises
    ``BadStoreError`` (nothing written) as the row-by-row reader would, and
    ``SetBasedUnavailable`` when that reader must decide; the caller then
    rolls back to its savepoint and runs the engine.
    """
    operations = [op for m in steps for op in m.operations]
    for op in operations:
        if not isinstance(op, Grant | Revoke | Rename) or _engine_only(op):
            raise SetBasedUnavailable(f"{store}: {type(op).__name__} runs in the engine only")
    _script(conn, TEMP_TABLES)
    check_rows(conn, store)
    repairs = _Repairs(conn, store)
    edits = _Edits(operations)
    _register(conn, edits)
    run = SetBasedRun()
    # A row edited once is changed (an edit always changes its list); only
    # rows edited by several operations may end where they began.
    keep_before = report or len(operations) > 1
    changes = _Changes()
    index = 0
    for step, migration in enumerate(steps):
        opened = repairs.open()
        changes.step()
        for op in migration.operations:
            assert isinstance(op, Grant | Revoke | Rename)  # checked above
            params = _parameters(op, index) | {"step": step}
            _run_operation(conn, edits, op, params, keep_before, changes)
            index += 1
        removed = repairs.settle(opened)
        if removed:
            run.removed_pending[migration.revision] = removed
            run.pending_removed.extend(r.request_id for r in removed)
    if changes.multi:
        conn.executemany(
            "INSERT INTO temp.sm_multi (row_id) VALUES (?)", ((i,) for i in changes.multi)
        )
        conn.execute(RESTORE_STYLE)
    run.provenance = changes.provenance(steps)
    if not keep_before:
        run.changed = len(changes.edited)
    elif report:
        changed = _rows(conn, CHANGED_ROWS)
        run.devices = [plan for plan in (_plan(store, row) for row in changed) if plan]
        run.changed = len(changed)
    else:
        run.changed = conn.execute(f"SELECT count(*) FROM ({CHANGED_ROWS})").fetchone()[0]
    return run


def _script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one (executescript would commit the open transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


class _ListEdits:
    """One operation's edit of each distinct list text among its rows (a store
    holds few), computed once by the engine's own function: the SQL function
    ``sm_edit(kind, text)`` gives a row's list the id of its edit, or NULL
    where the operation leaves it alone. Kinds: 0 a device's scopes or
    approved scopes, 1 a token's (kept sorted)."""

    def __init__(self, edits: _Edits, op: int):
        self._edits, self._op = edits, op
        self._ids: dict[tuple[int, str | None], int | None] = {}
        self.new: list[str | None] = []  # by id: the list's new text (None: absent)
        self.edit: list[str] = []  # by id: the edit, as JSON

    def __call__(self, kind: int, text: str | None) -> int | None:
        key = (kind, text)
        if key in self._ids:
            return self._ids[key]
        new, edit = self._edits.result(self._op, kind, text)
        found = None
        if edit is not None:
            found = len(self.new)
            self.new.append(new)
            self.edit.append(edit)
        self._ids[key] = found
        return found


def _run_operation(
    conn: sqlite3.Connection,
    edits: _Edits,
    op: Grant | Revoke | Rename,
    params: dict[str, Any],
    keep_before: bool,
    changes: _Changes,
) -> None:
    lists = _ListEdits(edits, params["op"])
    conn.create_function("sm_edit", 2, lists, deterministic=True)
    conn.execute("DELETE FROM temp.sm_changed")
    conn.execute(select_changes(op), params)
    conn.execute(UNCHANGED)
    conn.execute("DELETE FROM temp.sm_map")
    conn.executemany("INSERT INTO temp.sm_map (id, new) VALUES (?, ?)", enumerate(lists.new))
    if keep_before:
        conn.execute(SAVE_BEFORE)
    conn.execute(APPLY_CHANGES, {"op": params["op"], "role": op.role})
    changes.add(conn.execute(CHANGES), dict(enumerate(lists.edit)), token_field(op.role))


# One row's edits in a step, in the engine's order (by operation, then by
# list within it): (field, the edit as JSON) pairs.
_Pairs = tuple[tuple[str, str], ...]
# A change as grouped: per field, the edits' texts in order.
_ChangeKey = tuple[tuple[str, tuple[str, ...]], ...]


class _Changes:
    """Each step's changed rows and their edits, grouped as the engine groups them.

    Each operation's changed rows are read once, in order, as map ids; a
    store holds few distinct edits, so a row costs two dict lookups (where
    gathering each row's edits into a text in SQL was a sixth of the run at
    100k devices).
    """

    def __init__(self) -> None:
        self._steps: list[dict[int, list[Any]]] = []  # per step: row id -> [device id, pairs]
        self._sorted: list[bool] = []  # whether a step's rows were added in order
        self.edited: set[int] = set()
        self.multi: set[int] = set()  # rows edited by more than one operation

    def step(self) -> None:
        self._steps.append({})
        self._sorted.append(True)

    def add(self, rows: Iterable[tuple[Any, ...]], edit_of: dict[int, str], token: str) -> None:
        """One operation's changed rows: (row id, device id, map ids of its lists' edits)."""
        names = (SCOPES, APPROVED_SCOPES, token)
        pairs_of: dict[tuple[Any, ...], _Pairs] = {}
        step, edited, multi = self._steps[-1], self.edited, self.multi
        in_order = not step
        for row_id, device_id, *ids in rows:
            key = tuple(ids)
            pairs = pairs_of.get(key)
            if pairs is None:
                pairs = pairs_of[key] = tuple(
                    (name, edit_of[i]) for name, i in zip(names, ids, strict=True) if i is not None
                )
            found = step.get(row_id)
            if found is None:
                step[row_id] = [device_id, pairs]
            else:
                found[1] += pairs
            if row_id in edited:
                multi.add(row_id)
            else:
                edited.add(row_id)
        if not in_order:
            self._sorted[-1] = False

    def provenance(self, steps: Sequence[Migration]) -> dict[str, list[EditGroup]]:
        """Each step's provenance: per distinct change, its devices in the reader's order."""
        changes: dict[_Pairs, tuple[_ChangeKey, dict[str, list[FieldEdit]]]] = {}
        built = {}
        for migration, rows, in_order in zip(steps, self._steps, self._sorted, strict=True):
            groups: dict[_ChangeKey, tuple[dict[str, list[FieldEdit]], list[str]]] = {}
            for row_id in rows if in_order else sorted(rows):
                device_id, pairs = rows[row_id]
                found = changes.get(pairs)
                if found is None:
                    found = changes[pairs] = _change_of(pairs)
                group = groups.get(found[0])
                if group is None:
                    groups[found[0]] = (found[1], [device_id])
                else:
                    group[1].append(device_id)
            builder = ProvenanceBuilder()
            for change, device_ids in groups.values():
                builder.add_devices(device_ids, change)
            if len(builder):
                built[migration.revision] = builder.build()
        return built


def _change_of(pairs: _Pairs) -> tuple[_ChangeKey, dict[str, list[FieldEdit]]]:
    """One row's edits grouped per field, in the engine's order."""
    texts: dict[str, list[str]] = {}
    for name, edit in pairs:
        texts.setdefault(name, []).append(edit)
    key = tuple((name, tuple(edits)) for name, edits in texts.items())
    return key, {name: [_edit_of(edit) for edit in edits] for name, edits in texts.items()}


def _plan(store: str, after: dict[str, Any]) -> DevicePlan | None:
    before = after | {
        "scopes_json": after["old_scopes"],
        "approved_scopes_json": after["old_approved"],
        "tokens_json": after["old_tokens"],
    }
    old = device_from_row(store, before, text_json=True)
    return net_plan(device_from_row(store, after, text_json=True), old.fields)


def _engine_only(op: Grant | Revoke | Rename) -> bool:
    """Filters and revokes this SQL does not express (the chain's patterns, role
    prefix, lists and holding_in): such a run goes through the engine."""
    pattern = isinstance(op, Revoke) and (bool(op.prefixes) or op.outside_role)
    narrowed = op.holding_in != ("scopes",) or op.lists != ALL_LISTS
    return pattern or narrowed or bool(op.unless_roles) or bool(op.if_missing)
