"""Markdown files with a YAML front matter block, parsed strictly.

Numbers in front matter stay strings at this layer (``id: 001`` is the id ``"001"``, not the
integer 1); pydantic converts fields that really are numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import UsageError


class _StringNumberLoader(yaml.SafeLoader):
    """SafeLoader that leaves int- and float-looking scalars as strings."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's constructors raise plain Python errors for some scalars (`date: 2024-02-30`,
        # `!!int abc`, `!!bool maybe`): report them as YAML errors at the value's line.
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            value = repr(_clip(node.value)) if isinstance(node, yaml.ScalarNode) else "the value"
            why = f" ({exc})" if isinstance(exc, ValueError | OverflowError) else ""
            problem = f"{value} is not a valid {node.tag.rsplit(':', 1)[-1]}{why}; quote it if it is meant as text"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from exc


class _Dumper(yaml.SafeDumper):
    def choose_scalar_style(self) -> str:
        # PyYAML writes a NEL (U+0085) raw inside a single-quoted scalar, where reading it back folds
        # it to a space: such strings are written double-quoted, where it is escaped.
        style: str = super().choose_scalar_style()
        if style != '"' and self.event is not None and "\x85" in getattr(self.event, "value", ""):
            return '"'
        return style


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_StringNumberLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Document:
    meta: dict[str, Any]
    body: str
    body_line: int  # 1-based line number where the body starts, for error messages


def load_yaml(text: str, *, source: str, first_line: int = 1) -> Any:
    """Parse YAML, keeping number-looking scalars as strings; errors name the source and the line
    (``first_line`` is the line of the file where ``text`` starts)."""
    try:
        return yaml.load(text, Loader=_StringNumberLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + first_line}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            problem += f" ({context} that starts at line {context_mark.line + first_line})"
        raise UsageError(f"{where}: invalid YAML: {problem}", hint="fix the YAML syntax at that line") from exc
    except RecursionError as exc:
        raise UsageError(
            f"{source}: invalid YAML: the values are nested too deeply to read",
            hint="flatten the nested lists or mappings",
        ) from exc


def parse(text: str, *, source: str) -> Document:
    """Split ``text`` into front matter and body. A file without front matter has empty meta."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return Document(meta={}, body=text, body_line=1)
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            meta = load_yaml("".join(lines[1:index]), source=source, first_line=2) or {}
            if not isinstance(meta, dict):
                raise UsageError(
                    f"{source}:2: the front matter must be a mapping of `key: value` lines",
                    hint='start the file with `---`, then lines like `id: "001"` and `title: ...`, then `---`',
                )
            return Document(meta=meta, body="".join(lines[index + 1 :]), body_line=index + 2)
    raise UsageError(
        f"{source}:1: the front matter starts with `---` but is never closed",
        hint="add a line `---` after the last front matter field",
    )


def render(meta: dict[str, Any], body: str) -> str:
    front = yaml.dump(meta, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return f"---\n{front}---\n{body if body.endswith(chr(10)) or not body else body + chr(10)}"


def read(path: Path) -> Document:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: file not found", hint="check the path, or create the file") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text", hint="save the file as UTF-8") from exc
    except OSError as exc:  # a directory named like the file, no permission
        raise UsageError(
            f"{path}: cannot read the file: {exc.strerror or exc}", hint="make it a readable file"
        ) from exc
    return parse(text, source=str(path))
