"""The JSON store's read and write paths, in process, each in its own child for its memory.

Measures, on synthetic stores, the store's reader and writer of ``paired.json``
(``OpenClawJsonStore.read``: bytes, spans, devices and their lists as read,
``stores/openclaw_json/index.py``; then the commit's compare and splice) against
orjson's bare ``loads`` / ``dumps(OPT_INDENT_2)``, the floor of any Python
reader and writer. The write applies the shipped 2026.2.19 grant through the
engine, as ``upgrade head`` does, then compares the changed records as the
commit's rebase does and renders the new bytes (no fsync, journal or settle
window: the floor pays none either). Each phase's time is printed; each figure
is the best of ``--rounds`` children; peak memory is the child's own (``wait4``).

Usage: python benchmarks/reader.py --sizes 10000,100000 [--workdir DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic

MODES = ("floor", "store")

CHILD = r"""
import json, sys, time
from pathlib import Path
mode, phase, state = sys.argv[1], sys.argv[2], Path(sys.argv[3])
paired = state / "devices" / "paired.json"
started = time.perf_counter()
phases = {}
if mode == "floor":
    import orjson
    tree = orjson.loads(paired.read_bytes())
    phases["read_s"] = time.perf_counter() - started
    if phase == "write":
        data = orjson.dumps(tree, option=orjson.OPT_INDENT_2)
else:
    from scopemigrate.stores.openclaw_json import OpenClawJsonStore
    from scopemigrate.stores.openclaw_json import index as json_index
    from scopemigrate.stores.openclaw_json.gateway import scope_base
    from scopemigrate.stores.openclaw_json.records import restore_reverted
    snapshot = OpenClawJsonStore(state).read()
    phases["read_s"] = time.perf_counter() - started
if phase == "write" and mode != "floor":
    from scopemigrate import engine
    from scopemigrate.migration import Migration
    from scopemigrate.operations import Grant
    grant = Grant(role="operator", scopes=("operator.read", "operator.write"),
                  if_any=("operator.admin",))
    step = Migration(revision="r", release="2026.2.19", operations=(grant,))
    at = time.perf_counter()
    changes = engine.upgrade([step], snapshot.devices, [], "now").changes
    phases["engine_s"] = time.perf_counter() - at
    at = time.perf_counter()
    index = snapshot.private.paired_index
    base = scope_base(json_index.records_of(index, changes.devices), changes)
    edited = restore_reverted(json_index.records_of(index, changes.devices), changes, base)
    phases["compare_s"] = time.perf_counter() - at
    at = time.perf_counter()
    data = json_index.render_paired(index, json_index.new_values(edited, changes.devices))
    phases["render_s"] = time.perf_counter() - at
print(json.dumps(phases | {"total_s": time.perf_counter() - started}))
"""


def measure(mode: str, phase: str, state: Path, rounds: int) -> dict[str, float]:
    """Best time of ``rounds`` children, and the least peak memory among them."""
    runs = [_run(mode, phase, state) for _ in range(rounds)]
    return {name: min(r[name] for r in runs) for name in runs[0]}


def _run(mode: str, phase: str, state: Path) -> dict[str, float]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, mode, phase, str(state)], stdout=out, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{mode} {phase} failed: {err.read().decode()[-2000:]}")
        out.seek(0)
        figures: dict[str, float] = json.loads(out.read())
    return figures | {"peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep generated stores here")
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file")
    args = parser.parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="scopemigrate-reader-"))).resolve()
    report: dict[str, Any] = {}
    for count in [int(part) for part in args.sizes.split(",") if part]:
        state = workdir / f"json-{count}"
        if not state.exists():
            synthetic.write_json_store(state, count)
        size_mb = (state / "devices" / "paired.json").stat().st_size / 1e6
        print(f"{count} devices, {size_mb:.1f} MB", flush=True)
        for phase in ("read", "write"):
            for mode in MODES:
                figures = measure(mode, phase, state, args.rounds)
                report[f"{count}_{phase}_{mode}"] = figures | {
                    "x_file": figures["peak_mb"] / size_mb
                }
                times = "  ".join(
                    f"{name[:-2]} {value:5.2f} s"
                    for name, value in figures.items()
                    if name.endswith("_s")
                )
                print(
                    f"  {phase:5s} {mode:6s} {times}  peak {figures['peak_mb']:5.0f} MB"
                    f" ({figures['peak_mb'] / size_mb:.1f}x file)",
                    flush=True,
                )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
