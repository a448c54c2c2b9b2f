"""Set-based runs for PostgreSQL: the engine's operations compiled to SQL.

A fleet registry can hold millions of devices; shipping every row through
Python and back would make a run cost far more than the data it changes. Here
each operation of each revision is one ``UPDATE`` over the matching rows, its
edits recorded by the same statement in a provenance table; a downgrade is
one statement per revision over that table. The edit functions live in
``pg_temp`` for the run's session only, and mirror ``operations.py``
exactly: same order of scopes, same sorted token lists, same undo. A
hypothesis test checks that both give the same store.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from scopemigrate.operations import Ensure, Grant, ListName, Rename, Revoke
from scopemigrate.stores.layout import (
    PAIRED_TABLE,
    PENDING_TABLE,
    PROVENANCE_TABLE,
    REMOVED_PENDING_TABLE,
)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {PROVENANCE_TABLE} (
  revision text NOT NULL,
  device_id text NOT NULL,
  op integer NOT NULL,
  field text NOT NULL,
  edit jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS {REMOVED_PENDING_TABLE} (
  revision text NOT NULL,
  request_id text NOT NULL,
  record jsonb NOT NULL,
  PRIMARY KEY (revision, request_id)
);
"""

# The PL/pgSQL functions, a package resource so that editors and SQL tools see
# them (and the wheel carries them beside this module).
FUNCTIONS = (resources.files("scopemigrate.stores") / "postgres_setbased.sql").read_text(
    encoding="utf-8"
)

HELD = "coalesce(d.scopes_json, '[]'::jsonb)"
# The engine's device lists -> their columns in a filter.
LIST_COLUMN = {"scopes": "d.scopes_json", "approvedScopes": "d.approved_scopes_json"}
Op = Grant | Revoke | Rename | Ensure


def _held(op: Op) -> str:
    """The scopes the filters look in (``holding_in``), as one jsonb array."""
    if op.holding_in == ("scopes",):
        return HELD
    lists = " || ".join(
        f"coalesce(nullif({LIST_COLUMN[name]}, 'null'::jsonb), '[]'::jsonb)"
        for name in op.holding_in
    )
    return f"({lists})"


def operation_filter(op: Op) -> tuple[str, dict[str, Any]]:
    """The WHERE clause selecting the rows ``op.matches`` would select, and its params."""
    clauses = ["pg_temp.sm_roles(d.role, d.roles_json) ? %(role)s"]
    params: dict[str, Any] = {"role": op.role}
    held = _held(op)
    for name, values, clause in (
        (
            "unless_roles",
            op.unless_roles,
            "NOT (pg_temp.sm_roles(d.role, d.roles_json) ?| %(unless_roles)s)",
        ),
        ("client_ids", op.client_ids, "d.client_id = ANY (%(client_ids)s)"),
        ("client_modes", op.client_modes, "d.client_mode = ANY (%(client_modes)s)"),
        ("if_any", op.if_any, f"{held} ?| %(if_any)s"),
        ("if_all", op.if_all, f"{held} ?& %(if_all)s"),
        ("if_none", op.if_none, f"NOT ({held} ?| %(if_none)s)"),
    ):
        if values:
            clauses.append(clause)
            params[name] = list(values)
    for name in op.if_missing:  # no parameter: the list names are ours, not input
        column = LIST_COLUMN[name]
        clauses.append(f"({column} IS NULL OR jsonb_typeof({column}) = 'null')")
    return " AND ".join(clauses), params


def edit_call(op: Op, column: str, sorted_list: bool, name: ListName) -> str:
    """The function call that edits one scope list (a jsonb expression) for ``op``;
    its parameters are ``edit_params(op)``. A list ``op`` does not edit comes
    back as it is, with no edit."""
    flag = "true" if sorted_list else "false"
    if name not in op.lists:
        return f"jsonb_build_object('v', {column}, 'e', NULL)"
    if isinstance(op, Ensure):
        return f"pg_temp.sm_ensure({column})"
    if isinstance(op, Grant):
        return f"pg_temp.sm_grant({column}, %(scopes)s::text[], {flag})"
    if isinstance(op, Revoke):
        return (
            f"pg_temp.sm_revoke({column}, %(scopes)s::text[], {flag}, "
            "%(prefixes)s::text[], %(kept)s::text)"
        )
    return f"pg_temp.sm_rename({column}, %(old)s, %(new)s, {flag})"


