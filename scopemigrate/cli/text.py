"""The text renderers: one function per verb, from its result to the lines printed.

``--json`` prints the result's ``to_json()`` instead; these are for people.
``verbose`` is the count of ``-v``.
"""

from __future__ import annotations

from typing import Any

from scopemigrate import authoring, commands, revisions
from scopemigrate.check import CheckResult
from scopemigrate.devices import DevicePlan

__all__ = [
    "branches",
    "check",
    "current",
    "detail_lines",
    "device_line",
    "heads",
    "history",
    "run",
    "short",
    "show",
    "stamp",
    "sync",
    "verify",
    "written",
]


def short(revs: list[str]) -> str:
    return ", ".join(revs) if revs else "base"


def device_line(plan: DevicePlan) -> str:
    parts: list[str] = []
    for sign, changes in (("+", plan.added), ("-", plan.removed)):
        by_scope: dict[str, list[str]] = {}
        for field_name, scopes in changes.items():
            for scope in scopes:
                by_scope.setdefault(scope, []).append(field_name)
        parts.extend(f"{sign}{scope} [{', '.join(fields)}]" for scope, fields in by_scope.items())
    parts.extend(f"+{name}: []" for name in plan.created)
    parts.extend(f"-{name}: []" for name in plan.emptied)
    return f"  {plan.device_id}  {plan.label}: {'  '.join(parts)}"


def run(result: commands.RunResult, verbose: int) -> list[str]:
    if not result.store_exists:
        return [f"No device store at {result.store}: nothing to do."]
    if not result.revisions:
        return [f"{result.store} is at {short(result.to_heads)}: nothing to do."]
    verb = "Would " + result.direction if result.dry_run else result.direction.capitalize() + "d"
    pending = ""
    if result.pending_removed:
        pending = f", {result.pending_removed} satisfied repair request(s) removed"
    if result.pending_restored:
        pending = f", {result.pending_restored} repair request(s) restored"
    lines = [
        f"{verb} {result.store} from {short(result.from_heads)} to {short(result.to_heads)} "
        f"({len(result.revisions)} revision(s)): "
        f"{result.devices_changed} device(s) changed{pending}."
    ]
    if result.dry_run or verbose:
        lines.extend(device_line(plan) for plan in result.devices)
    return lines


def sync(result: commands.SyncResult, verbose: int) -> list[str]:
    if not result.store_exists:
        return [f"No device store at {result.store}: nothing to do."]
    if not result.runs:
        return [f"{result.store} already matches release {result.installed}."]
    return [line for one in result.runs for line in run(one, verbose)]


def current(result: commands.CurrentResult, verbose: int) -> list[str]:
    if not result.store_exists:
        return [f"No device store at {result.store}."]
    if not result.heads:
        return [f"{result.store}: base (nothing applied)"]
    lines = [f"{info.revision} ({info.release}) {info.message}" for info in result.revisions]
    if verbose and result.last_run:
        last = result.last_run
        lines.append(
            f"last run: {last.direction} at {last.at} by {last.by} "
            f"(scopemigrate {last.tool_version})"
        )
    return lines


def history(result: commands.HistoryResult, indicate_current: bool, verbose: int) -> list[str]:
    current = set(result.current) if indicate_current else set()
    lines = []
    for info in result.revisions:
        marks = " ".join(
            m
            for m, on in (
                ("(head)", info.is_head),
                ("(current)", info.revision in current),
                ("(applied)", info.applied),
            )
            if on
        )
        lines.append(
            f"{short(info.down_revision)} -> {info.revision} {marks}".rstrip()
            + f", {info.release}: {info.message}"
        )
        if verbose:
            lines.append(f"  file: {info.source or '(ledger only)'}")
            lines.extend(_operation_lines(info.operations))
    if verbose:
        lines.extend(
            f"  run: {one.direction} {short(one.from_heads)} -> {short(one.to_heads)} "
            f"at {one.at} by {one.by}"
            for one in result.runs
        )
    return lines


def stamp(result: commands.StampResult, verbose: int) -> list[str]:
    if not result.store_exists:
        return [f"No device store at {result.store}: nothing to do."]
    if result.purged:  # the old ledger was not read: there is no "from" to show
        return [f"Stamped {result.store}: ledger purged, now at {short(result.to_heads)}."]
    return [f"Stamped {result.store}: {short(result.from_heads)} -> {short(result.to_heads)}."]


def verify(result: commands.VerifyResult, verbose: int) -> list[str]:
    if not result.store_exists:
        return [f"No device store at {result.store}: nothing to verify."]
    found = [f"  {finding.message}" for finding in result.findings]
    found = [f"{len(found)} device(s) no data repair can fix:", *found] if found else []
    if result.ok:
        return [f"{result.store} satisfies {short(result.heads)}.", *found]
    return (
        [f"{len(result.devices)} device(s) lack what {short(result.heads)} declares:"]
        + [device_line(plan) for plan in result.devices]
        + found
    )


def _operation_lines(operations: list[dict[str, Any]]) -> list[str]:
    lines = []
    for op in operations:
        fields = ", ".join(f"{k}={v}" for k, v in op.items() if k != "kind" and v)
        lines.append(f"  {op['kind']}: {fields}")
    return lines


def detail_lines(info: revisions.RevisionInfo, verbose: int) -> list[str]:
    labels = f" ({', '.join(info.branch_labels)})" if info.branch_labels else ""
    lines = [f"{info.revision}{labels} {info.release}: {info.message}"]
    if verbose:
        lines.append(f"  parents: {short(info.down_revision)}")
        if info.depends_on:
            lines.append(f"  depends on: {', '.join(info.depends_on)}")
        lines.append(f"  children: {', '.join(info.children) or 'none'}")
        lines.append(f"  file: {info.source or '(ledger only)'}")
    return lines


def branches(result: revisions.BranchesResult, verbose: int) -> list[str]:
    lines = [
        f"{point.revision} ({point.release}) -> {', '.join(point.children)}"
        for point in result.branch_points
    ]
    lines += [f"label {label}: {rev}" for label, rev in sorted(result.labels.items())]
    return lines or ["No branches."]


def show(result: revisions.ShowResult, verbose: int) -> list[str]:
    return detail_lines(result.revision, verbose=1) + _operation_lines(result.revision.operations)


def written(result: authoring.RevisionResult, verbose: int) -> list[str]:
    return [
        f"Wrote {result.path} (revision {result.revision}, parents {short(result.down_revision)})."
    ]


def check(result: CheckResult, verbose: int) -> list[str]:
    if result.ok:
        return [f"{result.revisions} revision(s), head {short(result.heads)}: no problems."]
    return [f"{problem.kind}: {problem.message}" for problem in result.problems]


def heads(result: revisions.HeadsResult, verbose: int) -> list[str]:
    return [line for head in result.heads for line in detail_lines(head, verbose)]
