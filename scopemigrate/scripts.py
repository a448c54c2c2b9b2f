"""Finding, loading and writing migration files (the only module that reads them)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scopemigrate.errors import MigrationFileError
from scopemigrate.headmark import migration_file_names
from scopemigrate.migration import Migration
from scopemigrate.operations import OPERATION_KINDS


@dataclass(frozen=True)
class MigrationScript:
    """A migration, the file it came from, and that file's bytes (for headmark.digest_of)."""

    migration: Migration
    path: Path
    raw: bytes = b""


def describe_validation(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "union_tag_invalid":
        given = first.get("ctx", {}).get("tag", "?")
        message = f"unknown operation kind {given!r} (known: {', '.join(OPERATION_KINDS)})"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {message}{suffix}" if where else f"{message}{suffix}"


def parse_migration(path: Path, text: str) -> Migration:
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MigrationFileError(f"{path}: malformed TOML: {exc}") from None
    try:
        return Migration.model_validate(document)
    except ValidationError as exc:
        raise MigrationFileError(f"{path}: {describe_validation(exc)}") from None


def load_file(path: Path) -> MigrationScript:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MigrationFileError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MigrationFileError(f"{path}: not UTF-8 text") from None
    return MigrationScript(parse_migration(path, text), path, raw)


def load_locations(locations: Iterable[Path]) -> list[MigrationScript]:
    """Load every ``*.toml`` file of each location, once, in a stable order."""
    scripts: list[MigrationScript] = []
    seen: dict[str, Path] = {}
    for location in locations:
        if not location.is_dir():
            raise MigrationFileError(f"{location}: migration location is not a directory")
        try:
            names = migration_file_names(location)
        except OSError as exc:
            raise MigrationFileError(
                f"{location}: cannot list migration files: {exc.strerror}"
            ) from None
        for name in names:
            path = location / name
            script = load_file(path)
            rev = script.migration.revision
            if rev in seen:
                raise MigrationFileError(
                    f"{path}: revision {rev!r} is already defined in {seen[rev]}"
                )
            seen[rev] = path
            scripts.append(script)
    return scripts