def edit_params(op: Op) -> dict[str, Any]:
    if isinstance(op, Rename):
        return {"old": op.old, "new": op.new}
    if isinstance(op, Revoke):
        # Revoke.revokes: exact names, pattern prefixes, the role's own prefix.
        return {"scopes": sorted(op.exact), "prefixes": list(op.prefixes), "kept": op.kept_prefix}
    if isinstance(op, Ensure):
        return {}
    return {"scopes": list(op.scopes)}


def operation_statement(
    revision: str, index: int, op: Op, first: bool, keep_before: bool
) -> tuple[str, dict[str, Any]]:
    """One statement: edit every matching row and record each edit's provenance.

    ``keep_before``: save each changed row's old lists in ``sm_before`` (for
    the report, or to count devices across several statements); without it
    the statement returns one row, ``changed``, its devices. ``first``:
    the run's first statement saving them, into the empty unindexed table
    without a conflict check.
    """
    where, params = operation_filter(op)
    # Each list's edit depends on nothing but the list, and a registry holds
    # few distinct lists: each function runs once per distinct value (``k``),
    # and every row joins its value's result. The key is the list, SQL NULL
    # and JSON null as '{}' (no list passes the row check as an object); a
    # NULL key (no approvedScopes for an edit to apply to, no such token)
    # joins nothing, which is "no edit".
    absent = "nullif(x.k, '{}'::jsonb)"
    scopes_call = edit_call(op, absent, False, "scopes")
    approved_call = edit_call(op, absent, False, "approvedScopes")
    token_call = edit_call(op, absent, True, "token")
    # An ensure creates approvedScopes; every other kind edits it only where it is.
    approved_present = (
        "true"
        if isinstance(op, Ensure)
        else "d.approved_scopes_json IS NOT NULL AND jsonb_typeof(d.approved_scopes_json) <> 'null'"
    )
    token_exists = "jsonb_typeof(d.tokens_json -> %(role)s) = 'object'"
    old_lists = (
        "d.scopes_json AS old_s, d.approved_scopes_json AS old_a, d.tokens_json AS old_t,"
        if keep_before
        else ""
    )
    old_carried = "c.old_s, c.old_a, c.old_t," if keep_before else ""
    saved = (
        f"""
, saved AS (
  INSERT INTO pg_temp.sm_before (device_id, scopes_json, approved_scopes_json, tokens_json)
  SELECT device_id, old_s, old_a, old_t FROM changed
  {"" if first else "ON CONFLICT (device_id) DO NOTHING"}
)"""
        if keep_before
        else ""
    )
    recorded = f"""INSERT INTO {PROVENANCE_TABLE} (revision, device_id, op, field, edit)
SELECT %(revision)s, device_id, %(op)s, 'scopes', es FROM upd WHERE es <> 'null'::jsonb
UNION ALL
SELECT %(revision)s, device_id, %(op)s, 'approvedScopes', ea FROM upd
WHERE coalesce(ea, 'null'::jsonb) <> 'null'::jsonb
UNION ALL
SELECT %(revision)s, device_id, %(op)s, %(token_field)s, et FROM upd
WHERE coalesce(et, 'null'::jsonb) <> 'null'::jsonb
"""
    if keep_before:
        recorded = f"\n{recorded}"
    else:
        # A run of this one statement: its devices are the rows it changed,
        # counted here rather than by a second scan of the provenance.
        recorded = f", recorded AS (\n{recorded})\nSELECT count(*) AS changed FROM upd\n"
    # The matching rows are read once, with their ctid for the UPDATE (which
    # then needs no index lookup) and their lists' keys.
    sql = f"""
WITH cand AS MATERIALIZED (
  SELECT d.ctid AS row_id, d.device_id, {old_lists}
    coalesce(d.scopes_json, '{{}}'::jsonb) AS ks,
    CASE WHEN {approved_present} THEN coalesce(d.approved_scopes_json, '{{}}'::jsonb) END AS ka,
    CASE WHEN {token_exists}
         THEN coalesce(d.tokens_json -> %(role)s -> 'scopes', '{{}}'::jsonb) END AS kt
  FROM {PAIRED_TABLE} d
  WHERE {where}
), es AS MATERIALIZED (
  SELECT x.k, {scopes_call} AS r FROM (SELECT DISTINCT ks AS k FROM cand) x
), ea AS MATERIALIZED (
  SELECT x.k, {approved_call} AS r FROM (SELECT DISTINCT ka AS k FROM cand) x
  WHERE x.k IS NOT NULL
), et AS MATERIALIZED (
  SELECT x.k, {token_call} AS r FROM (SELECT DISTINCT kt AS k FROM cand) x
  WHERE x.k IS NOT NULL
), changed AS MATERIALIZED (
  SELECT c.row_id, c.device_id, {old_carried} s.r AS s, a.r AS a, t.r AS t
  FROM cand c JOIN es s ON s.k = c.ks
    LEFT JOIN ea a ON a.k = c.ka LEFT JOIN et t ON t.k = c.kt
  WHERE s.r -> 'e' <> 'null'::jsonb
     OR coalesce(a.r -> 'e', 'null'::jsonb) <> 'null'::jsonb
     OR coalesce(t.r -> 'e', 'null'::jsonb) <> 'null'::jsonb
){saved}, upd AS (
  UPDATE {PAIRED_TABLE} d SET
    scopes_json = CASE WHEN c.s -> 'e' <> 'null'::jsonb
                       THEN nullif(c.s -> 'v', 'null'::jsonb) ELSE d.scopes_json END,
    approved_scopes_json = CASE WHEN coalesce(c.a -> 'e', 'null'::jsonb) <> 'null'::jsonb
                       THEN nullif(c.a -> 'v', 'null'::jsonb) ELSE d.approved_scopes_json END,
    tokens_json = CASE WHEN coalesce(c.t -> 'e', 'null'::jsonb) = 'null'::jsonb THEN d.tokens_json
                       WHEN c.t -> 'v' = 'null'::jsonb
                       THEN d.tokens_json #- ARRAY[%(role)s, 'scopes']
                       ELSE jsonb_set(d.tokens_json, ARRAY[%(role)s, 'scopes'], c.t -> 'v') END
  FROM changed c WHERE d.ctid = c.row_id
  RETURNING d.device_id, c.s -> 'e' AS es, c.a -> 'e' AS ea, c.t -> 'e' AS et
){recorded}"""
    params |= edit_params(op) | {
        "revision": revision,
        "op": index,
        "token_field": f"tokens.{op.role}",
    }
    return sql, params


