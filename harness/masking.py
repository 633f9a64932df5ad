"""Secret values masked out of text before it reaches a model.

A :class:`Masker` knows the values of the secret-looking variables (names matched by
:func:`harness.envscrub.is_secret_name`) of one or more environments, plus any extra named values,
and replaces each occurrence in a text with ``[NAME redacted]``. The agent seam
(:mod:`harness.agent`) masks every request with it, and the workspace tools mask their results with it.

What counts as an occurrence:

- the value itself;
- its base64, standard and URL-safe alphabets, with or without ``=`` padding. Base64 of a value
  embedded in a longer byte string depends on where the value starts within a 3-byte group, so for
  each of the three alignments the characters that depend on the value's bits alone (its stable middle
  part) are matched, as are the characters up to the end when the encoded data ends with the value.
  The one character at each edge of an embedded copy that mixes the value's bits with its neighbours'
  stays visible: at most 4 of the value's bits at each end;
- its hex, lower and upper case;
- the reversed string;
- its percent-encoding (:func:`urllib.parse.quote` with the default and with no safe characters, and
  :func:`urllib.parse.quote_plus`).

A copy may be broken across lines (``base64`` and ``xxd -p`` wrap their output, and so do terminals and
formatters): a line break (``\\n`` or ``\\r\\n``) is allowed between any two characters of every form.

Lengths:

- values shorter than :data:`SECRET_MIN_CHARS` (8) characters are ignored altogether: they are too
  likely to occur in ordinary output (``true``, ``1234``, a port) to be worth masking;
- an encoded form is masked only when it is at least :data:`ENCODED_MIN_CHARS` (10) characters long.
  For values of 8 or more bytes every base64 and hex form passes (the shortest, an alignment fragment of
  an 8-byte value, has 10 characters: 60 bits, which a megabyte of unrelated base64 matches by chance
  with a probability of about 10^-12); what the floor drops is the reversed and percent-encoded forms
  of 8- and 9-character values, the low-entropy passwords whose reversal is most likely to be an
  ordinary word or number.

Overlapping occurrences (two secrets that share characters, a value inside another value) are masked
as one span, so no part of either shows; at each position the longest form wins. The masking is
deterministic: the same text and the same secrets give the same output, which keeps the prompt cache
of an unchanged history valid.

Speed: all forms of all values are compiled once per set of secrets into a single regular expression
shaped like a trie (forms sharing a prefix share a branch). A long text is first checked with plain
substring searches (which skip ahead, so a megabyte takes a few milliseconds) and goes through the
expression only when some form occurs in it.

Pieces: a run of :data:`PIECE_MIN_CHARS` (12) or more token characters (letters, digits, ``_+/-``) that
is part of a secret is masked too. pytest's assertion output truncates a long string to its head and tail
(``'sk-ant-api03-mas...x7Z9d4e1bQx7Z'``); each end is such a piece. The cost: ordinary text that happens to
contain 12 characters of a secret (its public prefix, ``sk-ant-api03``) is masked as well.

Not caught: pieces shorter than 12 characters or glued to other token characters, a value printed with
a separator between its characters, compressed, encrypted or encoded any other way.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import BaseModel

from harness.envscrub import is_secret_name

__all__ = ["ENCODED_MIN_CHARS", "SECRET_MIN_CHARS", "Masker", "encoded_forms", "secret_values"]

SECRET_MIN_CHARS = 8
PIECE_MIN_CHARS = 12
_PIECE = re.compile(rf"[A-Za-z0-9_+/-]{{{PIECE_MIN_CHARS},}}")
ENCODED_MIN_CHARS = 10
# Allowed between two characters of a base64 or hex form: the line breaks of wrapped output.
_WRAP = r"(?:\r?\n)?"
# Longer texts are first checked with ``str`` searches for every form, which skip ahead instead of
# trying the regular expression at each position; shorter ones go straight to the regular expression.
_PREFILTER_CHARS = 2048


def secret_values(*envs: Mapping[str, str] | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{value: name}`` for the secret-looking variables of ``envs`` (``None`` entries skipped) and every
    entry of ``extra``, values shorter than :data:`SECRET_MIN_CHARS` left out. A value found under several
    names keeps the name of the last source that has it."""
    found: dict[str, str] = {}
    for env in envs:
        for name, value in (env or {}).items():
            if is_secret_name(name) and len(value) >= SECRET_MIN_CHARS:
                found[value] = name
    for name, value in (extra or {}).items():
        if len(value) >= SECRET_MIN_CHARS:
            found[value] = name
    return found


