"""Pages under docs/ that are generated must match what generates them."""

from __future__ import annotations

from pathlib import Path

from scopemigrate.cli.reference import render

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_command_reference_matches_the_cli() -> None:
    committed = (DOCS / "commands.md").read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/commands.md is out of date: "
        "run 'python -m scopemigrate.cli.reference > docs/commands.md'"
    )


def test_every_command_is_documented_with_its_options() -> None:
    page = render()
    for command in ("upgrade", "downgrade", "stamp", "verify", "revision", "merge", "check"):
        assert f"## `scopemigrate {command}`" in page
    assert "`--if-any` SCOPE" in page and "`--lock-timeout` SECONDS" in page


def test_the_postgres_schema_page_shows_the_schema_the_tests_load() -> None:
    schema = (DOCS.parent / "examples" / "postgres" / "schema.sql").read_text(encoding="utf-8")
    assert schema.rstrip() in (DOCS / "stores.md").read_text(encoding="utf-8")