# Pending repair requests, per revision as the engine decides them: those a
# device's scopes did not cover before the revision and do after it.
OPEN_REPAIRS = f"""
CREATE TEMP TABLE IF NOT EXISTS sm_open (request_id text PRIMARY KEY);
TRUNCATE sm_open;
INSERT INTO sm_open
SELECT p.request_id FROM {PENDING_TABLE} p JOIN {PAIRED_TABLE} d USING (device_id)
WHERE coalesce(p.is_repair, 0) <> 0
  AND pg_temp.sm_roles(p.role, p.roles_json) <@ pg_temp.sm_roles(d.role, d.roles_json)
  AND NOT (coalesce(p.scopes_json, '[]'::jsonb) <@ coalesce(d.scopes_json, '[]'::jsonb));
"""

REMOVE_SATISFIED = f"""
WITH gone AS (
  DELETE FROM {PENDING_TABLE} p USING sm_open o, {PAIRED_TABLE} d
  WHERE p.request_id = o.request_id AND d.device_id = p.device_id
    AND coalesce(p.scopes_json, '[]'::jsonb) <@ coalesce(d.scopes_json, '[]'::jsonb)
  RETURNING p.*
)
INSERT INTO {REMOVED_PENDING_TABLE} (revision, request_id, record)
SELECT %s, g.request_id, to_jsonb(g) FROM gone g
"""

