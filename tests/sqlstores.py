"""Building SQLite and PostgreSQL stores from JSON example stores, and reading any store
back into one canonical view (independently of the adapters under test)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SQLITE_SCHEMA = Path(__file__).parent / "fixtures" / "openclaw-sqlite-schema.sql"
POSTGRES_SCHEMA = ROOT / "examples" / "postgres" / "schema.sql"

PAIRED_COLUMNS = {
    "deviceId": "device_id",
    "publicKey": "public_key",
    "displayName": "display_name",
    "platform": "platform",
    "deviceFamily": "device_family",
    "clientId": "client_id",
    "clientMode": "client_mode",
    "role": "role",
    "roles": "roles_json",
    "scopes": "scopes_json",
    "approvedScopes": "approved_scopes_json",
    "remoteIp": "remote_ip",
    "tokens": "tokens_json",
    "createdAtMs": "created_at_ms",
    "approvedAtMs": "approved_at_ms",
}
PENDING_COLUMNS = {
    "requestId": "request_id",
    "deviceId": "device_id",
    "publicKey": "public_key",
    "displayName": "display_name",
    "platform": "platform",
    "clientId": "client_id",
    "clientMode": "client_mode",
    "role": "role",
    "roles": "roles_json",
    "scopes": "scopes_json",
    "remoteIp": "remote_ip",
    "silent": "silent",
    "isRepair": "is_repair",
    "ts": "ts",
}
JSON_COLUMNS = {"roles_json", "scopes_json", "approved_scopes_json", "tokens_json"}


def rows_from_json(state_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """paired.json and pending.json as table rows (fields no table has are dropped)."""
    devices = state_dir / "devices"
    paired = json.loads((devices / "paired.json").read_text(encoding="utf-8"))
    pending_path = devices / "pending.json"
    pending = json.loads(pending_path.read_text(encoding="utf-8")) if pending_path.exists() else {}

    def row(record: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
        out = {}
        for key, column in columns.items():
            if key in record:
                value = record[key]
                out[column] = int(value) if isinstance(value, bool) else value
        return out

    return (
        [row(r, PAIRED_COLUMNS) for r in paired.values()],
        [row(r, PENDING_COLUMNS) for r in pending.values()],
    )


def make_sqlite(state_dir: Path, source: Path) -> Path:
    """An OpenClaw SQLite state dir holding ``source``'s devices; JSON files retired."""
    database = state_dir / "state" / "openclaw.sqlite"
    database.parent.mkdir(parents=True)
    paired, pending = rows_from_json(source)
    conn = sqlite3.connect(database)
    conn.executescript(SQLITE_SCHEMA.read_text())
    for table, rows in (("device_pairing_paired", paired), ("device_pairing_pending", pending)):
        for row in rows:
            values = [json.dumps(v) if k in JSON_COLUMNS else v for k, v in row.items()]
            conn.execute(
                f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                values,
            )
    conn.commit()
    conn.close()
    retired = state_dir / "devices"
    retired.mkdir()
    (retired / "paired.json.migrated").write_bytes(
        (source / "devices" / "paired.json").read_bytes()
    )
    return state_dir


def load_postgres(url: str, source: Path) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    paired, pending = rows_from_json(source)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(POSTGRES_SCHEMA.read_text())
        for table, rows in (("device_pairing_paired", paired), ("device_pairing_pending", pending)):
            for row in rows:
                values = [Jsonb(v) if k in JSON_COLUMNS else v for k, v in row.items()]
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(row)}) "
                    f"VALUES ({', '.join('%s' for _ in row)})",
                    values,
                )


def _view_of_rows(rows: list[dict[str, Any]], text_json: bool) -> dict[str, dict[str, Any]]:
    view = {}
    for row in rows:
        decoded = {
            k: (json.loads(v) if text_json and isinstance(v, str) and k in JSON_COLUMNS else v)
            for k, v in row.items()
        }
        view[decoded["device_id"]] = {
            "scopes": decoded.get("scopes_json"),
            "approvedScopes": decoded.get("approved_scopes_json"),
            "tokens": {
                role: (token.get("scopes"), token.get("token"), token.get("lastUsedAtMs"))
                for role, token in (decoded.get("tokens_json") or {}).items()
            },
        }
    return view


def view(kind: str, spec: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Devices (scope lists, token values and stamps) and pending request ids of a store."""
    if kind == "json":
        devices = Path(spec) / "devices"
        paired = json.loads((devices / "paired.json").read_text(encoding="utf-8"))
        pending = json.loads((devices / "pending.json").read_text(encoding="utf-8"))
        rows = [
            {PAIRED_COLUMNS[k]: v for k, v in record.items() if k in PAIRED_COLUMNS}
            for record in paired.values()
        ]
        return _view_of_rows(rows, text_json=False), sorted(pending)
    if kind == "sqlite":
        conn = sqlite3.connect(Path(spec) / "state" / "openclaw.sqlite")
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM device_pairing_paired")]
        pending_ids = sorted(
            r[0] for r in conn.execute("SELECT request_id FROM device_pairing_pending")
        )
        conn.close()
        return _view_of_rows(rows, text_json=True), pending_ids
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(spec, row_factory=dict_row) as conn:
        rows = list(conn.execute("SELECT * FROM device_pairing_paired").fetchall())
        pending_rows = conn.execute("SELECT request_id FROM device_pairing_pending").fetchall()
    return _view_of_rows(rows, text_json=False), sorted(r["request_id"] for r in pending_rows)
