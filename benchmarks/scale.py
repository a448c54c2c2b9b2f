"""Speed and memory at scale, each figure a ratio against a floor measured in the same run.

Absolute times mean nothing across machines; ratios against a baseline taken
on the same machine, minutes apart, do. Every command runs as a subprocess of
the installed ``scopemigrate`` (as users run it), its peak memory taken from
the kernel's accounting of that one child (``wait4``).

Baselines:
- floor: load ``paired.json`` and write it back once formatted as OpenClaw
  writes it, fsync and rename included (the least any tool that rewrites the
  file must do), with the standard library and with orjson; the faster counts;
- jq: the hand workaround users shared for 2026.2.19, rewriting the file;
- python: ``python -c pass``, the interpreter's own start (for the no-op
  ``upgrade head`` and for ``current``, ``heads`` and ``history``);
- SQL: one hand-written ``UPDATE`` doing the same grant (SQLite, PostgreSQL).

At a large size (``--large-from``, a million devices) each figure is taken
``--large-rounds`` times, and only the figures a target needs there; the rest
(jq, downgrade, chains, settle window, and the standard library's floor when
it lost at every smaller size) are named under "skipped" in the output and
the JSON, and taken with ``--all-large``.

Usage:
  python benchmarks/scale.py                          # 1k, 10k, 100k JSON and SQLite
  python benchmarks/scale.py --sizes 1000000 --postgres 1000000
  python benchmarks/scale.py --out results.json       # also write the figures
  # every figure of issue 16 in one run (about 20 minutes on 2 idle cores;
  # --large-rounds 1: about 15):
  python benchmarks/scale.py --sizes 1000,10000,100000,1000000 --postgres 1000000 \\
      --rounds 2 --large-rounds 2 --out bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic

from scopemigrate.stores.layout import LEDGER_NAME

ROOT = Path(__file__).resolve().parent.parent

# The targets of issue 16, each a ratio against a baseline of the same run
# (lower is better). "3x faster than jq" is upgrade / jq <= 1/3.
TARGETS = {
    "upgrade_vs_floor_100k": 1.5,
    "upgrade_vs_floor_1m": 1.5,
    "upgrade_vs_jq_100k": round(1 / 3, 3),
    "peak_memory_vs_file_100k": 3.0,
    "peak_memory_vs_file_1m": 3.0,
    "ledger_vs_paired_1m": 0.1,
    "downgrade_vs_upgrade_100k": 1.3,
    "chain50_vs_chain1_100k": 1.1,
    "sqlite_vs_update_100k": 2.0,
    "postgres_vs_update_1m": 1.5,
    "noop_vs_python_100k": 2.0,  # issue 7's, kept
    "current_vs_python": 5.0,
    "heads_vs_python": 5.0,
    "history_vs_python": 5.0,
}
# Where each target's figure is found in ``Bench.figures``.
TARGET_FIGURES = {
    "upgrade_vs_floor_100k": "json_100k_upgrade_vs_floor",
    "upgrade_vs_floor_1m": "json_1m_upgrade_vs_floor",
    "upgrade_vs_jq_100k": "json_100k_upgrade_vs_jq",
    "peak_memory_vs_file_100k": "json_100k_peak_memory_vs_file",
    "peak_memory_vs_file_1m": "json_1m_peak_memory_vs_file",
    "ledger_vs_paired_1m": "json_1m_ledger_vs_paired",
    "downgrade_vs_upgrade_100k": "json_100k_downgrade_vs_upgrade",
    "chain50_vs_chain1_100k": "json_100k_chain50_vs_chain1",
    "sqlite_vs_update_100k": "sqlite_100k_upgrade_vs_update",
    "postgres_vs_update_1m": "postgres_1m_upgrade_vs_update",
    "noop_vs_python_100k": "json_100k_noop_vs_python",
    "current_vs_python": "readonly_current_vs_python",
    "heads_vs_python": "readonly_heads_vs_python",
    "history_vs_python": "readonly_history_vs_python",
}
# From this size on (``--large-from``), figures are taken ``--large-rounds``
# times (one run is a minute), and only those a target needs at that size:
# the floor (orjson's, unless the standard library won at a smaller size),
# upgrade, peak memory, ledger, no-op and PostgreSQL; jq, downgrade, the
# chains and the settle window are taken at 100k (``--all-large`` takes them).
LARGE = 1_000_000
# Read-only commands, timed on a small store (they should not grow with it).
READ_ONLY_COMMANDS = ("current", "heads", "history")
READ_ONLY_SIZE = 1000

# The floor: load paired.json and write it back once, formatted as OpenClaw
# writes it (JSON.stringify(v, null, 2): two-space indent, non-ASCII as is),
# fsync and rename. Measured with the standard library and with orjson (the
# fastest well-kept JSON library for Python); the better of the two counts.
_FLOOR_WRITE = """
with open(path + ".tmp", "wb") as handle:
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())
os.replace(path + ".tmp", path)
"""
FLOORS = {
    "stdlib": """