# Undo one revision: every field it edited, its edits in reverse order.
REVISION_EDITS = """
CREATE TEMP TABLE IF NOT EXISTS sm_edits (device_id text, field text, edits jsonb);
TRUNCATE sm_edits;
"""
COLLECT_EDITS = f"""
INSERT INTO pg_temp.sm_edits
SELECT device_id, field, jsonb_agg(edit ORDER BY op DESC)
FROM {PROVENANCE_TABLE} WHERE revision = %s GROUP BY device_id, field
"""


def undo_revision(first: bool) -> str:
    """Undo one revision from pg_temp.sm_edits (``first``: as in operation_statement)."""
    return f"""
WITH per_device AS (
  SELECT device_id,
    (array_agg(edits) FILTER (WHERE field = 'scopes'))[1] AS s,
    (array_agg(edits) FILTER (WHERE field = 'approvedScopes'))[1] AS a,
    jsonb_object_agg(substr(field, 8), edits) FILTER (WHERE field LIKE 'tokens.%') AS t
  FROM pg_temp.sm_edits GROUP BY device_id
), saved AS (
  INSERT INTO pg_temp.sm_before (device_id, scopes_json, approved_scopes_json, tokens_json)
  SELECT d.device_id, d.scopes_json, d.approved_scopes_json, d.tokens_json
  FROM {PAIRED_TABLE} d JOIN per_device p USING (device_id)
  {"" if first else "ON CONFLICT (device_id) DO NOTHING"}
)
UPDATE {PAIRED_TABLE} d SET
  scopes_json = CASE WHEN p.s IS NULL THEN d.scopes_json
                     ELSE pg_temp.sm_undo_all(d.scopes_json, p.s) END,
  approved_scopes_json = CASE WHEN p.a IS NULL THEN d.approved_scopes_json
                     ELSE pg_temp.sm_undo_all(d.approved_scopes_json, p.a) END,
  tokens_json = CASE WHEN p.t IS NULL THEN d.tokens_json
                     ELSE pg_temp.sm_undo_tokens(d.tokens_json, p.t) END
FROM per_device p WHERE d.device_id = p.device_id
"""


FORGET_REVISION = (
    f"DELETE FROM {PROVENANCE_TABLE} WHERE revision = %s",
    f"DELETE FROM {REMOVED_PENDING_TABLE} WHERE revision = %s",
)

COUNT_REMOVED_PENDING = (
    f"SELECT count(*) AS removed FROM {REMOVED_PENDING_TABLE} WHERE revision = %s"
)

RESTORE_PENDING = f"""
INSERT INTO {PENDING_TABLE}
SELECT (jsonb_populate_record(NULL::{PENDING_TABLE}, record)).* FROM {REMOVED_PENDING_TABLE}
WHERE revision = %s
ON CONFLICT DO NOTHING
"""

# Each changed row's lists as they were before the run, for the report. Left
# unindexed for the run's first statement (most runs have one): filling a
# unique index row by row cost more than the UPDATE; later statements need
# one to skip rows already saved, so it is built then, in one sort.
BEFORE_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS sm_before (
  device_id text, scopes_json jsonb, approved_scopes_json jsonb, tokens_json jsonb
);
TRUNCATE pg_temp.sm_before;
"""
BEFORE_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS sm_before_device ON pg_temp.sm_before (device_id)"

# What changed, for the run's report: only the devices the run touched, with
# the label the engine gives a device (display name, client id, id prefix).
CHANGED_DEVICES = f"""
SELECT d.device_id,
       coalesce(nullif(d.display_name, ''), nullif(d.client_id, ''), left(d.device_id, 12)),
       b.scopes_json, d.scopes_json,
       b.approved_scopes_json, d.approved_scopes_json,
       b.tokens_json, d.tokens_json
