"""OpenClaw's JSON store, along its seams: ``records`` (decode, check, edit, write),
``splice`` (byte-splicing edited lists into ``JSON.stringify`` output) and
``store`` (the journaled commit, the gateway race, backups, the store)."""

from scopemigrate.stores.openclaw_json.records import dump_openclaw_json
from scopemigrate.stores.openclaw_json.store import OpenClawJsonStore

__all__ = ["OpenClawJsonStore", "dump_openclaw_json"]
