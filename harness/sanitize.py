"""Untrusted text on its way to a model (PR bodies, commit messages, diffs, files of the head).

Prose loses its HTML comments (invisible on GitHub, readable by a model: the classic place to hide
"ignore previous instructions") and its invisible characters. In code, invisible and
bidirectional-control characters are made visible as ``[U+202E]`` instead of silently removed, so
the reviewer can see a Trojan-Source-style trick rather than be fooled by it.
"""

from __future__ import annotations

import re

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_INVISIBLE = re.compile(
    "["
    "\u00ad"  # soft hyphen
    "\u061c"  # Arabic letter mark
    "\u180e"  # Mongolian vowel separator
    "\u200b-\u200f"  # zero-width spaces and joiners, LRM/RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u2069"  # bidi isolates
    "\ufe00-\ufe0f"  # variation selectors
    "\ufeff"  # zero-width no-break space
    "\U000e0000-\U000e007f"  # tag characters
    "\U000e0100-\U000e01ef"  # variation selectors supplement
    "]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def prose(text: str) -> str:
    """Text written for people: HTML comments, invisible and control characters removed."""
    return _CONTROL.sub("", _INVISIBLE.sub("", _HTML_COMMENT.sub("", text)))


def code(text: str) -> str:
    """Source and diffs: invisible characters shown as ``[U+XXXX]``, control characters too."""

    def show(match: re.Match[str]) -> str:
        return f"[U+{ord(match.group()):04X}]"

    return _CONTROL.sub(show, _INVISIBLE.sub(show, text))