FROM pg_temp.sm_before b JOIN {PAIRED_TABLE} d USING (device_id)
ORDER BY d.device_id
"""

# How many devices the run changed, when no report is wanted: the rows whose
# lists differ from what they held before (JSON null counts as absent).
COUNT_CHANGED = f"""
SELECT count(*) AS changed FROM pg_temp.sm_before b JOIN {PAIRED_TABLE} d USING (device_id)
WHERE nullif(b.scopes_json, 'null') IS DISTINCT FROM nullif(d.scopes_json, 'null')
   OR nullif(b.approved_scopes_json, 'null') IS DISTINCT FROM nullif(d.approved_scopes_json, 'null')
   OR nullif(b.tokens_json, 'null') IS DISTINCT FROM nullif(d.tokens_json, 'null')
"""

# The first row that ``read`` would refuse, with the problem in its words.
# jsonpath rather than subqueries over jsonb_array_elements: the check runs on
# every row of the registry, and a subquery per row starts the executor each
# time. (In lax mode a missing key is no error, and type() does not unwrap.)
# The bad rows are gathered by one sequential scan (a materialized CTE, most
# often empty) before they are ordered: left to itself the planner expects
# most rows to be bad and walks the primary key in order to the first, which
# on a registry with none reads every row at random (1M devices, same
# minutes: 13.6 and 16.6 s that way, 6.1 and 6.3 s this way).
_NOT_ALL_STRINGS = "jsonb_path_exists({}, 'lax $[*].type() ? (@ != \"string\")')"
FIRST_BAD_ROW = f"""
WITH bad AS MATERIALIZED (
 SELECT * FROM (
  SELECT device_id,
    CASE
      WHEN scopes_json IS NOT NULL AND jsonb_typeof(scopes_json) NOT IN ('array', 'null')
        THEN 'scopes_json: expected a JSON list of strings'
      WHEN jsonb_typeof(scopes_json) = 'array' AND {_NOT_ALL_STRINGS.format("scopes_json")}
        THEN 'scopes_json: expected a JSON list of strings'
      WHEN approved_scopes_json IS NOT NULL
           AND jsonb_typeof(approved_scopes_json) NOT IN ('array', 'null')
        THEN 'approved_scopes_json: expected a JSON list of strings'
      WHEN jsonb_typeof(approved_scopes_json) = 'array'
           AND {_NOT_ALL_STRINGS.format("approved_scopes_json")}
        THEN 'approved_scopes_json: expected a JSON list of strings'
      WHEN roles_json IS NOT NULL AND jsonb_typeof(roles_json) NOT IN ('array', 'null')
        THEN 'roles_json: expected a JSON list of strings'
      WHEN tokens_json IS NOT NULL AND jsonb_typeof(tokens_json) NOT IN ('object', 'null')
        THEN 'tokens_json: expected a JSON object keyed by role'
      WHEN jsonb_typeof(tokens_json) = 'object' AND (
           jsonb_path_exists(tokens_json, 'lax $.*.type() ? (@ != "object")')
        OR jsonb_path_exists(tokens_json,
             'lax $.*.scopes.type() ? (@ != "array" && @ != "null")')
        OR jsonb_path_exists(tokens_json, 'lax $.*.scopes[*].type() ? (@ != "string")'))
        THEN 'tokens_json: a token is not an object with a list of string scopes'
    END AS problem
  FROM {PAIRED_TABLE}
 ) checked WHERE problem IS NOT NULL
)
SELECT device_id, problem FROM bad ORDER BY device_id LIMIT 1
"""
