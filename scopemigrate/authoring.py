"""Writing migration files and configuration: ``init``, ``revision`` and ``merge``.

Release authors describe a change on the command line; this module turns it
into a validated ``Migration``, checks that it fits the graph (parent exists,
release does not go backwards, no duplicate id) and only then writes the file.
"""

from __future__ import annotations

import re
import secrets
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from scopemigrate.config import Config
from scopemigrate.errors import ConfigError, GraphError, MigrationFileError
from scopemigrate.graph import RevisionGraph
from scopemigrate.migration import Migration
from scopemigrate.migration_files import describe_validation
from scopemigrate.operations import Ensure, Grant, Operation, Rename, Revoke
from scopemigrate.results import JsonResult
from scopemigrate.revisions import load_graph

CONFIG_NAME = "scopemigrate.toml"


@dataclass(frozen=True)
class InitResult(JsonResult):
    migrations: str
    config: str
    created: list[str]


def init(directory: Path, cwd: Path) -> InitResult:
    """Create the migrations folder and point the configuration at it.

    Configuration goes into ``[tool.scopemigrate]`` of an existing
    ``pyproject.toml`` (appended, so the rest of the file stays byte for
    byte), or else into a new ``scopemigrate.toml``.
    """
    created: list[str] = []
    folder = directory if directory.is_absolute() else cwd / directory
    if not folder.is_dir():
        folder.mkdir(parents=True)
        created.append(str(folder))
    location = str(directory)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text(encoding="utf-8")
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{pyproject}: malformed TOML: {exc}") from None
        if "scopemigrate" not in document.get("tool", {}):
            section = tomli_w.dumps({"tool": {"scopemigrate": {"locations": [location]}}})
            separator = (
                "" if not text or text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
            )
            pyproject.write_text(text + separator + section, encoding="utf-8")
            created.append(f"{pyproject} [tool.scopemigrate]")
        return InitResult(str(folder), str(pyproject), created)
    config = cwd / CONFIG_NAME
    if not config.exists():
        config.write_text(tomli_w.dumps({"locations": [location]}), encoding="utf-8")
        created.append(str(config))
    return InitResult(str(folder), str(config), created)


@dataclass(frozen=True)
class OperationSpec:
    """Operations as given on the command line, before validation."""

    grants: Sequence[str] = ()  # ROLE:SCOPE[,SCOPE]
    revokes: Sequence[str] = ()  # ROLE:SCOPE[,SCOPE]; a scope may be a pattern, operator.*
    renames: Sequence[str] = ()  # ROLE:OLD=NEW
    if_any: Sequence[str] = ()
    if_all: Sequence[str] = ()
    if_none: Sequence[str] = ()
    revokes_outside_role: Sequence[str] = ()  # ROLE: every scope without the ROLE. prefix
    ensures: Sequence[str] = ()  # ROLE:LIST[,LIST]: add missing device lists as []
    holding_in: Sequence[str] = ()  # the lists if_any/if_all/if_none look in
    unless_roles: Sequence[str] = ()
    if_missing: Sequence[str] = ()
    lists: Sequence[str] = ()  # the lists grants, revokes and renames edit


@dataclass(frozen=True)
class RevisionResult(JsonResult):
    revision: str
    path: str
    down_revision: list[str]
    release: str


def _role_and_rest(option: str, value: str) -> tuple[str, str]:
    role, sep, rest = value.partition(":")
    if not sep or not role or not rest:
        what = "LIST[,LIST...]" if option == "ensure" else "SCOPE[,SCOPE...]"
        raise MigrationFileError(f"--{option} {value!r}: expected ROLE:{what}")
    return role, rest


