"""The hook and everyday commands never make a harmless mistake worse (issue 14).

Each test runs the installed CLI as a subprocess, the way an install step does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import cli_path, fake_program, run_cli, run_with, store_files
from test_hook import EXAMPLES, assert_original, assert_repaired, hook, integration_env

from scopemigrate.versions import parse_release, selection_ceiling

# -- a version source named explicitly must answer ------------------------------------


@pytest.mark.parametrize(
    "named",
    [
        ("--program", "/nonexistent/openclaw"),
        ("--program", "no-such-program-anywhere"),
        ("--distribution", "no-such-dist"),
        ("--npm-package", "no-such-package"),
    ],
)
def test_a_named_source_that_fails_changes_nothing(
    mixed: Path, tmp_path: Path, named: tuple[str, str]
) -> None:
    upgraded = run_cli("upgrade", "head", "--store", str(mixed), "-q")
    assert upgraded.returncode == 0, upgraded.stderr
    before = store_files(mixed)
    # openclaw.json says 2026.2.15: falling back to it would roll the store back.
    env = {"PATH": str(Path(cli_path()).parent), "HOME": str(tmp_path)}
    for verb in ("hook", "sync"):
        result = run_cli(verb, "--store", str(mixed), *named, env=env)
        assert result.returncode == 3, (verb, result.stdout, result.stderr)
        assert result.stdout == ""
        assert result.stderr.startswith("error:") and named[1] in result.stderr
        assert "named explicitly" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert store_files(mixed) == before


def test_a_source_named_in_the_configuration_must_answer_too(mixed: Path, tmp_path: Path) -> None:
    before = store_files(mixed)
    project = tmp_path / "project"
    project.mkdir()
    (project / "scopemigrate.toml").write_text('program = "/nonexistent/openclaw"\n')
    env = {"PATH": str(Path(cli_path()).parent), "HOME": str(tmp_path)}
    result = run_with(
        [cli_path(), "hook", "--store", str(mixed)],
        cwd=project,
        env=env,
    )
    assert result.returncode == 3 and "/nonexistent/openclaw" in result.stderr
    assert store_files(mixed) == before


def test_automatic_detection_still_tries_the_next_source(mixed: Path, tmp_path: Path) -> None:
    """No source named: a missing openclaw program is no error, the config answers."""
    env = {"PATH": str(Path(cli_path()).parent), "HOME": str(tmp_path)}
    result = hook(mixed, env=env)
    assert result.returncode == 0 and "lastTouchedVersion" in result.stderr


# -- Debian and tag forms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "release"),
    [
        ("1:2026.2.19-1", "2026.2.19"),
        ("2026.2.19~beta1-1", "2026.2.19b1"),
        ("2026.2.19~beta1", "2026.2.19b1"),
        ("v2026.2.19", "2026.2.19"),
        ("1:2026.2.19-2-1", "2026.2.19.post2"),
    ],
)
def test_debian_and_tag_forms_name_their_upstream_release(version: str, release: str) -> None:
    assert str(parse_release(version)) == release


def test_a_tilde_sorts_before_its_release_and_selects_it() -> None:
    beta, final = parse_release("2026.2.19~beta1-1"), parse_release("2026.2.19")
    assert beta < final and selection_ceiling(beta) == final
    assert parse_release("2:2026.2.15-9") < parse_release("2026.2.19")  # epoch dropped


@pytest.mark.parametrize("version", ["1:2026.2.19-1", "2026.2.19~beta1-1", "v2026.2.19"])
def test_the_hook_accepts_debian_and_tag_forms(mixed: Path, version: str) -> None:
    result = hook(mixed, "--installed-version", version)
    assert result.returncode == 0, result.stderr
    assert_repaired(mixed)


def test_a_postinst_passing_dpkg_query_version_with_an_epoch(mixed: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_program(bin_dir, "dpkg-query", "1:2026.2.19-1", newline=False)
    done = run_with(
        ["sh", str(EXAMPLES / "debian" / "postinst"), "configure", "1:2026.2.15-1"],
        env=integration_env(mixed, tmp_path, bin_dir),
    )
    assert done.returncode == 0, done.stderr
    assert_repaired(mixed)


def test_a_program_printing_a_tag_is_understood(mixed: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_program(bin_dir, "openclaw", "openclaw v2026.2.19")
    env = {"PATH": os.pathsep.join([str(bin_dir), str(Path(cli_path()).parent)])}
    result = hook(mixed, "--program", "openclaw", env=env)
    assert result.returncode == 0, result.stderr
    assert_repaired(mixed)


# -- a mistyped --store ----------------------------------------------------------------


@pytest.mark.parametrize(
    "verb",
    [
        ("upgrade",),
        ("upgrade", "head"),
        ("upgrade", "head", "--json"),
        ("hook", "--installed-version", "2026.2.19"),
        ("sync", "--installed-version", "2026.2.19"),
        ("current",),
        ("verify",),
    ],
)
@pytest.mark.parametrize("form", ["{}", "openclaw-json:{}", "{}/devices/paired.json"])
def test_a_named_store_that_is_not_there_is_an_error(
    tmp_path: Path, verb: tuple[str, ...], form: str
) -> None:
    missing = tmp_path / "no-such-dir"
    result = run_cli(*verb, "--store", form.format(missing))
    assert result.returncode == 6, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and "no-such-dir" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not missing.exists()


def test_a_named_store_from_the_environment_must_exist_too(tmp_path: Path) -> None:
    result = run_cli("upgrade", "head", env={"SCOPEMIGRATE_STORE": str(tmp_path / "typo")})
    assert result.returncode == 6 and "typo" in result.stderr


def test_an_absent_store_found_by_openclaws_rules_is_a_fresh_install(tmp_path: Path) -> None:
    env = {"OPENCLAW_STATE_DIR": str(tmp_path / "not-yet"), "HOME": str(tmp_path)}
    for verb in (("upgrade", "head"), ("hook", "--installed-version", "2026.2.19")):
        result = run_cli(*verb, env=env)
        assert result.returncode == 0, result.stderr
    assert not (tmp_path / "not-yet").exists()


# -- the quick answers accept exactly what the full command accepts ----------------------


BAD_SECONDS = [
    ("hook", "--installed-version", "2026.2.19", "--timeout", "abc"),
    ("hook", "--installed-version", "2026.2.19", "--timeout=-5"),
    ("hook", "--installed-version", "2026.2.19", "--lock-timeout", "abc"),
    ("upgrade", "head", "--lock-timeout", "abc"),
    ("upgrade", "head", "--lock-timeout=-1"),
    ("upgrade", "head", "--json", "--lock-timeout", "abc"),
]


@pytest.mark.parametrize("work", [False, True], ids=["no-op", "work"])
@pytest.mark.parametrize("argv", BAD_SECONDS, ids=" ".join)
def test_a_bad_number_of_seconds_is_refused_with_or_without_work(
    mixed: Path, argv: tuple[str, ...], work: bool
) -> None:
    if not work:
        assert run_cli("upgrade", "head", "--store", str(mixed), "-q").returncode == 0
    before = store_files(mixed)
    result = run_cli(*argv, "--store", str(mixed))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Invalid value" in result.stderr and "timeout" in result.stderr
    assert store_files(mixed) == before
    if work:
        assert_original(mixed)
