"""Markdown tables from a ``scale.py --out`` file, as docs/performance.md shows them.

Usage: python benchmarks/report.py bench.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

JSON_COLUMNS = [
    ("file MB", "file_mb", "{:.0f}"),
    ("floor s", "floor_s", "{:.2f}"),
    ("upgrade s (1 / 10 / 50 rev.)", None, ""),
    ("x floor", "upgrade_vs_floor", "{:.2f}"),
    ("50 rev. / 1 rev.", "chain50_vs_chain1", "{:.2f}"),
    ("jq s", "jq_s", "{:.2f}"),
    ("/ jq", "upgrade_vs_jq", "{:.2f}"),
    ("no-op ms", "noop_s", "{:.0f}"),
    ("x python", "noop_vs_python", "{:.1f}"),
    ("downgrade s", "downgrade_s", "{:.2f}"),
    ("/ upgrade", "downgrade_vs_upgrade", "{:.2f}"),
    ("peak MB", "peak_memory_mb", "{:.0f}"),
    ("x file", "peak_memory_vs_file", "{:.1f}"),
]


def _cell(figures: dict[str, Any], key: str, form: str) -> str:
    value = figures.get(key)
    if value is None:
        return "-"
    return form.format(value * 1000 if key.endswith("noop_s") else value)


def json_table(figures: dict[str, Any]) -> list[str]:
    sizes = sorted({k.split("_")[1] for k in figures if k.startswith("json_")}, key=_size)
    lines = [
        "| devices | " + " | ".join(title for title, _, _ in JSON_COLUMNS) + " |",
        "| --- " * (len(JSON_COLUMNS) + 1) + "|",
    ]
    for size in sizes:
        cells = []
        for _title, key, form in JSON_COLUMNS:
            if key is None:
                chains = [figures.get(f"json_{size}_upgrade_chain{n}_s") for n in (1, 10, 50)]
                cells.append(" / ".join("-" if c is None else f"{c:.2f}" for c in chains))
            else:
                cells.append(_cell(figures, f"json_{size}_{key}", form))
        lines.append(f"| {_shown(size)} | " + " | ".join(cells) + " |")
    return lines


def sql_table(figures: dict[str, Any]) -> list[str]:
    lines = [
        "| store | devices | hand `UPDATE` s | `upgrade head` s | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind in ("sqlite", "postgres"):
        sizes = sorted({k.split("_")[1] for k in figures if k.startswith(kind)}, key=_size)
        for size in sizes:
            update = figures.get(f"{kind}_{size}_update_s")
            upgrade = figures.get(f"{kind}_{size}_upgrade_s")
            ratio = figures.get(f"{kind}_{size}_upgrade_vs_update")
            shown = _shown(size)
            lines.append(
                f"| {kind} | {shown} | {update:.2f} | {upgrade:.2f} | {ratio:.2f} |"
                if None not in (update, upgrade, ratio)
                else f"| {kind} | {shown} | - | - | - |"
            )
    return lines


def targets_table(targets: dict[str, Any]) -> list[str]:
    lines = ["| target | limit | measured | met |", "| --- | --- | --- | --- |"]
    for name, entry in targets.items():
        measured = "-" if entry["measured"] is None else f"{entry['measured']:.2f}"
        met = {True: "yes", False: "**no**", None: "not run"}[entry["met"]]
        lines.append(f"| `{name}` | {entry['target']:.2f} | {measured} | {met} |")
    return lines


def _size(label: str) -> int:
    return int(label[:-1]) * (1_000_000 if label.endswith("m") else 1000)


def _shown(label: str) -> str:
    """A size as people write it: 1k, 100k, 1M (keys say 1m)."""
    return label[:-1] + "M" if label.endswith("m") else label


def main() -> None:
    report = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    figures = report["figures"]
    print("\n".join(json_table(figures)))
    print()
    print("\n".join(sql_table(figures)))
    print()
    print("\n".join(targets_table(report["targets"])))


if __name__ == "__main__":
    main()
