"""PostgreSQL's set-based runs give exactly what the engine gives, row by row.

For generated registries and chains, one schema is migrated by the engine in
Python (rows read, edited, written back) and an identical one by the SQL the
operations compile to; both must end identical after the upgrade, and both
must come back to the original after the downgrade.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlstores import POSTGRES_SCHEMA

from scopemigrate import engine
from scopemigrate.ledger import Ledger
from scopemigrate.migration import Migration
from scopemigrate.operations import Grant, Rename, Revoke
from scopemigrate.stores.base import InPlaceApply, InPlaceResult, InPlaceUndo
from scopemigrate.stores.postgres import PostgresStore

SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.x", "node.exec", "a.b"]
ROLES = ["operator", "node"]
scope_lists = st.lists(st.sampled_from(SCOPES), max_size=5)


@st.composite
def devices(draw: st.DrawFn, index: int) -> dict[str, Any]:
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True))
    tokens = {}
    for role in draw(st.lists(st.sampled_from(roles), unique=True)):
        token: dict[str, Any] = {"token": f"secret-{index}-{role}", "role": role}
        listed = draw(st.one_of(st.none(), scope_lists))
        if listed is not None:
            token["scopes"] = sorted(listed) if draw(st.booleans()) else listed
        tokens[role] = token
    return {
        "device_id": f"d{index:03d}",
        "public_key": "pk",
        "client_id": draw(st.sampled_from(["cli", "ui", None])),
        "role": draw(st.sampled_from([*roles, None])),
        "roles_json": roles,
        "scopes_json": draw(st.one_of(st.none(), scope_lists)),
        "approved_scopes_json": draw(st.one_of(st.none(), scope_lists)),
        "tokens_json": tokens,
        "created_at_ms": 1,
        "approved_at_ms": 1,
    }


@st.composite
def operations(draw: st.DrawFn) -> Grant | Revoke | Rename:
    filters: dict[str, Any] = {"role": draw(st.sampled_from(ROLES))}
    for name in ("if_any", "if_all", "if_none"):
        if draw(st.integers(0, 3)) == 0:
            filters[name] = tuple(draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2)))
    if draw(st.integers(0, 4)) == 0:
        filters["client_ids"] = ("cli",)
    kind = draw(st.sampled_from(["grant", "revoke", "rename"]))
    if kind == "rename":
        old, new = draw(st.lists(st.sampled_from(SCOPES), min_size=2, max_size=2, unique=True))
        return Rename(old=old, new=new, **filters)
    chosen = tuple(draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=3)))
    return (Grant if kind == "grant" else Revoke)(scopes=chosen, **filters)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Migration]]:
    rows = [draw(devices(i)) for i in range(draw(st.integers(1, 6)))]
    pending = [
        {
            "request_id": f"r{i}",
            "device_id": draw(st.sampled_from([r["device_id"] for r in rows])),
            "public_key": "pk",
            "role": "operator",
            "roles_json": ["operator"],
            "scopes_json": draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2)),
            "is_repair": draw(st.sampled_from([0, 1])),
            "ts": i,
        }
        for i in range(draw(st.integers(0, 3)))
    ]
    chain: list[Migration] = []
    for step in range(draw(st.integers(1, 3))):
        chain.append(
            Migration(
                revision=f"rev{step}",
                down_revision=(f"rev{step - 1}",) if step else (),
                release=f"2026.3.{step + 1}",
                operations=tuple(draw(st.lists(operations(), min_size=1, max_size=3))),
            )
        )
    return rows, pending, chain


def schema_url(url: str, schema: str) -> str:
    return f"{url}&options={quote(f'-csearch_path={schema}')}"


def load(url: str, schema: str, rows: list[dict[str, Any]], pending: list[dict[str, Any]]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path = {schema}")
        conn.execute(POSTGRES_SCHEMA.read_text())
        for table, items in (("device_pairing_paired", rows), ("device_pairing_pending", pending)):
            for item in items:
                values = [Jsonb(v) if isinstance(v, list | dict) else v for v in item.values()]
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(item)}) "
                    f"VALUES ({', '.join('%s' for _ in item)})",
                    values,
                )


def state(url: str) -> tuple[list[Any], list[str]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        paired = conn.execute(
            "SELECT device_id, scopes_json, approved_scopes_json, tokens_json "
            "FROM device_pairing_paired ORDER BY device_id"
        ).fetchall()
        pending = conn.execute(
            "SELECT request_id FROM device_pairing_pending ORDER BY request_id"
        ).fetchall()
    return json.loads(json.dumps(paired)), [p["request_id"] for p in pending]


def by_rows(store: PostgresStore, chain: list[Migration]) -> tuple[list[Any], list[Any]]:
    """The engine's way: read every row, edit in Python, write the changed ones back.
    Returns the applied entries and the run's report."""
    with store.lock(10):
        snapshot = store.read()
        outcome = engine.upgrade(chain, snapshot.devices, snapshot.pending, "now")
        store.commit(snapshot, outcome.changes, Ledger())
    return list(outcome.applied.values()), outcome.devices


def undo_by_rows(store: PostgresStore, applied: list[Any]) -> list[Any]:
    with store.lock(10):
        snapshot = store.read()
        outcome = engine.downgrade(list(reversed(applied)), snapshot.devices, snapshot.pending)
        store.commit(snapshot, outcome.changes, Ledger())
    return outcome.devices


def report(plans: list[Any]) -> list[Any]:
    return sorted(plans, key=lambda plan: plan.device_id)


def keep(_result: InPlaceResult) -> Ledger:
    return Ledger()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_set_based_sql_equals_the_engine(pg_url: str, scenario: Any) -> None:
    rows, pending, chain = scenario
    python_url, sql_url = schema_url(pg_url, "by_rows"), schema_url(pg_url, "by_sql")
    load(pg_url, "by_rows", rows, pending)
    load(pg_url, "by_sql", rows, pending)
    original = state(sql_url)

    applied, planned = by_rows(PostgresStore(python_url), chain)
    sql_store = PostgresStore(sql_url)
    with sql_store.lock(10):
        done = sql_store.run_in_place(InPlaceApply(chain), keep)
    assert state(sql_url) == state(python_url)
    assert report(done.devices) == report(planned)

    undone = undo_by_rows(PostgresStore(python_url), applied)
    with sql_store.lock(10):
        done = sql_store.run_in_place(InPlaceUndo([m.revision for m in reversed(chain)]), keep)
    assert state(sql_url) == state(python_url) == original
    assert report(done.devices) == report(undone)
