"""The import rules of docs/architecture.md, checked over the source.

Every ``import`` in ``scopemigrate/`` counts, at module level or inside a
function (a lazy import is still an edge). Each rule names the rooms of the
architecture page it keeps apart.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scopemigrate"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

# Modules the quick paths may import: stdlib-only facts and their small helpers.
FACT_MODULES = {
    "scopemigrate",
    "scopemigrate.errors",
    "scopemigrate.config",
    "scopemigrate.config_files",
    "scopemigrate.ownership",
    "scopemigrate.dag",
    "scopemigrate.installed",
    "scopemigrate.platforms",
    "scopemigrate.versions",
    "scopemigrate.migration_files",
    "scopemigrate.validation_cache",
    "scopemigrate.stores",
    "scopemigrate.stores.layout",
    "scopemigrate.printable",
    "scopemigrate.stores.jsontext",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _edges(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level) for each import of one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body} | {
        id(inner)
        for node in tree.body
        if isinstance(node, ast.If)  # TYPE_CHECKING blocks hold types only
        for inner in node.body
    }
    type_only = {
        id(inner)
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for inner in node.body
    }
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import (the package uses absolute ones)"
            base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(
                    ".py"
                ).exists() or (PACKAGE.parent / candidate.replace(".", "/")).is_dir()
                found.append((candidate if is_module else base, id(node) in top_level))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {_module_name(path): _edges(path) for path in SOURCES}


def _imports(prefix: str) -> dict[str, set[str]]:
    return {
        module: {name for name, _ in edges}
        for module, edges in GRAPH.items()
        if module == prefix or module.startswith(prefix + ".")
    }


def _within(name: str, rooms: set[str]) -> bool:
    return any(name == room or name.startswith(room + ".") for room in rooms)


def test_the_rules_see_every_module() -> None:
    assert "scopemigrate.run" in GRAPH and "scopemigrate.quick.mark" in GRAPH
    assert ("scopemigrate.engine", True) in GRAPH["scopemigrate.run"]


def test_no_store_imports_the_engine_the_run_the_verbs_or_the_cli() -> None:
    above = {
        "scopemigrate.engine",
        "scopemigrate.run",
        "scopemigrate.commands",
        "scopemigrate.cli",
        "scopemigrate.hook",
        "scopemigrate.quick",
    }
    wrong = {
        m: sorted(n for n in names if _within(n, above))
        for m, names in _imports("scopemigrate.stores").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}


def test_the_quick_paths_import_only_the_stdlib_and_the_fact_modules() -> None:
    # hook: HookResult for --json; cli: main() hands everything else to the full CLI.
    # results, printable: the --json document and its escaping (stdlib-only, as the facts).
    allowed = FACT_MODULES | {
        "scopemigrate.quick",
        "scopemigrate.hook",
        "scopemigrate.cli",
        "scopemigrate.results",
        "scopemigrate.printable",
    }
    wrong = {
        module: sorted(
            name
            for name in names
            if name.split(".")[0] not in STDLIB
            and not _within(name, allowed)
            and name not in allowed
        )
        for module, names in _imports("scopemigrate.quick").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}


@pytest.mark.parametrize(
    "module",
    [
        "scopemigrate.stores.layout",
        "scopemigrate.migration_files",
        "scopemigrate.validation_cache",
        "scopemigrate.errors",
        "scopemigrate.printable",
        "scopemigrate.stores.jsontext",
        "scopemigrate.stores.redact",
        "scopemigrate.config_files",
        "scopemigrate.ownership",
        "scopemigrate.dag",
    ],
)
def test_fact_modules_import_only_the_stdlib_at_module_level(module: str) -> None:
    third_party = [
        name
        for name, top in GRAPH[module]
        if top and name.split(".")[0] not in STDLIB and name not in FACT_MODULES
    ]
    assert third_party == []


def test_the_dag_and_the_target_grammar_import_no_other_room() -> None:
    # dag.py knows no domain; targets.py knows only the error it raises.
    allowed = {"scopemigrate.dag": set(), "scopemigrate.targets": {"scopemigrate.errors"}}
    wrong = {
        module: sorted(
            name
            for name, _ in GRAPH[module]
            if name.split(".")[0] not in STDLIB and name not in rooms
        )
        for module, rooms in allowed.items()
    }
    assert wrong == {"scopemigrate.dag": [], "scopemigrate.targets": []}


def test_the_quick_paths_load_neither_pydantic_nor_click() -> None:
    code = (
        "import sys\n"
        "import scopemigrate.quick, scopemigrate.quick.mark, scopemigrate.quick.verdicts\n"
        "import scopemigrate.stores.layout, scopemigrate.migration_files, scopemigrate.hook\n"
        "import scopemigrate.validation_cache\n"
        "print(sorted(m for m in ('pydantic', 'click', 'psycopg') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_cli_imports_only_verbs_renderers_and_settings() -> None:
    allowed = {
        # verbs
        "scopemigrate.commands",
        "scopemigrate.authoring",
        "scopemigrate.revisions",
        "scopemigrate.check",
        "scopemigrate.hook",
        # settings, errors and their exit codes, the release the hook and sync need
        "scopemigrate.config",
        "scopemigrate.errors",
        "scopemigrate.installed",
        "scopemigrate.ownership",
        # rendering: its own text renderers, the progress bar, the report types
        # of a device and of a finding
        "scopemigrate.cli.text",
        "scopemigrate.cli.completion",  # shell completion of revisions (reads the files)
        "scopemigrate.progress",
        "scopemigrate.printable",
        "scopemigrate.devices",
        # the JSON document, its escaping, and the logger -v turns up
        "scopemigrate.results",
        "scopemigrate.logs",
        "scopemigrate.findings",
        "scopemigrate",
    }
    names = _imports("scopemigrate.cli")["scopemigrate.cli"]
    ours = {name for name in names if name.startswith("scopemigrate")}
    assert ours - allowed == set()


def test_only_the_verbs_run_and_only_hook_and_main_reach_into_the_quick_paths() -> None:
    runs = {
        m for m, names in GRAPH.items() if any(_within(n, {"scopemigrate.run"}) for n, _ in names)
    }
    assert runs == {"scopemigrate.commands"}
    quick = {
        m
        for m, names in GRAPH.items()
        if not m.startswith("scopemigrate.quick")
        and any(_within(n, {"scopemigrate.quick"}) for n, _ in names)
    }
    assert quick == {"scopemigrate.hook", "scopemigrate.__main__"}


def test_nothing_below_the_cli_imports_it() -> None:
    importers = {
        module
        for module, names in GRAPH.items()
        # quick.main hands over to the CLI; cli.reference renders its commands.
        if module != "scopemigrate.quick"
        and not module.startswith("scopemigrate.cli")
        and any(_within(name, {"scopemigrate.cli"}) for name, _ in names)
    }
    assert importers == set()


def test_the_architecture_page_names_every_module() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [
        str(path.relative_to(PACKAGE))
        for path in SOURCES
        if path.name != "__init__.py" and path.stem not in page
    ]
    assert missing == []


def test_findings_read_devices_not_stores() -> None:
    # The CLI renders findings; reading them from a store is a verb's job (commands).
    ours = {name for name, _ in GRAPH["scopemigrate.findings"] if name.startswith("scopemigrate")}
    assert ours <= {"scopemigrate.devices", "scopemigrate.versions"}