def build_operations(spec: OperationSpec) -> tuple[Operation, ...]:
    filters: dict[str, Any] = {
        "if_any": tuple(spec.if_any),
        "if_all": tuple(spec.if_all),
        "if_none": tuple(spec.if_none),
        "unless_roles": tuple(spec.unless_roles),
        "if_missing": tuple(spec.if_missing),
    }
    if spec.holding_in:
        filters["holding_in"] = tuple(spec.holding_in)
    # An ensure names its own lists; --lists is for the kinds that edit scopes.
    editing = dict(filters, lists=tuple(spec.lists)) if spec.lists else filters
    operations: list[Operation] = []
    try:
        for value in spec.grants:
            role, rest = _role_and_rest("grant", value)
            operations.append(Grant(role=role, scopes=tuple(rest.split(",")), **editing))
        for value in spec.revokes:
            role, rest = _role_and_rest("revoke", value)
            operations.append(Revoke(role=role, scopes=tuple(rest.split(",")), **editing))
        for role in spec.revokes_outside_role:
            operations.append(Revoke(role=role, outside_role=True, **editing))
        for value in spec.renames:
            role, rest = _role_and_rest("rename", value)
            old, sep, new = rest.partition("=")
            if not sep:
                raise MigrationFileError(f"--rename {value!r}: expected ROLE:OLD=NEW")
            operations.append(Rename(role=role, old=old, new=new, **editing))
        for value in spec.ensures:
            role, rest = _role_and_rest("ensure", value)
            operations.append(Ensure(role=role, lists=tuple(rest.split(",")), **filters))
    except ValidationError as exc:
        raise MigrationFileError(f"operation: {describe_validation(exc)}") from None
    return tuple(operations)


def _slug(message: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    return words[:40].rstrip("_") or "revision"


def _graph_and_folder(config: Config) -> tuple[RevisionGraph, Path]:
    if not config.locations_chosen:
        raise ConfigError(
            "no migration folder is configured for writing: run 'scopemigrate init' here "
            "first, or pass --migrations DIR"
        )
    return load_graph(config).graph, config.locations[0]


def _write(folder: Path, graph: RevisionGraph, migration: Migration) -> RevisionResult:
    # Validate against the graph before anything is written.
    RevisionGraph([*graph.migrations.values(), migration])
    path = folder / f"{migration.release}_{_slug(migration.message)}.toml"
    if path.exists():
        path = path.with_name(f"{path.stem}_{migration.revision}.toml")
    header = "".join(f"# {line}\n" for line in migration.message.splitlines())
    path.write_text(header + tomli_w.dumps(migration.to_document()), encoding="utf-8")
    return RevisionResult(
        migration.revision, str(path), list(migration.down_revision), migration.release
    )


def _new_id(graph: RevisionGraph) -> str:
    while True:
        rev = secrets.token_hex(6)
        if rev not in graph.migrations:
            return rev


def revision(
    config: Config,
    message: str,
    release: str,
    operations: OperationSpec = OperationSpec(),
    *,
    head: str | None = None,
    branch_labels: Sequence[str] = (),
    depends_on: Sequence[str] = (),
    rev_id: str | None = None,
) -> RevisionResult:
    """Write a new migration file whose parent is the current head (or ``head``)."""
    graph, folder = _graph_and_folder(config)
    if head == "base":
        parents: tuple[str, ...] = ()
    elif head is not None:
        parents = (graph.revision_of(head),)
    elif graph.heads:
        if len(graph.heads) > 1:
            raise GraphError(
                f"several heads ({', '.join(graph.heads)}): pass --head REV (or --head "
                "LABEL@head) to extend one, or join them first with 'scopemigrate merge'"
            )
        parents = (graph.heads[0],)
    else:
        parents = ()
    try:
        migration = Migration(
            revision=rev_id or _new_id(graph),
            down_revision=parents,
            release=release,
            message=message,
            branch_labels=tuple(branch_labels),
            depends_on=tuple(graph.lookup(d) for d in depends_on),
            operations=build_operations(operations),
        )
    except ValidationError as exc:
        raise MigrationFileError(f"new revision: {describe_validation(exc)}") from None
    return _write(folder, graph, migration)


def merge(
    config: Config, message: str, revisions: Sequence[str], release: str | None = None
) -> RevisionResult:
    """Write a revision that joins several heads into one."""
    graph, folder = _graph_and_folder(config)
    targets = list(revisions) or ["heads"]
    parents: list[str] = []
    for target in targets:
        found = graph.heads if target == "heads" else [graph.lookup(target)]
        parents.extend(rev for rev in found if rev not in parents)
    if len(parents) < 2:
        raise GraphError(f"merge needs at least two revisions to join, got {', '.join(parents)}")
    newest = max((graph.migrations[rev] for rev in parents), key=lambda m: m.release_version)
    try:
        migration = Migration(
            revision=_new_id(graph),
            down_revision=tuple(parents),
            release=release or newest.release,
            message=message,
        )
    except ValidationError as exc:
        raise MigrationFileError(f"merge revision: {describe_validation(exc)}") from None
    return _write(folder, graph, migration)
