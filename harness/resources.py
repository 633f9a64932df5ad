"""Where the bundled prompts, skills, schemas and examples are.

A built wheel carries them in ``harness/_bundled/``; an editable install reads them from the
top of the source tree, where they are maintained.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """The directory of a bundled resource: ``prompts``, ``skills``, ``contracts`` or ``examples``."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled resource {name!r} is missing from this installation of harness")
