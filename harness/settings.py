"""Raw configuration access for commands that must start fast (``harness guard``, a pre-commit hook).

``harness.config`` validates the whole configuration with pydantic, which costs a few tenths of a
second to import. This module reads the same table with ``tomllib`` alone and checks only the keys a
start-up-critical command needs. The defaults that both places use live here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from harness.errors import UsageError

DEFAULT_HARNESS_DIR = ".harness"
DEFAULT_PROTECTED_PATHS = ("harness.toml", ".github/**", ".gitlab-ci.yml", ".ci/**")

CONFIG_HINT = "fix or remove the key; every key and its default is listed in docs/configuration.md"


def read_table(root: Path, rev: str | None = None) -> tuple[dict[str, Any], Path | None]:
    """The harness configuration table and the file it came from: ``harness.toml`` (the whole file),
    else ``[tool.harness]`` in ``pyproject.toml``; ``({}, None)`` when there is neither. With ``rev``, as
    committed in that revision of the repository at ``root`` (the file then reads ``<rev>:harness.toml``)."""
    if rev is not None:
        return _read_table_at(root, rev)
    toml_path = root / "harness.toml"
    pyproject = root / "pyproject.toml"
    if toml_path.is_file():
        return _read_toml(toml_path), toml_path
    if pyproject.is_file():
        return _pyproject_section(_read_toml(pyproject), pyproject)
    return {}, None


def _read_table_at(root: Path, rev: str) -> tuple[dict[str, Any], Path | None]:
    from harness import gitops

    for name in ("harness.toml", "pyproject.toml"):
        done = gitops.in_checkout(root, ["cat-file", "blob", f"{rev}:{name}"])
        if done.returncode != 0:
            continue
        label = Path(f"{rev[:12]}:{name}")
        data = _parse_toml(done.stdout, label)
        return (data, label) if name == "harness.toml" else _pyproject_section(data, label)
    return {}, None


def _pyproject_section(document: dict[str, Any], pyproject: Path) -> tuple[dict[str, Any], Path | None]:
    tool = document.get("tool")
    section = tool.get("harness") if isinstance(tool, dict) else None
    if isinstance(section, dict):
        return section, pyproject
    if section is not None:
        raise UsageError(
            f"{pyproject}: field `tool.harness`: must be a table, not {_type_name(section)}",
            hint="write the settings under a `[tool.harness]` header, or remove `tool.harness`",
        )
    return {}, None


def describe_source(source: Path | None) -> str:
    """How error messages name where the configuration came from."""
    if source is None:
        return "configuration"
    return f"{source}" + (" [tool.harness]" if source.name == "pyproject.toml" else "")


def guard_settings(root: Path, rev: str | None = None) -> tuple[str, tuple[str, ...]]:
    """``harness_dir`` and ``protected_paths`` from the configuration (as committed in ``rev``, when given),
    type-checked, defaults applied."""
    data, source = read_table(root, rev)
    harness_dir = data.get("harness_dir", DEFAULT_HARNESS_DIR)
    if not isinstance(harness_dir, str):
        raise UsageError(
            f"{describe_source(source)}: field `harness_dir`: must be a string, not {_type_name(harness_dir)}",
            hint=CONFIG_HINT,
        )
    protected = data.get("protected_paths", list(DEFAULT_PROTECTED_PATHS))
    if not isinstance(protected, list) or not all(isinstance(p, str) for p in protected):
        raise UsageError(
            f"{describe_source(source)}: field `protected_paths`: must be a list of glob strings",
            hint=CONFIG_HINT,
        )
    return harness_dir, tuple(protected)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot read the file: {exc.strerror or exc}", hint="make it a readable file"
        ) from exc
    return _parse_toml(data, path)


def _parse_toml(data: bytes, path: Path) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text", hint="save the file as UTF-8") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}", hint="fix the syntax at that line") from exc
    except ValueError as exc:  # an integer too long to convert
        raise UsageError(f"{path}: invalid TOML: {exc}", hint="shorten the value") from exc
    except RecursionError as exc:
        raise UsageError(
            f"{path}: invalid TOML: arrays or tables nested too deeply to read", hint="flatten the nesting"
        ) from exc


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)
