"""The six workspace tools agents use (read, write, edit, bash, glob, grep), confined to one directory.

Every failure the model can act on is a :class:`ToolRefusal` whose message says what to do instead;
nothing here lets a path (relative, ``..``, absolute or through a symlink) reach outside the root.
``bash`` commands pass :mod:`harness.sandbox`'s policy first and may run under bubblewrap; what is
confined and what is not is in docs/sandbox.md.

A workspace given a ``listing`` is a *view*: ``read``, ``glob`` and ``grep`` see only the files it names
(the planners' view of a repository as git sees it), asked afresh on every call.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import fnmatch
import functools
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ParamSpec

from pydantic import BaseModel, ConfigDict, Field

from harness.envscrub import scrubbed_env
from harness.fsutil import atomic_write_text
from harness.masking import Masker
from harness.policy import check_command
from harness.sandbox import Bwrap

__all__ = [
    "READ_ONLY_TOOLS",
    "WORKSPACE_TOOLS",
    "BashInput",
    "EditInput",
    "GlobInput",
    "GrepInput",
    "ReadInput",
    "ToolRefusal",
    "ToolSpec",
    "Workspace",
    "WriteInput",
]

EXCLUDED_DIRS = frozenset({".git", "__pycache__", ".venv", "node_modules", ".pytest_cache", ".mypy_cache"})

READ_DEFAULT_LIMIT = 2000
READ_MAX_LINE_CHARS = 2000
# A 2000-line page of 2000-character lines would be ~4M characters; stop a page early instead.
READ_MAX_PAGE_CHARS = 250_000
BINARY_SNIFF_BYTES = 8192
GLOB_MAX_RESULTS = 500
GREP_MAX_MATCHES = 200
GREP_MAX_LINE_CHARS = 300
GREP_MAX_FILE_BYTES = 2 * 1024 * 1024
# Output goes to a temp file so memory is safe, but a runaway `yes` would still fill the disk.
BASH_MAX_OUTPUT_BYTES = 64 * 1024 * 1024
BASH_HEAD_SHARE = 0.4
PATH_MAX_BYTES = 4096
NAME_MAX_BYTES = 255
# Path.mkdir(parents=True) recurses once per missing directory.
PATH_MAX_DEPTH = 256
_BRACE_EXPANSION_LIMIT = 256
# Every process a `bash` call starts inherits this variable, so leftovers that left the process group
# (`setsid`, a double fork) are still found and killed when the call ends.
BASH_CALL_VARIABLE = "HARNESS_BASH_CALL"

_P = ParamSpec("_P")


class ToolRefusal(Exception):
    """A refusal or failure the model can act on.

    ``str(exc)`` is shown to the model and must say what to do instead.
    """


# --------------------------------------------------------------------------------------------
# Public interface: input models and tool specs
# --------------------------------------------------------------------------------------------

_PATH_HELP = "File path relative to the workspace root, e.g. `src/app.py`. Absolute paths and `..` are refused."


class ReadInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description=_PATH_HELP)
    offset: int | None = Field(
        default=None,
        ge=1,
        description="1-based line number to start reading from. Omit to start at line 1.",
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        description=f"Maximum number of lines to return. Omit for the default of {READ_DEFAULT_LIMIT}.",
    )


class WriteInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description=_PATH_HELP + " Missing parent directories are created.")
    content: str = Field(description="The complete new content of the file; it replaces any existing content.")


class EditInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description=_PATH_HELP + " The file must already exist.")
    old_string: str = Field(
        description=(
            "Exact text to replace, copied from the file including whitespace and indentation "
            "(without the line-number prefix that `read` shows). Must be unique unless replace_all is true."
        )
    )
    new_string: str = Field(description="Text to put in place of old_string. Must differ from old_string.")
    replace_all: bool = Field(
        default=False,
        description="Replace every occurrence of old_string instead of requiring exactly one.",
    )


class BashInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = Field(description="Shell command run with /bin/bash -c in the workspace root.")
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Timeout in seconds. Omit for the default; values above the maximum are capped.",
    )


class GlobInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(
        description=(
            "Glob pattern relative to the workspace root, e.g. `**/*.py`, `src/**/test_*.py`, "
            "`*.{md,txt}`. `*` stays within one directory; `**` spans any number of directories."
        )
    )


class GrepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(
        description="Python regular expression searched for in each line, e.g. `def \\w+_test` or `TODO\\(`."
    )
    path: str | None = Field(
        default=None,
        description="File or directory to search, relative to the workspace root. Omit to search everything.",
    )
    glob: str | None = Field(
        default=None,
        description="Only search files whose path or name matches this glob, e.g. `*.py` or `src/**/*.ts`.",
    )


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_model: type[BaseModel]


_EXCLUDED_LIST = ", ".join(sorted(EXCLUDED_DIRS))

WORKSPACE_TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            name="read",
            description=(
                "Read a text file in the workspace. Paths are relative to the workspace root. Returns lines "
                "numbered like `cat -n` (line number, tab, text); the numbers are not part of the file. "
                f"Returns up to {READ_DEFAULT_LIMIT} lines starting at `offset` (1-based); lines longer than "
                f"{READ_MAX_LINE_CHARS} characters are truncated. For long files, page with `offset` and "
                "`limit`. Directories and binary files are refused; use `glob` to find files."
            ),
            input_model=ReadInput,
        ),
        ToolSpec(
            name="write",
            description=(
                "Create a file or overwrite it entirely with `content`. Paths are relative to the workspace "
                "root; missing parent directories are created. To change part of an existing file, prefer "
                "`edit`. Files inside `.git` and files the harness protects (such as frozen tests) cannot "
                "be written."
            ),
            input_model=WriteInput,
        ),
        ToolSpec(
            name="edit",
            description=(
                "Replace exact text in an existing file. `old_string` must match the file exactly, "
                "including whitespace and indentation but without the line numbers `read` shows, and must "
                "occur exactly once; include surrounding lines to make it unique, or set `replace_all` to "
                "replace every occurrence. `read` the file before editing it. Paths are relative to the "
                "workspace root."
            ),
            input_model=EditInput,
        ),
        ToolSpec(
            name="bash",
            description=(
                "Run a non-interactive shell command with /bin/bash in the workspace root and return its "
                "combined stdout and stderr followed by `[exit code: N]`. The default timeout is set by the "
                "harness (usually 120 s, at most 600 s; pass `timeout` in seconds for longer commands); on "
                "timeout the command and its children are killed. stdin is empty, secrets are not in the "
                "environment, and background processes are killed when the command returns. Very long output "
                "keeps its beginning and end. Commands that push, commit, rewrite history, switch or delete "
                "branches, or change files outside the workspace are refused: the harness commits your work "
                "itself. Prefer `read`, `glob`, `grep` and `edit` over cat, find, grep and sed."
            ),
            input_model=BashInput,
        ),
        ToolSpec(
            name="glob",
            description=(
                "List files whose path relative to the workspace root matches a glob pattern: `*` and `?` "
                "match within one path segment, `**` matches any number of directories, `[abc]` is a "
                "character class and `{a,b}` gives alternatives. `*.py` matches only the top level; use "
                f"`**/*.py` for all. Returns sorted paths of files (not directories), at most "
                f"{GLOB_MAX_RESULTS}; skips {_EXCLUDED_LIST}."
            ),
            input_model=GlobInput,
        ),
        ToolSpec(
            name="grep",
            description=(
                "Search file contents with a Python regular expression (`re` syntax, matched against "
                "each line; escape special characters such as `(` with a backslash). Narrow the search "
                "with `path` (a file or directory relative to the workspace root) and `glob` (e.g. `*.py`). "
                f"Returns `path:line_number:line`, sorted by path and line, at most {GREP_MAX_MATCHES} "
                f"matches; lines are cut at {GREP_MAX_LINE_CHARS} characters. Skips binary files, files "
                "over 2 MB and "
                f"{_EXCLUDED_LIST}."
            ),
            input_model=GrepInput,
        ),
    )
}

READ_ONLY_TOOLS = ("read", "glob", "grep", "bash")


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _show(text: str, limit: int = 120) -> str:
    """``text`` in backticks, shortened so a 10 000-character path does not flood the message."""
    if len(text) > limit:
        text = text[: limit - 20] + "..." + text[-17:]
    return f"`{text}`"


def _os_error_message(exc: OSError, root: Path) -> str:
    name = exc.filename if isinstance(exc.filename, str) else None
    if name is not None:
        with contextlib.suppress(ValueError):
            name = Path(name).relative_to(root).as_posix()
    where = f" ({_show(name)})" if name else ""
    code = exc.errno
    if code == errno.ENAMETOOLONG:
        return f"the path is too long{where}; use a shorter path"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}; choose a file you are allowed to change, or use `bash` to check"
    if code == errno.ENOTDIR:
        return f"a parent of the path is a file, not a directory{where}; use `glob` to check the layout"
    if code == errno.EISDIR:
        return f"the path is a directory{where}; use `glob` to list its files"
    if code == errno.ELOOP:
        return f"the path runs into a symlink loop{where}; use a path that does not go through it"
    if code == errno.ENOSPC:
        return "no space left on the device; delete large temporary files with `bash` and try again"
    return f"{exc.strerror or exc}{where}; check the path with `glob` and try again"


def _tool(method: Callable[_P, str]) -> Callable[_P, str]:
    """A tool method: file-system failures (name too long, permissions, ...) become refusals instead of
    crashes, and secret values from the harness's environment never reach the model."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> str:
        workspace = args[0]
        assert isinstance(workspace, Workspace)
        try:
            return workspace.redact(method(*args, **kwargs))
        except ToolRefusal as exc:
            raise ToolRefusal(workspace.redact(str(exc))) from exc
        except OSError as exc:
            raise ToolRefusal(workspace.redact(_os_error_message(exc, workspace.root))) from exc
        except UnicodeEncodeError as exc:
            raise ToolRefusal(
                "the input contains characters that cannot be encoded as UTF-8 (e.g. lone surrogates); "
                "remove them and try again"
            ) from exc

    return wrapper