import json, os, sys
path = sys.argv[1]
with open(path, "rb") as handle:
    tree = json.loads(handle.read())
data = json.dumps(tree, indent=2, ensure_ascii=False).encode("utf-8")
"""
    + _FLOOR_WRITE,
    "orjson": """
import orjson, os, sys
path = sys.argv[1]
with open(path, "rb") as handle:
    tree = orjson.loads(handle.read())
data = orjson.dumps(tree, option=orjson.OPT_INDENT_2)
"""
    + _FLOOR_WRITE,
}

# What users pasted into issue threads for 2026.2.19: give every operator
# holding operator.admin the two new scopes, in the device and its token.
JQ_PROGRAM = """
def grant: (. // []) + ["operator.read", "operator.write"] | unique;
with_entries(.value |= (
  if ((.roles // []) + [.role] | index("operator")) and ((.scopes // []) | index("operator.admin"))
  then .scopes |= grant
     | if has("approvedScopes") then .approvedScopes |= grant else . end
     | if .tokens.operator then .tokens.operator.scopes |= grant else . end
  else . end))
"""
# (with_entries, not map_values: jq 1.6 copies the whole object for each
# entry that map_values updates, which is quadratic: 8 s at 10k devices.)

# The same `upgrade head` with the settle window for a live gateway's stale
# write (docs/stores.md; gateway.py) set to nothing: what the window costs a
# run that changes the store, measured in the same run. Patched in the child
# only, for this figure; the tool itself always keeps its window.
NO_SETTLE = """
import sys
from scopemigrate.stores.openclaw_json import gateway
gateway.SETTLE_MIN_SECONDS = gateway.SETTLE_MAX_SECONDS = 0.0
from scopemigrate.quick import main
sys.argv = ["scopemigrate", *sys.argv[1:]]
main()
"""

SQLITE_UPDATE = """
UPDATE device_pairing_paired SET
  scopes_json = (SELECT json_group_array(value) FROM (
      SELECT value FROM json_each(scopes_json)
      UNION SELECT 'operator.read' UNION SELECT 'operator.write' ORDER BY 1)),
  tokens_json = json_set(tokens_json, '$.operator.scopes', json((
      SELECT json_group_array(value) FROM (
        SELECT value FROM json_each(tokens_json, '$.operator.scopes')
        UNION SELECT 'operator.read' UNION SELECT 'operator.write' ORDER BY 1))))
WHERE role = 'operator'
  AND EXISTS (SELECT 1 FROM json_each(scopes_json) WHERE value = 'operator.admin')
"""

POSTGRES_UPDATE = """
UPDATE device_pairing_paired SET
  scopes_json = (SELECT jsonb_agg(DISTINCT s ORDER BY s) FROM jsonb_array_elements_text(
      scopes_json || '["operator.read", "operator.write"]') s),
  tokens_json = jsonb_set(tokens_json, '{operator,scopes}', (
      SELECT jsonb_agg(DISTINCT s ORDER BY s) FROM jsonb_array_elements_text(
        coalesce(tokens_json #> '{operator,scopes}', '[]')
        || '["operator.read", "operator.write"]') s))
WHERE role = 'operator' AND scopes_json ? 'operator.admin'
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_bytes: int


def run(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run one command to completion; its wall time and its own peak resident memory."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            detail = errors.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(command)} failed ({child.returncode}): {detail}")
    return Run(seconds, usage.ru_maxrss * 1024)


def best(command: list[str], rounds: int, prepare: Any = None) -> Run:
    """The fastest of ``rounds`` runs (noise on a shared machine only ever adds time)."""
    runs = []
    for _ in range(rounds):
        if prepare is not None:
            prepare()
        runs.append(run(command))
    return min(runs, key=lambda r: r.seconds)


def tool() -> str:
    candidate = Path(sys.executable).parent / "scopemigrate"
    return str(candidate) if candidate.exists() else shutil.which("scopemigrate") or "scopemigrate"


class Bench:
    def __init__(
        self,
        workdir: Path,
        rounds: int,
        large_rounds: int | None = None,
        large_from: int = LARGE,
        all_large: bool = False,
    ):
        self.workdir = workdir
        self.rounds = rounds
        self.large_rounds = rounds if large_rounds is None else large_rounds
        self.large_from = large_from
        self.all_large = all_large
        self.skipped: dict[str, str] = {}  # figure -> why this run did not take it
        self.figures: dict[str, Any] = {}
        self.chains = {n: synthetic.write_chain(workdir / f"chain{n}", n) for n in (1, 10, 50)}

    def is_large(self, count: int) -> bool:
        return count >= self.large_from

    def rounds_for(self, count: int) -> int:
        """Runs per figure at this size: ``--large-rounds`` from ``--large-from`` devices."""
        return self.large_rounds if self.is_large(count) else self.rounds

    def record(self, name: str, value: float) -> None:
        self.figures[name] = round(value, 3)
        print(f"  {name:40s} {value:10.3f}", flush=True)

    def json_store(self, count: int) -> tuple[Path, Path]:
        """A pristine store of ``count`` devices and a working copy's path."""
        original = self.workdir / f"json-{count}"
        if not original.exists():
            synthetic.write_json_store(original, count)
        return original, self.workdir / f"work-json-{count}"

    def fresh(self, original: Path, work: Path) -> None:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(original, work)

    def bench_json(self, count: int) -> None:
        label = _label(count)
        large = self.is_large(count)
        rounds = self.rounds_for(count)
        original, work = self.json_store(count)
        paired = work / "devices" / "paired.json"
        size = (original / "devices" / "paired.json").stat().st_size
        print(f"JSON store, {label} devices ({size / 1e6:.1f} MB), best of {rounds}", flush=True)
        self.record(f"json_{label}_file_mb", size / 1e6)

        def prepare() -> None:
            self.fresh(original, work)

        floors = {}
        for name, script in FLOORS.items():
            if name == "stdlib" and large and not self.all_large and self.stdlib_always_slower():
                self.skip(
                    f"json_{label}_floor_stdlib_s",
                    "the floor is orjson's: the standard library's was the slower at every "
                    f"smaller size of this run ({self.floor_sizes_measured()})",
                )
                continue
            floors[name] = best([sys.executable, "-c", script, str(paired)], rounds, prepare)
            self.record(f"json_{label}_floor_{name}_s", floors[name].seconds)
            self.record(f"json_{label}_floor_{name}_peak_memory_mb", floors[name].peak_bytes / 1e6)
        floor = min(floors.values(), key=lambda r: r.seconds)
        self.record(f"json_{label}_floor_s", floor.seconds)
        self.record(f"json_{label}_floor_peak_memory_mb", floor.peak_bytes / 1e6)
        upgrade = [tool(), "upgrade", "head", "-q", "--no-backup"]
        upgrade += ["--store", str(work), "--migrations", str(self.chains[1])]
        up = best(upgrade, rounds, prepare)
        self.record(f"json_{label}_upgrade_chain1_s", up.seconds)
        self.record(f"json_{label}_upgrade_vs_floor", up.seconds / floor.seconds)
        self.record(f"json_{label}_peak_memory_mb", up.peak_bytes / 1e6)
        self.record(f"json_{label}_peak_memory_vs_file", up.peak_bytes / size)
        # The store is now at the chain-1 head, as the last run left it: its
        # ledger, and the no-op.
        ledger = work / "devices" / LEDGER_NAME
        self.record(f"json_{label}_ledger_mb", ledger.stat().st_size / 1e6)
        self.record(f"json_{label}_ledger_vs_paired", ledger.stat().st_size / size)
        noop = best(upgrade, max(rounds, 5))
        python = best([sys.executable, "-c", "pass"], max(rounds, 5))
        self.record(f"json_{label}_noop_s", noop.seconds)
        self.record(f"json_{label}_noop_vs_python", noop.seconds / python.seconds)
        if self.wanted(large, f"json_{label}_upgrade_chain10_s", "chains of 10 and 50"):
            for n in (10, 50):
                command = [tool(), "upgrade", "head", "-q", "--no-backup"]
                command += ["--store", str(work), "--migrations", str(self.chains[n])]
                chained = best(command, rounds, prepare)
                self.record(f"json_{label}_upgrade_chain{n}_s", chained.seconds)
            self.record(f"json_{label}_chain50_vs_chain1", chained.seconds / up.seconds)
        if self.wanted(large, f"json_{label}_upgrade_no_settle_s", "the settle window's cost"):
            unsettled = best([sys.executable, "-c", NO_SETTLE, *upgrade[1:]], rounds, prepare)
            self.record(f"json_{label}_upgrade_no_settle_s", unsettled.seconds)
            self.record(f"json_{label}_settle_s", up.seconds - unsettled.seconds)
            self.record(
                f"json_{label}_upgrade_no_settle_vs_floor", unsettled.seconds / floor.seconds
            )

        def upgraded() -> None:
            prepare()
            run(upgrade)

        if self.wanted(large, f"json_{label}_downgrade_s", "downgrade"):
            downgrade = [tool(), "downgrade", "base", "-q", "--no-backup"]
            downgrade += ["--store", str(work), "--migrations", str(self.chains[1])]
            down = best(downgrade, rounds, upgraded)
            self.record(f"json_{label}_downgrade_s", down.seconds)
            self.record(f"json_{label}_downgrade_vs_upgrade", down.seconds / up.seconds)
        if not shutil.which("jq"):
            self.skip(f"json_{label}_jq_s", "jq is not installed")
        elif self.wanted(large, f"json_{label}_jq_s", "jq"):
            script = (
                f"jq --indent 2 '{JQ_PROGRAM}' {paired} > {paired}.tmp && mv {paired}.tmp {paired}"
            )
            jq = best(["sh", "-c", script], rounds, prepare)
            self.record(f"json_{label}_jq_s", jq.seconds)
            self.record(f"json_{label}_jq_peak_memory_mb", jq.peak_bytes / 1e6)
            self.record(f"json_{label}_upgrade_vs_jq", up.seconds / jq.seconds)
        shutil.rmtree(work, ignore_errors=True)

    def wanted(self, large: bool, key: str, what: str) -> bool:
        """Whether to take a figure no target needs at a large size (``--all-large``)."""
        if large and not self.all_large:
            self.skip(key, f"{what}: no target needs it at this size (--all-large takes it)")
            return False
        return True

    def skip(self, key: str, reason: str) -> None:
        self.skipped[key] = reason
        print(f"  {key:40s} {'skipped':>10s}  ({reason})", flush=True)

    def stdlib_always_slower(self) -> bool:
        """Whether the standard library's floor lost to orjson's at every size measured
        so far (and was measured at all): then the floor at a larger size is orjson's."""
        pairs = self.floor_pairs()
        return bool(pairs) and all(stdlib > orjson for stdlib, orjson in pairs.values())

    def floor_pairs(self) -> dict[str, tuple[float, float]]:
        pairs = {}
        for key, stdlib in self.figures.items():
            if key.startswith("json_") and key.endswith("_floor_stdlib_s"):
                label = key.split("_")[1]
                orjson = self.figures.get(f"json_{label}_floor_orjson_s")
                if orjson is not None:
                    pairs[label] = (stdlib, orjson)
        return pairs

    def floor_sizes_measured(self) -> str:
        return ", ".join(
            f"{label}: {stdlib:.2f} s against {orjson:.2f} s"
            for label, (stdlib, orjson) in self.floor_pairs().items()
        )

    def bench_read_only(self) -> None:
        """``current``, ``heads`` and ``history`` on a small store at its head,
        against the interpreter's own start."""
        original, work = self.json_store(READ_ONLY_SIZE)
        self.fresh(original, work)
        migrations = ["--migrations", str(self.chains[1])]
        where = ["--store", str(work), *migrations]
        run([tool(), "upgrade", "head", "-q", "--no-backup", *where])
        print(f"Read-only commands, {_label(READ_ONLY_SIZE)} devices", flush=True)
        rounds = max(self.rounds, 5)
        python = best([sys.executable, "-c", "pass"], rounds)
        self.record("readonly_python_s", python.seconds)
        for verb in READ_ONLY_COMMANDS:
            # heads reads only the migration files: given --store, it answers and
            # then warns that the store is ignored, which is not how it is used.
            args = migrations if verb == "heads" else where
            measured = best([tool(), verb, *args], rounds)
            self.record(f"readonly_{verb}_s", measured.seconds)
            self.record(f"readonly_{verb}_vs_python", measured.seconds / python.seconds)
        shutil.rmtree(work, ignore_errors=True)

    def bench_sqlite(self, count: int) -> None:
        label = _label(count)
        original = self.workdir / f"sqlite-{count}"
        if not original.exists():
            synthetic.write_sqlite_store(original, count)
        work = self.workdir / f"work-sqlite-{count}"
        database = work / "state" / "openclaw.sqlite"
        print(f"SQLite store, {label} devices", flush=True)

        def prepare() -> None:
            self.fresh(original, work)

        update = [sys.executable, "-c", _sqlite_update_script(), str(database)]
        floor = best(update, self.rounds, prepare)
        command = [tool(), "upgrade", "head", "-q", "--store", f"sqlite:{database}"]
        command += ["--migrations", str(self.chains[1])]
        up = best(command, self.rounds, prepare)
        self.record(f"sqlite_{label}_update_s", floor.seconds)
        self.record(f"sqlite_{label}_upgrade_s", up.seconds)
        self.record(f"sqlite_{label}_upgrade_vs_update", up.seconds / floor.seconds)
        self.record(f"sqlite_{label}_update_peak_memory_mb", floor.peak_bytes / 1e6)
        self.record(f"sqlite_{label}_upgrade_peak_memory_mb", up.peak_bytes / 1e6)
        shutil.rmtree(work, ignore_errors=True)

    def bench_postgres(self, count: int) -> None:
        """``upgrade head`` against one hand-written ``UPDATE``, on a server that
        fsyncs as a production one does. Both run from a fresh connection in a
        subprocess, committing once, each on its own fresh copy of one pristine
        database (``CREATE DATABASE ... TEMPLATE``: a file copy, the same cache
        state for both), alternately, and must leave the same rows granted."""
        sys.path.insert(0, str(ROOT / "tests"))
        import psycopg
        from pgserver import start_server

        label = _label(count)
        print(f"PostgreSQL registry, {label} devices", flush=True)
        server = start_server(durable=True)
        try:
            admin = server.admin_url("postgres")
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute("CREATE DATABASE pristine")
            started = time.perf_counter()
            synthetic.load_postgres(server.admin_url("pristine"), count)
            with psycopg.connect(admin, autocommit=True) as conn:
                # No session (autovacuum's included) may hold a template being copied.
                conn.execute("ALTER DATABASE pristine WITH ALLOW_CONNECTIONS false")
            print(f"  (loaded in {time.perf_counter() - started:.0f} s)", flush=True)

            def prepare() -> None:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute("DROP DATABASE IF EXISTS scopemigrate WITH (FORCE)")
                    conn.execute(
                        "CREATE DATABASE scopemigrate TEMPLATE pristine STRATEGY FILE_COPY"
                    )

            script = "import psycopg, sys\nwith psycopg.connect(sys.argv[1]) as c:\n"
            script += f"    c.execute('''{POSTGRES_UPDATE}''')\n"
            upgrade = [tool(), "upgrade", "head", "-q", "--store", server.url]
            upgrade += ["--migrations", str(self.chains[1])]
            commands = {"update": [sys.executable, "-c", script, server.url], "upgrade": upgrade}
            runs: dict[str, list[Run]] = {name: [] for name in commands}
            granted: dict[str, tuple[int, int]] = {}
            for _ in range(self.rounds_for(count)):
                for name, command in commands.items():
                    prepare()
                    runs[name].append(run(command))
                    granted[name] = _granted(server.url)
                update_s, upgrade_s = (runs[name][-1].seconds for name in commands)
                print(f"  (a round: update {update_s:.2f} s, upgrade {upgrade_s:.2f} s)")
            if granted["update"] != granted["upgrade"]:
                raise SystemExit(f"PostgreSQL: not the same rows granted: {granted}")
            update, up = (min(runs[name], key=lambda r: r.seconds) for name in commands)
            self.record(f"postgres_{label}_granted_devices", granted["upgrade"][0])
            self.record(f"postgres_{label}_update_s", update.seconds)
            self.record(f"postgres_{label}_upgrade_s", up.seconds)
            self.record(f"postgres_{label}_upgrade_vs_update", up.seconds / update.seconds)
            self.record(f"postgres_{label}_update_peak_memory_mb", update.peak_bytes / 1e6)
            self.record(f"postgres_{label}_upgrade_peak_memory_mb", up.peak_bytes / 1e6)
        finally:
            server.stop()


def _granted(url: str) -> tuple[int, int]:
    """Devices holding both granted scopes, in their scopes and in their operator token."""
    import psycopg

    wanted = "'{operator.read,operator.write}'::text[]"
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT count(*) FILTER (WHERE scopes_json ?& {wanted}), "
            f"count(*) FILTER (WHERE tokens_json -> 'operator' -> 'scopes' ?& {wanted}) "
            "FROM device_pairing_paired"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _sqlite_update_script() -> str:
    return (
        "import sqlite3, sys\nconn = sqlite3.connect(sys.argv[1])\n"
        f"conn.execute('''{SQLITE_UPDATE}''')\nconn.commit()\n"
    )


def _label(count: int) -> str:
    return f"{count // 1_000_000}m" if count >= 1_000_000 else f"{count // 1000}k"


def targets(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with its measured figure, where this run measured it."""
    return {
        name: {
            "target": limit,
            "measured": figures.get(TARGET_FIGURES[name]),
            "met": _met(figures.get(TARGET_FIGURES[name]), limit),
        }
        for name, limit in TARGETS.items()
    }


def _met(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="JSON store sizes")
    parser.add_argument("--sqlite", default="1000,10000,100000", help="SQLite sizes ('' for none)")
    parser.add_argument("--postgres", default="", help="PostgreSQL sizes, such as 1000000")
    parser.add_argument("--rounds", type=int, default=1, help="runs per figure; the best counts")
    parser.add_argument(
        "--no-read-only", action="store_true", help="skip current/heads/history timings"
    )
    parser.add_argument(
        "--large-from",
        type=int,
        default=LARGE,
        help=f"from this many devices a size is large (default {LARGE:,})",
    )
    parser.add_argument(
        "--large-rounds", type=int, default=1, help="runs per figure at a large size (default 1)"
    )
    parser.add_argument(
        "--all-large",
        action="store_true",
        help="at a large size also take the figures no target needs there "
        "(jq, downgrade, chains, settle window, the standard library's floor)",
    )
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--workdir", type=Path, help="keep generated stores here (default: temp)")
    args = parser.parse_args()
    out = args.out.resolve() if args.out else None  # before the chdir below
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="scopemigrate-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # Run every command from there, as a user would: a checkout's own
    # pyproject.toml names scopemigrate, and would send `upgrade head` at head
    # down the way that reads configuration files.
    os.chdir(workdir)
    bench = Bench(workdir, args.rounds, args.large_rounds, args.large_from, args.all_large)
    started = time.monotonic()
    try:
        if not args.no_read_only:
            bench.bench_read_only()
        for count in _sizes(args.sizes):
            bench.bench_json(count)
        for count in _sizes(args.sqlite):
            bench.bench_sqlite(count)
        for count in _sizes(args.postgres):
            bench.bench_postgres(count)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _commit(),
        "settings": {
            "rounds": args.rounds,
            "large_from": args.large_from,
            "large_rounds": args.large_rounds,
            "all_large": args.all_large,
        },
        "seconds": round(time.monotonic() - started),
        "figures": bench.figures,
        "skipped": bench.skipped,
        "targets": targets(bench.figures),
    }
    if bench.skipped:
        print("\nnot taken in this run:")
        for key, reason in bench.skipped.items():
            print(f"  {key}: {reason}")
    print("\ntarget                              limit   measured  met")
    for name, entry in report["targets"].items():
        value = "-" if entry["measured"] is None else f"{entry['measured']:.2f}"
        met = {True: "yes", False: "NO", None: "not run"}[entry["met"]]
        print(f"{name:34s} {entry['target']:6.2f} {value:>10s}  {met}")
    if out:
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _sizes(text: str) -> list[int]:
    """Sizes in ascending order: a large size's choice of floor looks at the smaller ones."""
    return sorted(int(part) for part in text.split(",") if part.strip())


def _commit() -> str | None:
    """The checkout's commit, so that a run's figures name the code they measured."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return (found.stdout.strip() or None) if found.returncode == 0 else None


if __name__ == "__main__":
    main()
