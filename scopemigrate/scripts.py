"""Kept for ``revisions.py`` until it imports ``scopemigrate.migration_files`` (then delete)."""

from scopemigrate.migration_files import MigrationScript, describe_validation, load_locations

__all__ = ["MigrationScript", "describe_validation", "load_locations"]
