"""OpenClaw's JSON store, along its seams: ``records`` (decode, check, edit, write),
``splice`` (byte-splicing edited lists into ``JSON.stringify`` output), ``journal``
(one commit over several files, crash-safe), ``gateway`` (rebase onto a gateway's
writes, settle its stale write-backs, adopt its newcomers) and ``store`` (lock,
read, commit, backups)."""

from scopemigrate.stores.openclaw_json.records import dump_openclaw_json
from scopemigrate.stores.openclaw_json.store import OpenClawJsonStore

__all__ = ["OpenClawJsonStore", "dump_openclaw_json"]
