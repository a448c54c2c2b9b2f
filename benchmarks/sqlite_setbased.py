"""SQLite: the set-based upgrade against one hand-written UPDATE and the row-by-row way.

Each way runs in its own child on a fresh copy of a synthetic store (the
shipped 2026.2.19 grant), interpreter start and imports included, as a
command would; the best of ``--rounds`` counts.

Usage: python benchmarks/sqlite_setbased.py --sizes 10000,100000 [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic
from scale import SQLITE_UPDATE, best

_GRANT = """
from scopemigrate.migration import Migration
from scopemigrate.operations import Grant
grant = Grant(role="operator", scopes=("operator.read", "operator.write"),
              if_any=("operator.admin",))
chain = [Migration(revision="r", release="2026.2.19", operations=(grant,))]
"""

WAYS = {
    "update": "import sqlite3, sys\nconn = sqlite3.connect(sys.argv[1])\n"
    f"conn.execute('''{SQLITE_UPDATE}''')\nconn.commit()\n",
    "set_based": "import sqlite3, sys\n"
    + _GRANT
    + """
from scopemigrate.stores.sqlite_setbased import upgrade_set_based
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
run = upgrade_set_based(conn, sys.argv[1], chain)
conn.execute("COMMIT")
""",
    "row_by_row": "import sys\nfrom pathlib import Path\n"
    + _GRANT
    + """
from scopemigrate import engine
from scopemigrate.ledger import Ledger
from scopemigrate.stores.openclaw_sqlite import OpenClawSqliteStore
store = OpenClawSqliteStore(Path(sys.argv[1]))
with store.lock(10):
    snapshot = store.read()
    outcome = engine.upgrade(chain, snapshot.devices, snapshot.pending, "now")
    store.commit(snapshot, outcome.changes, Ledger())
""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep generated stores here")
    args = parser.parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="scopemigrate-sqlite-"))).resolve()
    for count in [int(part) for part in args.sizes.split(",") if part]:
        original = workdir / f"sqlite-{count}"
        if not original.exists():
            synthetic.write_sqlite_store(original, count)
        work = workdir / f"work-setbased-{count}"
        database = work / "state" / "openclaw.sqlite"

        def fresh(original: Path = original, work: Path = work) -> None:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(original, work)

        seconds = {
            way: best([sys.executable, "-c", script, str(database)], args.rounds, fresh).seconds
            for way, script in WAYS.items()
        }
        print(
            f"{count} devices: hand UPDATE {seconds['update']:.2f} s, set-based "
            f"{seconds['set_based']:.2f} s ({seconds['set_based'] / seconds['update']:.2f}x), "
            f"row by row {seconds['row_by_row']:.2f} s "
            f"({seconds['row_by_row'] / seconds['update']:.2f}x)",
            flush=True,
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