def _is_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\0" in handle.read(BINARY_SNIFF_BYTES)


def _split_lines(text: str) -> list[str]:
    """Lines split like Python's universal newlines, so grep's line numbers agree with read's."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _count_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def _iter_lines(handle: IO[str], max_chars: int) -> Iterator[tuple[str, int]]:
    """Yield ``(line without newline, characters cut off)``, never holding more than one long line's head."""
    while True:
        line = handle.readline(max_chars + 1)
        if not line:
            return
        if line.endswith("\n"):
            yield line[:-1], 0
        elif len(line) <= max_chars:
            yield line, 0
        else:
            cut = len(line) - max_chars
            while True:
                rest = handle.readline(1 << 20)
                if not rest:
                    break
                if rest.endswith("\n"):
                    cut += len(rest) - 1
                    break
                cut += len(rest)
            yield line[:max_chars], cut


def _cap_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = int(limit * BASH_HEAD_SHARE)
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n[... {omitted} characters omitted ...]\n{text[len(text) - tail :]}"


def _read_capped(handle: IO[bytes], limit: int) -> str:
    """The output file's text, with the middle cut when it is longer than ``limit`` characters."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    # UTF-8 needs at most 4 bytes per character, so a file this small decodes to a manageable string.
    if size <= limit * 4 + 4096:
        return _cap_text(handle.read().decode("utf-8", "replace"), limit)
    head_chars = int(limit * BASH_HEAD_SHARE)
    tail_chars = limit - head_chars
    head = handle.read(head_chars * 4).decode("utf-8", "replace")[:head_chars]
    handle.seek(max(0, size - tail_chars * 4))
    tail_text = handle.read().decode("utf-8", "replace")
    tail = tail_text[len(tail_text) - tail_chars :] if tail_chars else ""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    total = 0
    handle.seek(0)
    while chunk := handle.read(1 << 20):
        total += len(decoder.decode(chunk))
    total += len(decoder.decode(b"", final=True))
    omitted = max(0, total - len(head) - len(tail))
    return f"{head}\n[... {omitted} characters omitted ...]\n{tail}"


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _kill_marked(marker: str) -> None:
    """Kill every process whose environment carries ``marker`` (Linux; elsewhere the group kill must do)."""
    needle = marker.encode()
    for _ in range(5):  # a process may fork while we look; look again until none is left
        found = False
        try:
            entries = os.listdir("/proc")
        except OSError:
            return
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    environ = handle.read()
            except OSError:
                continue
            if needle in environ.split(b"\0"):
                found = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry), signal.SIGKILL)
        if not found:
            return
        time.sleep(0.01)


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g}s"


_BRACES = re.compile(r"\{([^{}]*,[^{}]*)\}")
_MAGIC = re.compile(r"[*?\[{]")


def _expand_braces(pattern: str) -> list[str]:
    """``a.{py,pyi}`` -> ``a.py``, ``a.pyi``; innermost braces first, so nesting works."""
    results: list[str] = []
    pending = [pattern]
    while pending:
        current = pending.pop()
        match = _BRACES.search(current)
        if match is None:
            if current not in results:
                results.append(current)
            continue
        for option in match.group(1).split(","):
            pending.append(current[: match.start()] + option + current[match.end() :])
        if len(pending) + len(results) > _BRACE_EXPANSION_LIMIT:
            raise ToolRefusal(
                f"the pattern {_show(pattern)} expands to too many alternatives; use fewer `{{a,b}}` groups"
            )
    return results


def _translate_segment(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"[^/{body}]" if negate else f"[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _translate_glob(pattern: str) -> str:
    parts = [part for part in pattern.split("/") if part not in ("", ".")]
    out: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
        else:
            out.append(_translate_segment(part) + ("" if last else "/"))
    return "".join(out)


def _compile_glob(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_translate_glob(p)})" for p in patterns))


def _glob_filter(patterns: list[str]) -> Callable[[str], bool]:
    """grep's file filter: the glob matches the relative path (``**`` aware or fnmatch-style) or the name."""
    regex = _compile_glob(patterns)

    def matches(rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return bool(regex.fullmatch(rel)) or any(
            fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns
        )

    return matches


def _excluded(relpath: str) -> bool:
    return any(part in EXCLUDED_DIRS for part in relpath.split("/"))


# --------------------------------------------------------------------------------------------
# The workspace
# --------------------------------------------------------------------------------------------


class Workspace:
    """One directory (a git worktree) and the tools that read and change it."""

    def __init__(
        self,
        root: Path,
        *,
        writable: bool = True,
        bash_timeout: float = 120.0,
        max_bash_timeout: float = 600.0,
        output_limit: int = 30_000,
        protected: Callable[[str], str | None] | None = None,
        env: Mapping[str, str] | None = None,
        sandbox: Bwrap | None = None,
        listing: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        """``listing``: the only files ``read``, ``glob`` and ``grep`` may see, as paths relative to the root
        (a file counts when its real location, after symlinks, is listed); None: every file under the root."""
        self.root: Path = Path(root).resolve()
        self.writable = writable
        self.bash_timeout = bash_timeout
        self.max_bash_timeout = max_bash_timeout
        self.output_limit = output_limit
        self.protected = protected
        self.env = env
        self.sandbox = sandbox
        self.listing = listing

    def redact(self, text: str) -> str:
        """``text`` with the values of secret-looking variables of the harness's environment (and of ``env``)
        masked, and their base64, hex, reversed and percent-encoded copies: see :mod:`harness.masking`.

        The agent's processes never get these variables; this catches what reaches them anyway (another
        process's ``/proc/PID/environ``, a file a script wrote). The agent seam masks every request with the
        same :class:`~harness.masking.Masker`, so this is a first line, not the only one.
        """
        return Masker.from_env(os.environ, self.env).mask(text)

    # -- paths ---------------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """The absolute, symlink-free path for ``path``, or a refusal when it is not inside the root."""
        if not path or not path.strip():
            raise ToolRefusal("the path is empty; give a path relative to the workspace root, e.g. `src/app.py`")
        if "\0" in path:
            raise ToolRefusal("the path contains a NUL byte; give a plain path relative to the workspace root")
        try:
            encoded = path.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ToolRefusal("the path contains characters that cannot be encoded as UTF-8; use a plain path") from exc
        if len(encoded) > PATH_MAX_BYTES or any(len(part.encode("utf-8")) > NAME_MAX_BYTES for part in path.split("/")):
            raise ToolRefusal(
                f"the path {_show(path)} is too long ({len(path)} characters); "
                f"use a shorter path (at most {NAME_MAX_BYTES} bytes per name)"
            )
        if path.count("/") >= PATH_MAX_DEPTH:
            raise ToolRefusal(
                f"the path {_show(path)} is nested too deeply ({path.count('/')} levels); "
                f"use a path with fewer than {PATH_MAX_DEPTH} directories"
            )
        if path == "~" or path.startswith("~/"):
            raise ToolRefusal(
                f"{_show(path)} is in the home directory, outside the workspace; "
                "use a path relative to the workspace root, e.g. `src/app.py`"
            )
        if os.path.isabs(path):
            hint = "e.g. `src/app.py`"
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                inside = Path(path).resolve().relative_to(self.root).as_posix()
                hint = f"here: {_show(inside)}"
            raise ToolRefusal(
                f"{_show(path)} is an absolute path; the tools only accept paths relative to the workspace root, {hint}"
            )
        normalized = os.path.normpath(path)
        if normalized == ".." or normalized.startswith("../"):
            raise ToolRefusal(
                f"{_show(path)} is outside the workspace (it climbs out with `..`); "
                "use a path relative to the workspace root, e.g. `src/app.py`"
            )
        try:
            resolved = (self.root / path).resolve()
        except RuntimeError as exc:
            raise ToolRefusal(
                f"{_show(path)} runs into a symlink loop; use a path that does not go through it"
            ) from exc
        except OSError as exc:
            raise ToolRefusal(_os_error_message(exc, self.root)) from exc
        if not resolved.is_relative_to(self.root):
            raise ToolRefusal(
                f"{_show(path)} leads outside the workspace through a symbolic link; "
                "use a real path inside the workspace (check with `glob`)"
            )
        if len(str(resolved).encode("utf-8")) >= PATH_MAX_BYTES:
            raise ToolRefusal(f"the path {_show(path)} is too long for the file system; use a shorter path")
        return resolved

    def relative(self, path: Path) -> str:
        """``path`` as a posix path relative to the root (``.`` for the root itself)."""
        candidate = path if path.is_absolute() else self.root / path
        try:
            return candidate.relative_to(self.root).as_posix()
        except ValueError:
            pass
        try:
            return candidate.resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError, RuntimeError) as exc:
            raise ToolRefusal(
                f"{_show(str(path))} is outside the workspace; use a path relative to the workspace root"
            ) from exc

    def _writable_target(self, path: str) -> Path:
        """The resolved target of a write or edit, after the read-only, .git and protected checks."""
        if not self.writable:
            raise ToolRefusal(
                "this agent has read-only access to the workspace and cannot write or edit files; "
                "describe the change you would make in your answer instead"
            )
        resolved = self.resolve(path)
        lexical = os.path.normpath(path).replace(os.sep, "/")
        real = self.relative(resolved)
        for candidate in (lexical, real):
            if any(part.casefold() == ".git" for part in candidate.split("/")):
                raise ToolRefusal(
                    f"{_show(path)} is inside `.git`; the harness manages git, do not touch .git "
                    "(change the files in the working tree instead)"
                )
        if self.protected is not None:
            # Case tricks: on a case-insensitive file system `Harness.toml` is `harness.toml`, and on any other
            # it collides with it in a checkout there; so the casefolded and on-disk spellings are checked too.
            variants = (lexical, real, lexical.casefold(), real.casefold(), self._on_disk_spelling(resolved))
            for candidate in dict.fromkeys(variants):
                reason = self.protected(candidate)
                if reason:
                    raise ToolRefusal(reason)
        if resolved == self.root or resolved.is_dir():
            raise ToolRefusal(f"{_show(path)} is a directory; give the path of a file inside it")
        for ancestor in resolved.parents:
            if ancestor.exists():
                if not ancestor.is_dir():
                    raise ToolRefusal(
                        f"{_show(self.relative(ancestor))} is a file, not a directory, so {_show(path)} "
                        "cannot be created inside it; choose another path"
                    )
                break
        return resolved

    def _on_disk_spelling(self, path: Path) -> str:
        """``path`` relative to the root, each existing name spelled as its directory lists it."""
        parts: list[str] = []
        current = self.root
        for part in path.relative_to(self.root).parts:
            spelled = part
            try:
                names = os.listdir(current)
            except OSError:
                names = []
            if part not in names:
                folded = part.casefold()
                for name in names:
                    with contextlib.suppress(OSError):
                        if name.casefold() == folded and (current / name).samefile(current / part):
                            spelled = name
                            break
            parts.append(spelled)
            current = current / spelled
        return "/".join(parts) or "."

    # -- dispatch ------------------------------------------------------------------------------

    def call(self, name: str, input: BaseModel) -> str:
        spec = WORKSPACE_TOOLS.get(name)
        if spec is None:
            raise ToolRefusal(f"there is no tool named {_show(name)}; use one of {', '.join(WORKSPACE_TOOLS)}")
        if not isinstance(input, spec.input_model):
            raise TypeError(f"tool {name!r} takes {spec.input_model.__name__}, not {type(input).__name__}")
        method: Callable[..., str] = getattr(self, name)
        return method(**dict(input))

    # -- read ----------------------------------------------------------------------------------

    @_tool
    def read(self, path: str, offset: int | None = None, limit: int | None = None) -> str:
        if offset is not None and offset < 1:
            raise ToolRefusal("offset is 1-based; use offset=1 (or omit it) to start at the first line")
        if limit is not None and limit < 1:
            raise ToolRefusal("limit must be at least 1; omit it to read up to 2000 lines")
        resolved = self.resolve(path)
        if not resolved.exists():
            name = Path(path).name or path
            raise ToolRefusal(f"{_show(path)} does not exist; use `glob` to find the file (e.g. pattern `**/{name}`)")
        if resolved.is_dir():
            shown = self.relative(resolved)
            pattern = "*" if shown == "." else f"{shown}/*"
            raise ToolRefusal(
                f"{_show(path)} is a directory, not a file; use `glob` (e.g. pattern `{pattern}`) to list it"
            )
        self._check_visible(path, resolved, self._visible())
        if _is_binary(resolved):
            raise ToolRefusal(
                f"{_show(path)} is a binary file and cannot be shown as text; "
                "use `bash` (e.g. `file` or `xxd | head`) to inspect it"
            )
        first = offset or 1
        count = limit or READ_DEFAULT_LIMIT
        out: list[str] = []
        chars = 0
        line_no = 0
        next_line: int | None = None
        with resolved.open("r", encoding="utf-8", errors="replace") as handle:
            lines = _iter_lines(handle, READ_MAX_LINE_CHARS)
            for line_no, (line, cut) in enumerate(lines, start=1):
                if line_no < first:
                    continue
                if len(out) >= count or chars >= READ_MAX_PAGE_CHARS:
                    next_line = line_no
                    break
                text = line + (f" [... line truncated, {cut} more characters]" if cut else "")
                entry = f"{line_no:6d}\t{text}"
                out.append(entry)
                chars += len(entry) + 1
            # Keep counting past the page so the note can say how long the file is.
            total = line_no + sum(1 for _ in lines)
        if total == 0:
            return f"{_show(path)} is empty (0 lines)"
        if first > total:
            raise ToolRefusal(
                f"{_show(path)} has {total} lines, so offset={first} is past the end; "
                f"use an offset between 1 and {total}"
            )
        if next_line is not None:
            out.append(
                f"[... showing lines {first}-{next_line - 1} of {total}; "
                f"to read further, call read with offset={next_line}]"
            )
        return "\n".join(out)

    # -- write / edit --------------------------------------------------------------------------

    @_tool
    def write(self, path: str, content: str) -> str:
        target = self._writable_target(path)
        atomic_write_text(target, content)
        shown = os.path.normpath(path).replace(os.sep, "/")
        return f"wrote {shown} ({_count_lines(content)} lines, {len(content.encode('utf-8'))} bytes)"

    @_tool
    def edit(self, path: str, old_string: str, new_string: str, replace_all: bool = False) -> str:
        target = self._writable_target(path)
        if not target.exists():
            raise ToolRefusal(
                f"{_show(path)} does not exist; `edit` changes existing files — use `write` to create it, "
                "or `glob` to find the right path"
            )
        if not old_string:
            raise ToolRefusal(
                "old_string is empty; copy the exact text to replace from the file (use `write` to create "
                "or fully rewrite a file)"
            )
        if old_string == new_string:
            raise ToolRefusal("old_string and new_string are identical, so nothing would change; nothing to do")
        if _is_binary(target):
            raise ToolRefusal(f"{_show(path)} is a binary file; `edit` only changes text files")
        try:
            text = target.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ToolRefusal(
                f"{_show(path)} is not valid UTF-8, so `edit` cannot change it safely; use `bash` instead"
            ) from exc
        found = text.count(old_string)
        if found == 0 and "\r\n" in text and "\n" in old_string:
            # `read` shows CRLF files with plain newlines; match what the model saw.
            crlf_old = old_string.replace("\r\n", "\n").replace("\n", "\r\n")
            if text.count(crlf_old):
                old_string = crlf_old
                new_string = new_string.replace("\r\n", "\n").replace("\n", "\r\n")
                found = text.count(old_string)
        if found == 0:
            raise ToolRefusal(
                f"old_string was not found in {_show(path)}; `read` the file and copy the exact text, "
                "including whitespace and indentation (without the line-number prefix)"
            )
        if found > 1 and not replace_all:
            raise ToolRefusal(
                f"old_string occurs {found} times in {_show(path)}; add surrounding lines to old_string so "
                "it matches exactly once, or set replace_all=true to replace every occurrence"
            )
        updated = text.replace(old_string, new_string) if replace_all else text.replace(old_string, new_string, 1)
        atomic_write_text(target, updated)
        replaced = found if replace_all else 1
        shown = os.path.normpath(path).replace(os.sep, "/")
        return f"edited {shown}: {replaced} replacement{'s' if replaced != 1 else ''}"

    # -- bash ----------------------------------------------------------------------------------

    def _bash_env(self) -> dict[str, str]:
        source = os.environ if self.env is None else self.env
        env = scrubbed_env(source)
        if "HOME" in source:
            env["HOME"] = source["HOME"]
        env["PWD"] = str(self.root)
        return env

    def _argv(self, command: str, env: dict[str, str]) -> list[str]:
        argv = ["/bin/bash", "-c", command]
        if self.sandbox is None:
            return argv
        return self.sandbox.wrap(argv, root=self.root, env=env)

    def _wait(self, proc: subprocess.Popen[bytes], output: IO[bytes], limit: float) -> str | None:
        """Wait for ``proc``; a note when it had to be stopped (timeout, runaway output), else None."""
        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return (
                    f"[timed out after {_format_seconds(limit)}; the command and its children were killed. "
                    f"Pass a larger `timeout` (at most {_format_seconds(self.max_bash_timeout)}), or run "
                    "long jobs in the background with output redirected to a file]"
                )
            try:
                proc.wait(timeout=min(0.25, remaining))
                return None
            except subprocess.TimeoutExpired:
                pass
            if os.fstat(output.fileno()).st_size > BASH_MAX_OUTPUT_BYTES:
                return (
                    f"[output exceeded {BASH_MAX_OUTPUT_BYTES // (1024 * 1024)} MB; the command and its "
                    "children were killed. Filter the output (e.g. `| tail -n 50`) or redirect it to a file]"
                )

    @_tool
    def bash(self, command: str, timeout: float | None = None) -> str:
        if not command.strip():
            raise ToolRefusal("the command is empty; give a shell command to run, e.g. `ls`")
        if "\0" in command:
            raise ToolRefusal("the command contains a NUL byte; remove it and try again")
        if timeout is not None and not timeout > 0:
            raise ToolRefusal("timeout must be a positive number of seconds; omit it for the default")
        limit = min(timeout or self.bash_timeout, self.max_bash_timeout)
        env = self._bash_env()
        refusal = check_command(command, self.root, home=env.get("HOME"), private_tmp=self.sandbox is not None)
        if refusal is not None:
            raise ToolRefusal(refusal)
        marker = f"{BASH_CALL_VARIABLE}={secrets.token_hex(8)}"
        env[BASH_CALL_VARIABLE] = marker.split("=", 1)[1]
        with tempfile.TemporaryFile() as output:
            proc = subprocess.Popen(
                self._argv(command, env),
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                ended = self._wait(proc, output, limit)
            finally:
                # Also reaps leftovers of a finished command: nothing the agent started outlives its call.
                _kill_group(proc.pid)
                proc.wait()
                _kill_marked(marker)
            text = _read_capped(output, self.output_limit)
        if ended is None:
            code = proc.returncode
            if code < 0:
                with contextlib.suppress(ValueError):
                    ended = f"[exit code: {code} (killed by {signal.Signals(-code).name})]"
            ended = ended or f"[exit code: {code}]"
        if not text:
            text = "(no output)\n"
        elif not text.endswith("\n"):
            text += "\n"
        return text + ended

    # -- glob ----------------------------------------------------------------------------------

    def _check_pattern(self, pattern: str, what: str) -> str:
        if not pattern or not pattern.strip():
            raise ToolRefusal(f"the {what} is empty; give a pattern such as `**/*.py`")
        if "\0" in pattern:
            raise ToolRefusal(f"the {what} contains a NUL byte; remove it and try again")
        if pattern.startswith(("/", "~")):
            raise ToolRefusal(
                f"the {what} {_show(pattern)} is absolute; patterns are relative to the workspace root, "
                "e.g. `src/**/*.py`"
            )
        if ".." in pattern.split("/"):
            raise ToolRefusal(
                f"the {what} {_show(pattern)} climbs out with `..`; patterns are relative to the workspace "
                "root and cannot leave it"
            )
        while pattern.startswith("./"):
            pattern = pattern[2:]
        return pattern

    def _inside_file(self, path: Path) -> bool:
        """Whether ``path`` is a regular file whose real location is inside the root."""
        try:
            real = path.resolve()
            return real.is_relative_to(self.root) and real.is_file()
        except (OSError, RuntimeError):
            return False

    def _visible(self) -> frozenset[str] | None:
        """The files of the view (None: no view, everything is visible)."""
        return None if self.listing is None else frozenset(self.listing())

    def _in_view(self, path: Path, visible: frozenset[str] | None) -> bool:
        """Whether ``path``'s real location is a file of the view (always, without a view)."""
        if visible is None:
            return True
        try:
            return path.resolve().relative_to(self.root).as_posix() in visible
        except (ValueError, OSError, RuntimeError):
            return False

    def _check_visible(self, path: str, resolved: Path, visible: frozenset[str] | None) -> None:
        if not self._in_view(resolved, visible):
            raise ToolRefusal(
                f"{_show(path)} is not in the repository as git sees it (it is ignored, or the harness's own "
                "state); only tracked files and untracked files that are not ignored can be read. Use `glob` "
                "to find the files there are"
            )

    def _walk(self, start: Path, visible: frozenset[str] | None = None) -> Iterator[Path]:
        """Files under ``start`` (not following directory symlinks), skipping excluded directories; with a view,
        the view's files under ``start``, sorted."""
        if visible is not None:
            prefix = self.relative(start)
            for rel in sorted(visible):
                if (prefix == "." or rel.startswith(prefix + "/")) and not _excluded(rel):
                    yield self.root / rel
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(name for name in dirnames if name not in EXCLUDED_DIRS)
            base = Path(dirpath)
            for name in filenames:
                if name not in EXCLUDED_DIRS:
                    yield base / name

    @_tool
    def glob(self, pattern: str) -> str:
        pattern = self._check_pattern(pattern, "pattern")
        expansions = _expand_braces(pattern)
        regex = _compile_glob(expansions)
        parts = [part for part in pattern.split("/") if part not in ("", ".")]
        literal: list[str] = []
        for part in parts:
            if _MAGIC.search(part):
                break
            literal.append(part)
        matches: set[str] = set()
        visible = self._visible()
        if len(literal) == len(parts):
            candidate = self.root.joinpath(*parts)
            rel = "/".join(parts)
            if not _excluded(rel) and self._inside_file(candidate) and self._in_view(candidate, visible):
                matches.add(rel)
        else:
            start = self.root.joinpath(*literal)
            if not _excluded("/".join(literal)) and start.is_dir() and self._inside_file_or_dir(start):
                for file in self._walk(start, visible):
                    rel = file.relative_to(self.root).as_posix()
                    if (
                        regex.fullmatch(rel)
                        and not _excluded(rel)
                        and self._inside_file(file)
                        and self._in_view(file, visible)
                    ):
                        matches.add(rel)
        if not matches:
            hint = ""
            if "**" not in pattern and "/" not in pattern:
                hint = f" (patterns match from the workspace root; use `**/{pattern}` to search subdirectories)"
            return f"no files match {pattern}{hint}"
        ordered = sorted(matches)
        if len(ordered) > GLOB_MAX_RESULTS:
            shown = ordered[:GLOB_MAX_RESULTS]
            shown.append(f"[showing the first {GLOB_MAX_RESULTS} of {len(ordered)} files; use a narrower pattern]")
            return "\n".join(shown)
        return "\n".join(ordered)

    def _inside_file_or_dir(self, path: Path) -> bool:
        try:
            return path.resolve().is_relative_to(self.root)
        except (OSError, RuntimeError):
            return False

    # -- grep ----------------------------------------------------------------------------------

    @_tool
    def grep(self, pattern: str, path: str | None = None, glob: str | None = None) -> str:
        if not pattern:
            raise ToolRefusal("the pattern is empty; give a regular expression to search for, e.g. `def main`")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolRefusal(
                f"invalid regular expression {_show(pattern)}: {exc}. grep uses Python `re` syntax; escape "
                "special characters such as ( [ { . * + ? with a backslash to match them literally"
            ) from exc
        file_filter: Callable[[str], bool] | None = None
        if glob is not None:
            checked = self._check_pattern(glob, "glob")
            file_filter = _glob_filter(_expand_braces(checked))
        if path is None:
            start = self.root
        else:
            start = self.resolve(path)
            if not start.exists():
                raise ToolRefusal(f"{_show(path)} does not exist; use `glob` to find the right path")
            # Report paths as the model named them, not through the symlinks they may resolve via.
            lexical = self.root / os.path.normpath(path)
            if lexical.resolve() == start:
                start = lexical
        skipped_large = 0
        visible = self._visible()
        if start.is_file():
            self._check_visible(path or ".", start, visible)
            rel = self.relative(start)
            if file_filter is not None and not file_filter(rel):
                return f"no matches for {pattern} ({_show(rel)} does not match the glob {_show(glob or '')})"
            if start.stat().st_size > GREP_MAX_FILE_BYTES:
                raise ToolRefusal(
                    f"{_show(rel)} is larger than 2 MB; search it with `bash` (e.g. `grep -n PATTERN FILE`)"
                )
            if _is_binary(start):
                raise ToolRefusal(f"{_show(rel)} is a binary file; grep only searches text files")
            files = [(rel, start)]
        else:
            files = []
            for file in self._walk(start, visible):
                rel = file.relative_to(self.root).as_posix()
                if file_filter is not None and not file_filter(rel):
                    continue
                if self._inside_file(file) and self._in_view(file, visible):
                    files.append((rel, file))
            files.sort()
        results: list[str] = []
        total = 0
        for rel, file in files:
            try:
                if file.stat().st_size > GREP_MAX_FILE_BYTES:
                    skipped_large += 1
                    continue
                data = file.read_bytes()
            except OSError:
                continue
            if b"\0" in data[:BINARY_SNIFF_BYTES]:
                continue
            for line_no, line in enumerate(_split_lines(data.decode("utf-8", "replace")), start=1):
                if not regex.search(line):
                    continue
                total += 1
                if total <= GREP_MAX_MATCHES:
                    if len(line) > GREP_MAX_LINE_CHARS:
                        line = line[:GREP_MAX_LINE_CHARS] + " [...]"
                    results.append(f"{rel}:{line_no}:{line}")
        notes: list[str] = []
        if total > GREP_MAX_MATCHES:
            notes.append(
                f"[showing the first {GREP_MAX_MATCHES} of {total} matches; narrow the search with `path`, "
                "`glob` or a more specific pattern]"
            )
        if skipped_large:
            notes.append(f"[skipped {skipped_large} file(s) larger than 2 MB; use `bash` to search them]")
        if not results:
            return "\n".join([f"no matches for {pattern}", *notes])
        return "\n".join(results + notes)
