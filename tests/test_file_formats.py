"""docs/file-formats.md names every field of the migration files and the ledger."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from scopemigrate import ledger, migration, operations

PAGE = Path(__file__).resolve().parent.parent / "docs" / "file-formats.md"


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_every_stored_field_is_documented() -> None:
    page = PAGE.read_text(encoding="utf-8")
    models: list[type[BaseModel]] = [
        migration.Migration,
        ledger.Ledger,
        ledger.AppliedRevision,
        ledger.RunRecord,
        ledger.RemovedPending,
        operations.FieldEdit,
    ]
    models += [
        cls
        for cls in vars(operations).values()
        if isinstance(cls, type) and issubclass(cls, BaseModel) and "kind" in cls.model_fields
    ]
    assert len(models) > 6, "no operation model found"
    missing = sorted(
        f"{model.__name__}.{name}"
        for model in models
        for name in _fields(model)
        if f"`{name}`" not in page
    )
    assert not missing, f"docs/file-formats.md does not name: {missing}"
