"""Markdown tables from a ``scale.py --out`` file, as docs/performance.md shows them,
and the log-log plot of time and peak memory against device count.

Usage:
  python benchmarks/report.py bench.json
  python benchmarks/report.py bench.json --plot docs/performance-scale.png   # needs matplotlib
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

JSON_COLUMNS = [
    ("file MB", "file_mb", "{:.0f}"),
    ("floor s (stdlib / orjson)", "", ""),
    ("upgrade s (1 / 10 / 50 rev.)", None, ""),
    ("x floor", "upgrade_vs_floor", "{:.2f}"),
    ("settle s", "settle_s", "{:.2f}"),
    ("x floor without settle", "upgrade_no_settle_vs_floor", "{:.2f}"),
    ("50 rev. / 1 rev.", "chain50_vs_chain1", "{:.2f}"),
    ("jq s", "jq_s", "{:.2f}"),
    ("/ jq", "upgrade_vs_jq", "{:.2f}"),
    ("no-op ms", "noop_s", "{:.0f}"),
    ("x python", "noop_vs_python", "{:.1f}"),
    ("downgrade s", "downgrade_s", "{:.2f}"),
    ("/ upgrade", "downgrade_vs_upgrade", "{:.2f}"),
    ("peak MB", "peak_memory_mb", "{:.0f}"),
    ("x file", "peak_memory_vs_file", "{:.1f}"),
    ("ledger MB", "ledger_mb", "{:.1f}"),
    ("x file", "ledger_vs_paired", "{:.3f}"),
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
                cells.append(_joined(chains))
            elif not key:
                floors = [figures.get(f"json_{size}_floor_{n}_s") for n in ("stdlib", "orjson")]
                cells.append(_joined(floors))
            else:
                cells.append(_cell(figures, f"json_{size}_{key}", form))
        lines.append(f"| {_shown(size)} | " + " | ".join(cells) + " |")
    return lines


def _joined(values: list[Any], form: str = "{:.2f}") -> str:
    return " / ".join("-" if v is None else form.format(v) for v in values)


def read_only_table(figures: dict[str, Any]) -> list[str]:
    python = figures.get("readonly_python_s")
    lines = [
        "| command | ms | x `python -c pass` |",
        "| --- | --- | --- |",
        f"| `python -c pass` | {_ms(python)} | 1.0 |",
    ]
    for verb in ("current", "heads", "history"):
        ratio = figures.get(f"readonly_{verb}_vs_python")
        shown = "-" if ratio is None else f"{ratio:.1f}"
        lines.append(f"| `{verb}` | {_ms(figures.get(f'readonly_{verb}_s'))} | {shown} |")
    return lines


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def sql_table(figures: dict[str, Any]) -> list[str]:
    lines = [
        "| store | devices | devices granted | hand `UPDATE` s | `upgrade head` s | ratio "
        "| client peak MB (`UPDATE` / upgrade) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind in ("sqlite", "postgres"):
        sizes = sorted({k.split("_")[1] for k in figures if k.startswith(f"{kind}_")}, key=_size)
        for size in sizes:
            key = f"{kind}_{size}_"
            granted = figures.get(key + "granted_devices")
            cells = [
                "-" if granted is None else f"{granted:,.0f}",
                _joined([figures.get(key + "update_s")]),
                _joined([figures.get(key + "upgrade_s")]),
                _joined([figures.get(key + "upgrade_vs_update")]),
                _joined(
                    [figures.get(key + f"{n}_peak_memory_mb") for n in ("update", "upgrade")],
                    "{:.0f}",
                ),
            ]
            lines.append(f"| {kind} | {_shown(size)} | " + " | ".join(cells) + " |")
    return lines


def skipped_table(skipped: dict[str, str]) -> list[str]:
    """The figures the run did not take, and why."""
    lines = ["| figure | not taken because |", "| --- | --- |"]
    lines += [f"| `{key}` | {reason} |" for key, reason in skipped.items()]
    return lines


def run_line(report: dict[str, Any]) -> str:
    """When, on what and how the run was taken, for the page's prose."""
    settings = report.get("settings", {})
    parts = [
        f"at {report.get('at', '?')}",
        f"commit {report.get('commit') or '?'}",
        f"{report.get('machine', {}).get('cpus', '?')} cores",
        f"Python {report.get('machine', {}).get('python', '?')}",
    ]
    if settings:
        every = ", every figure" if settings["all_large"] else ""
        parts.append(
            f"best of {settings['rounds']} runs per figure ({settings['large_rounds']} "
            f"from {settings['large_from']:,} devices{every})"
        )
    if "seconds" in report:
        parts.append(f"{report['seconds'] / 60:.1f} minutes in all")
    return "Run " + ", ".join(parts) + "."


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


# (label, figure key after json_<size>_, line style) of each curve in the plot.
CURVES = [
    ("scopemigrate upgrade head", "upgrade_chain1_s", "peak_memory_mb", "o-"),
    ("floor (best of stdlib, orjson)", "floor_s", "floor_peak_memory_mb", "s--"),
    ("jq workaround", "jq_s", "jq_peak_memory_mb", "^:"),
]


def plot(figures: dict[str, Any], path: Path) -> None:
    """Time and peak memory against device count, log-log, beside the floor and jq."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to the file
    from matplotlib import pyplot

    sizes = sorted({k.split("_")[1] for k in figures if k.startswith("json_")}, key=_size)
    figure, (time_axes, memory_axes) = pyplot.subplots(1, 2, figsize=(11, 4.5))
    for label, time_key, memory_key, style in CURVES:
        for axes, key in ((time_axes, time_key), (memory_axes, memory_key)):
            points = [
                (_size(size), figures[f"json_{size}_{key}"])
                for size in sizes
                if figures.get(f"json_{size}_{key}") is not None
            ]
            if points:
                axes.plot(*zip(*points, strict=True), style, label=label)
    file_sizes = [
        (_size(size), figures[f"json_{size}_file_mb"])
        for size in sizes
        if f"json_{size}_file_mb" in figures
    ]
    if file_sizes:
        memory_axes.plot(*zip(*file_sizes, strict=True), "k-", alpha=0.3, label="paired.json size")
    for axes, title, unit in (
        (time_axes, "wall time", "seconds"),
        (memory_axes, "peak resident memory", "MB"),
    ):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("devices")
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", type=Path, help="a scale.py --out file")
    parser.add_argument("--plot", type=Path, help="also draw the log-log plot to this image")
    args = parser.parse_args()
    report = json.loads(args.figures.read_text(encoding="utf-8"))
    figures = report["figures"]
    print(run_line(report))
    print()
    print("\n".join(json_table(figures)))
    print()
    print("\n".join(sql_table(figures)))
    print()
    print("\n".join(read_only_table(figures)))
    print()
    print("\n".join(targets_table(report["targets"])))
    if report.get("skipped"):
        print()
        print("\n".join(skipped_table(report["skipped"])))
    if args.plot:
        plot(figures, args.plot)


if __name__ == "__main__":
    main()
