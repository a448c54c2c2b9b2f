"""The quick path's stdlib readers equal what they replace.

``stores/layout.py`` reads the ledger's first bytes by hand and prints paths
without ``pathlib`` (both cost the hook's no-op milliseconds of imports);
here each is held equal to the ``re`` and ``pathlib`` forms it replaces, on
generated inputs.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from hypothesis import given, settings
from hypothesis import strategies as st

from scopemigrate.stores.layout import pure_path, read_ledger_prefix

# The ledger prefix as it was read with ``re`` (the reference the hand reader keeps).
_PREFIX = re.compile(
    rb'\A\{\s*"format":\s*(\d+),\s*"heads":\s*\[([^\]]*)\]'
    rb'(?:,\s*"at_head_of":\s*(?:"([0-9a-f]{64})"|null))?'
)
_PLAIN_ID = re.compile(rb'\s*"([A-Za-z0-9_.\-]+)"\s*')


def reference(start: bytes) -> tuple[int, list[str], str | None] | None:
    found = _PREFIX.match(start[:4096])
    if found is None:
        return None
    heads: list[str] = []
    listed = found.group(2)
    for item in listed.split(b",") if listed.strip() else []:
        plain = _PLAIN_ID.fullmatch(item)
        if plain is None:
            return None
        heads.append(plain.group(1).decode("ascii"))
    mark = found.group(3)
    return int(found.group(1)), heads, mark.decode("ascii") if mark else None


def hand(start: bytes) -> tuple[int, list[str], str | None] | None:
    prefix = read_ledger_prefix(start)
    return None if prefix is None else (prefix.format, prefix.heads, prefix.at_head_of)


SPACE = st.text(" \t\n\r\x0b\x0c", max_size=2)
IDS = st.text("ab9_.-\"' x\\", min_size=0, max_size=4)
MARKS = st.one_of(
    st.just("null"),
    st.text("0123456789abcdefA", min_size=63, max_size=65).map(lambda h: f'"{h}"'),
)


@st.composite
def prefixes(draw: st.DrawFn) -> bytes:
    s = lambda: draw(SPACE)  # noqa: E731 - a fresh run of spaces at each place
    heads = ",".join(f'{s()}"{draw(IDS)}"{s()}' for _ in range(draw(st.integers(0, 3))))
    text = f'{{{s()}"format":{s()}{draw(st.sampled_from(["2", "02", "", "x", "10"]))},'
    text += f'{s()}"heads":{s()}[{heads}]'
    if draw(st.booleans()):
        text += f'{draw(st.sampled_from([",", " ,", ""]))}{s()}"at_head_of":{s()}{draw(MARKS)}'
    text += draw(st.sampled_from(["", ",", "}", ', "applied": {}']))
    cut = draw(st.integers(0, len(text)))
    return (text if draw(st.booleans()) else text[:cut]).encode()


@settings(max_examples=800, derandomize=True, deadline=None)
@given(prefixes())
def test_the_hand_read_ledger_prefix_equals_the_regex(start: bytes) -> None:
    assert hand(start) == reference(start)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.binary(max_size=80))
def test_the_hand_read_ledger_prefix_equals_the_regex_on_any_bytes(start: bytes) -> None:
    assert hand(b'{"format": 2, "heads": [' + start) == reference(
        b'{"format": 2, "heads": [' + start
    )


def test_a_written_ledger_prefix_is_read() -> None:
    text = b'{\n  "format": 2,\n  "heads": [\n    "a1", "b2"\n  ],\n  "at_head_of": "' + b"f" * 64
    assert hand(text + b'",\n  "applied": {}') == (2, ["a1", "b2"], "f" * 64)
    assert hand(b'{"format": 2, "heads": [], "at_head_of": null}') == (2, [], None)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.text("/.a~ ", max_size=10))
def test_pure_path_prints_as_pathlib_does(text: str) -> None:
    assert pure_path(text) == str(PurePosixPath(text))


RELEASE_TEXT = st.one_of(
    st.lists(st.integers(0, 30).map(str), min_size=1, max_size=4).map(".".join),
    st.text("0123456789.v-:~ab٣", max_size=9),
)


@settings(max_examples=600, derandomize=True, deadline=None)
@given(RELEASE_TEXT, RELEASE_TEXT)
def test_plain_releases_order_as_packaging_orders_them(a: str, b: str) -> None:
    from scopemigrate.versions import parse_release, plain_release

    key_a, key_b = plain_release(a), plain_release(b)
    if key_a is not None:
        parse_release(a)  # every plain release is one packaging reads
    if key_a is None or key_b is None:
        return
    va, vb = parse_release(a), parse_release(b)
    assert (key_a < key_b, key_a == key_b) == (va < vb, va == vb)


# Lines of migration files, plain and not: what plain_toml reads must be what
# tomllib reads, and whatever it cannot vouch for it must leave to tomllib.
KEYS = st.sampled_from(["revision", "release", "down_revision", "depends_on", "kind", "x-1", "a b"])
VALUES = st.one_of(
    st.sampled_from(
        [
            '"a1"',
            "'a1'",
            '""',
            '"""a"""',
            '"a\\"b"',
            "'a\\b'",
            "[]",
            '["a", "b",]',
            '[ "a" ]',
            "[,]",
            '["a" "b"]',
            "true",
            "false",
            "truex",
            "0",
            "-0",
            "01",
            "12",
            "1_0",
            "1.5",
            "+1",
            "1979-05-27",
            "{ a = 1 }",
            '["a",\n"b"]',
            '"a\tb"',
            '"a\x7fb"',
            '"a\x01"',
            "",
        ]
    ),
    st.text(st.sampled_from("\"'[]ab1 ,#=\t\r\x7f"), max_size=8),
)
LINES = st.one_of(
    st.builds(
        lambda k, v, c: f"{k} = {v}{c}", KEYS, VALUES, st.sampled_from(["", " # c", "#\x7f", " x"])
    ),
    st.sampled_from(
        [
            "",
            "   ",
            "# comment",
            "#\x01",
            "[[operations]]",
            "[operations]",
            "[ meta ]",
            "[a.b]",
            "[[ operations ]] # c",
            "[[operations]",
            "[]",
            'revision="r"',
            "\r",
            "x = 1\r",
        ]
    ),
)


@settings(max_examples=1500, derandomize=True, deadline=None)
@given(st.lists(LINES, max_size=6), st.sampled_from(["\n", "\r\n"]))
def test_plain_toml_reads_what_tomllib_reads(lines: list[str], ending: str) -> None:
    assert_read_as_tomllib_reads(ending.join(lines))


def assert_read_as_tomllib_reads(text: str) -> None:
    import tomllib

    from scopemigrate.migration_files import plain_toml

    plain = plain_toml(text)
    if plain is None:
        return  # left to tomllib
    document = tomllib.loads(text)  # raises if plain_toml read something invalid
    # plain_toml gives the top-level values; tables and arrays of tables are not its job.
    tables = {k for k, v in document.items() if isinstance(v, dict)}
    tables |= {
        k for k, v in document.items() if isinstance(v, list) and v and isinstance(v[0], dict)
    }
    assert plain == {k: v for k, v in document.items() if k not in tables}


def test_plain_toml_reads_every_shipped_file() -> None:
    import tomllib

    from scopemigrate.migration_files import plain_toml, shipped_migrations_path

    folder = Path(shipped_migrations_path())
    for path in sorted(folder.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text)
        top = {k: v for k, v in document.items() if k != "operations"}
        assert plain_toml(text) == top, path.name


PLAIN_LINES = st.one_of(
    st.builds(
        lambda k, v: f"{k} = {v}",
        st.sampled_from(["revision", "release", "down_revision", "kind", "x-1", "scopes"]),
        st.sampled_from(['"a1"', "'a1'", '""', "[]", '["a", "b",]', "true", "-0", "12"]),
    ),
    st.sampled_from(["", "# c", "[[operations]]", "[operations]", "[meta]", "[ meta ] # m"]),
)


@settings(max_examples=800, derandomize=True, deadline=None)
@given(st.lists(PLAIN_LINES, max_size=8))
def test_plain_toml_reads_what_tomllib_reads_in_plain_files(lines: list[str]) -> None:
    assert_read_as_tomllib_reads("\n".join(lines))
