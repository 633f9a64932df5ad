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
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "SESSION")


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in _SECRET_MARKERS)


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
