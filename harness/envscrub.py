"""The environment that agent-run processes (the ``bash`` tool, the test runner) receive.

An allowlist, not a denylist: a secret under a name nobody thought of still stays out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_ALLOWED = {
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TZ",
    "TMPDIR",
    "PWD",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "CI",
    "NO_COLOR",
    "COLUMNS",
    "LINES",
}
_ALLOWED_PREFIXES = ("LC_",)
# Even an allowed-looking name is dropped when it smells of a credential.
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "SESSION", "COOKIE")
# Names whose value is a location, not a credential (SSH_AUTH_SOCK is the agent's socket path).
_LOCATION_SUFFIXES = ("SOCK", "SOCKET")


def is_secret_name(name: str) -> bool:
    """Whether a variable's name says its value is a credential: one of its words (split at ``_``, ``-``
    and ``.``) is a marker, ends with one (``APIKEY``, ``GHTOKEN``, ``OAUTH``) or is its plural. Matching
    words, not substrings, keeps ``KEYBOARD_LAYOUT`` or ``AUTHOR_NAME`` out: a masked value is replaced in
    every text a model sees, so a common word there would be masked everywhere."""
    words = [w for w in name.upper().replace("-", "_").replace(".", "_").split("_") if w]
    if not words or words[-1] in _LOCATION_SUFFIXES:
        return False
    return any(
        word.endswith(marker) or word == marker + "S" for word in words for marker in _SECRET_MARKERS
    )


def scrubbed_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The allowlisted part of ``base`` (default: this process's environment), plus ``extra``."""
    source = os.environ if base is None else base
    env = {
        name: value
        for name, value in source.items()
        if (name in _ALLOWED or name.startswith(_ALLOWED_PREFIXES)) and not is_secret_name(name)
    }
    env.update(extra)
    return env
