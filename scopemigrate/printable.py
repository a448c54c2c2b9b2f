"""Store text made safe for a terminal or a line-oriented log: the one escaping helper.

Device names, record keys, scopes and paths come from the store, which a less
trusted user (or any client that pairs) writes. Printed raw, an ANSI or OSC
escape rewrites the terminal, a newline forges a line of output, and a lone
surrogate (valid in JSON text, not in UTF-8) crashes the encoder. Every line
the CLI prints goes through ``printable``; every JSON document through
``printable_json``, which keeps it valid JSON with the same values.

Standard library only: the quick paths print store text too.
"""

from __future__ import annotations

import re

__all__ = ["printable", "printable_json"]

# C0 and C1 controls, DEL; line and paragraph separators (a line break to some
# log readers); the bidirectional overrides and isolates (they reorder what a
# reader sees: "Trojan Source"); lone surrogates (not encodable as UTF-8).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# What ``json.dumps(..., ensure_ascii=False)`` leaves raw inside strings (it
# escapes C0 itself; a raw newline in its output is indentation).
_UNSAFE_IN_JSON = re.compile(
    "[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every character that could act on a terminal or break a line
    written as a visible escape (``\\e``, ``\\n``, ``\\x9b``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape, text)


def _json_escape(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"


def printable_json(document: str) -> str:
    """A JSON text with the same characters written as ``\\uXXXX`` escapes: the
    document parses to the same value, and prints nothing a terminal acts on.

    ``json.dumps`` already escapes C0 controls; DEL, C1, the separators, the
    bidi controls and lone surrogates it writes raw (``ensure_ascii=False``).
    """
    return _UNSAFE_IN_JSON.sub(_json_escape, document)
