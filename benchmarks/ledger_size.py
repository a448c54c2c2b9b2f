"""The ledger's provenance, per device (format 1) and per distinct edit (compact), by size.

Runs the shipped 2026.2.19 grant through the engine on a synthetic store (in
process: this measures bytes, not time), then writes the revision's
provenance both ways and compares each with ``paired.json``. The compact
form grows by one device id per changed device; for sizes not generated
(``--extrapolate 1000000``) its size is computed from the measured one, the
groups being the same and each further device adding its id to one of them.

Usage: python benchmarks/ledger_size.py --size 100000 [--workdir DIR] [--extrapolate 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic

from scopemigrate import engine
from scopemigrate.ledger import AppliedRevision
from scopemigrate.migration import Migration
from scopemigrate.operations import Grant
from scopemigrate.provenance import dump_groups, from_device_provenance
from scopemigrate.stores.openclaw_json import index as json_index

GRANT = Grant(
    role="operator", scopes=("operator.read", "operator.write"), if_any=("operator.admin",)
)
CHAIN = [Migration(revision="r", release="2026.2.19", operations=(GRANT,))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--extrapolate", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="scopemigrate-ledger-"))).resolve()
    state = workdir / f"json-{args.size}"
    if not state.exists():
        synthetic.write_json_store(state, args.size)
    paired = state / "devices" / "paired.json"
    index = json_index.read_paired(paired, paired.read_bytes())
    entry: AppliedRevision = engine.upgrade(CHAIN, index.devices, [], "now").applied["r"]
    file_size = paired.stat().st_size
    per_device = len(entry.model_dump_json(indent=2))  # as the ledger writes it today
    groups = from_device_provenance(entry.provenance)
    compact = sum(len(piece) for piece in dump_groups(groups))
    changed = len(entry.provenance)
    print(f"{args.size} devices, paired.json {file_size / 1e6:.1f} MB, {changed} changed")
    print(f"  format 1 (per device): {per_device / 1e6:8.2f} MB  {per_device / file_size:.3f}x")
    print(f"  compact ({len(groups)} groups):  {compact / 1e6:8.2f} MB  {compact / file_size:.3f}x")
    if args.extrapolate:
        scale = args.extrapolate / args.size
        ids = sum(len(device_id) + 3 for device_id in entry.provenance)  # '"id",' per device
        larger = compact + ids * (scale - 1)
        larger_file = file_size * scale
        print(
            f"  compact at {args.extrapolate} devices (computed): {larger / 1e6:.1f} MB, "
            f"{larger / larger_file:.3f}x paired.json ({larger_file / 1e6:.0f} MB)"
        )


if __name__ == "__main__":
    main()
