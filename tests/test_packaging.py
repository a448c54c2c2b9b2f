"""What `pip show` and an index see: complete metadata, one version, no dev tooling."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import scopemigrate

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_metadata_is_complete() -> None:
    meta = metadata.metadata("scopemigrate")
    assert meta["Author"]
    assert meta["License-Expression"] == "MIT"
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Operating System :: POSIX :: Linux" in classifiers
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls)


def test_one_version_and_no_dev_extra() -> None:
    assert metadata.version("scopemigrate") == scopemigrate.__version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert "dev" not in (metadata.metadata("scopemigrate").get_all("Provides-Extra") or [])


def test_the_wheel_carries_its_license_and_type_marker() -> None:
    files = {str(path) for path in metadata.files("scopemigrate") or []}
    assert "scopemigrate/py.typed" in files
    assert any(name.endswith("licenses/LICENSE") for name in files)


def test_the_sdist_ships_everything_its_tests_read() -> None:
    """An unpacked sdist runs its tests (nox -s sdist does it): what they read must travel."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = set(config["tool"]["hatch"]["build"]["targets"]["sdist"]["include"])
    read_by_tests = {"benchmarks", "docs", "examples", "migrations", "tests", "scopemigrate"}
    assert read_by_tests | {"LICENSE", "CHANGELOG.md", "mkdocs.yml"} <= shipped
    for name in shipped:
        assert (ROOT / name).exists(), f"the sdist names {name}, which is not there"