def _base64_forms(data: bytes) -> list[str]:
    """The base64 text that depends on ``data`` alone, for each of the three alignments, in both alphabets."""
    forms: list[str] = []
    bits = 8 * len(data)
    for offset in range(3):  # bytes before ``data`` in its 3-byte group
        start_bit = 8 * offset
        first = -(-start_bit // 6)  # the first character whose 6 bits are all ``data``'s
        embedded = base64.b64encode(b"\0" * offset + data + b"\0\0\0").decode()
        last = (start_bit + bits) // 6  # one past the last such character
        ending = base64.b64encode(b"\0" * offset + data).decode()  # the data ends with the value
        for text in (embedded[first:last], ending[first:], ending[first:].rstrip("=")):
            forms += [text, text.replace("+", "-").replace("/", "_")]
    return forms


def encoded_forms(value: str) -> list[str]:
    """The encodings of ``value`` that are masked (:data:`ENCODED_MIN_CHARS` or longer), without duplicates
    and without ``value`` itself."""
    data = value.encode("utf-8", "surrogatepass")
    forms = [
        *_base64_forms(data),
        data.hex(),
        data.hex().upper(),
        value[::-1],
        quote(value),
        quote(value, safe=""),
        quote_plus(value),
    ]
    return [form for form in dict.fromkeys(forms) if form != value and len(form) >= ENCODED_MIN_CHARS]


def _unwrapped(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


def _trie_pattern(forms: Iterable[str]) -> str:
    """One regular expression matching every form, the longest one at each position, with an optional line
    break between any two characters."""
    end = object()
    root: dict[Any, Any] = {}
    for form in forms:
        node = root
        for char in form:
            node = node.setdefault(char, {})
        node[end] = None

    def emit(node: dict[Any, Any], separator: str) -> str:
        """The expression for what may follow ``node``; ``separator`` goes before its next character."""
        parts: list[str] = []
        # Chains of single children become plain concatenation, so recursion only happens at branches.
        while len(node) == 1 and end not in node:
            ((char, node),) = node.items()
            parts.append(separator + re.escape(char))
            separator = _WRAP
        chars = sorted(char for char in node if char is not end)
        if chars:
            # The children start with different characters, so at most one of them can match.
            branches = [re.escape(char) + emit(node[char], _WRAP) for char in chars]
            body = separator + (branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")")
            # Greedy: where one form is a prefix of another, the longer one is tried first.
            parts.append(f"(?:{body})?" if end in node else body)
        return "".join(parts)

    return emit(root, "")


@dataclass(frozen=True)
class Masker:
    """Masks the values of ``secrets``, ``(value, name)`` pairs, and their encodings (see the module docstring).

    Build it with :meth:`from_env`, which caches one per set of secrets: compiling the expression takes
    some 15 ms for an API key and about a second for a 4 KB private key.
    """

    secrets: tuple[tuple[str, str], ...] = ()
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _labels: dict[str, str] = field(init=False, repr=False, compare=False)
    _needles: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        labels: dict[str, str] = {}
        ordered = sorted(self.secrets, key=lambda item: (-len(item[0]), item))
        for value, name in ordered:  # a value's own name beats an encoding of another value that equals it
            labels.setdefault(value, name)
        for value, name in ordered:
            for form in encoded_forms(value):
                labels.setdefault(form, name)
        # Matches are looked up with their line breaks removed (a form may contain some of its own).
        object.__setattr__(self, "_labels", {_unwrapped(form): name for form, name in reversed(labels.items())})
        object.__setattr__(self, "_needles", tuple(dict.fromkeys(_unwrapped(form) for form in labels)))
        object.__setattr__(self, "_pattern", re.compile(_trie_pattern(labels)) if labels else None)

    @classmethod
    def from_env(cls, *envs: Mapping[str, str] | None, extra: Mapping[str, str] | None = None) -> Masker:
        """The masker for the secrets of ``envs`` (default: this process's environment) and ``extra``."""
        found = secret_values(*(envs or (os.environ,)), extra=extra)
        return _cached(tuple(sorted(found.items())))

    def mask(self, text: str) -> str:
        """``text`` with every occurrence of a secret value, of an encoding of one or of a piece of one replaced
        by ``[NAME redacted]``."""
        return self._mask_pieces(self._mask_forms(text))

    def _mask_pieces(self, text: str) -> str:
        sources = [(value, name) for value, name in self.secrets if len(value) > PIECE_MIN_CHARS]
        if not sources or not text:
            return text

        def swap(match: re.Match[str]) -> str:
            token = match.group()
            name = next((name for value, name in sources if token in value), None)
            return token if name is None else f"[{name} redacted]"

        return _PIECE.sub(swap, text)

    def _mask_forms(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        if len(text) >= _PREFILTER_CHARS and not self._may_occur(text):
            return text
        match = pattern.search(text)
        if match is None:
            return text
        out: list[str] = []
        done = 0
        while match is not None:
            start, stop = match.span()
            names = [self._label(match.group())]
            # Matches that start inside this one and reach past it extend it: overlapping secrets show no part.
            following = pattern.search(text, start + 1)
            while following is not None and following.start() < stop:
                if following.end() > stop:
                    stop = following.end()
                    name = self._label(following.group())
                    if name not in names:
                        names.append(name)
                following = pattern.search(text, following.start() + 1)
            out += [text[done:start], f"[{', '.join(names)} redacted]"]
            done = stop
            match = following
        out.append(text[done:])
        return "".join(out)

    def mask_value(self, value: Any) -> Any:
        """``value`` with :meth:`mask` applied to every string in it: nested dicts (their values), lists,
        tuples and pydantic models (the SDK's content blocks, extra fields included). Unchanged parts are
        returned as they are, so an unchanged history costs no copies."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            masked = {key: self.mask_value(item) for key, item in value.items()}
            return value if all(masked[key] is item for key, item in value.items()) else masked
        if isinstance(value, list | tuple):
            items = [self.mask_value(item) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, BaseModel):
            fields = {name: getattr(value, name) for name in type(value).model_fields} | (value.model_extra or {})
            changed = {name: new for name, old in fields.items() if (new := self.mask_value(old)) is not old}
            return value.model_copy(update=changed) if changed else value
        return value

    def _may_occur(self, text: str) -> bool:
        """False when no form occurs in ``text``, even wrapped: with the line breaks of both removed, a
        wrapped copy is a plain one."""
        unwrapped = _unwrapped(text)
        return any(form in unwrapped for form in self._needles)

    def _label(self, matched: str) -> str:
        return self._labels.get(_unwrapped(matched), "secret")


@functools.lru_cache(maxsize=16)
def _cached(secrets: tuple[tuple[str, str], ...]) -> Masker:
    return Masker(secrets)
