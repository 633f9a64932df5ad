"""The bash command policy: read a command line before it runs, refuse what would do harm.

:func:`check_command` refuses what would rewrite history, manage branches behind the harness's
back, or change files outside the worktree, with a message the model can act on. It is defence in
depth against accidents and obvious misbehaviour, **not** the boundary: it only sees what is written
on the command line, so a script the agent writes, ``python -c``, or a path built at run time still
reaches the file system. The OS sandbox (:mod:`harness.sandbox`) is the boundary. See docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

__all__ = ["check_command"]

# Nested `bash -c "$(…)"` inside `eval` inside …: deeper than this is not worth reading.
_MAX_NESTING = 8
_SHOW_LIMIT = 120

_HARNESS_COMMITS = (
    "the harness commits your work itself when it verifies each gate and manages the branch; "
    "leave your changes in the working tree"
)
_RESTORE = "to undo your changes to a file, restore it with `git checkout HEAD -- path`"
_SHARED_REPO = "it would change the repository the worktree shares with the user's checkout"


# --------------------------------------------------------------------------------------------
# Scanning a command line into simple commands
# --------------------------------------------------------------------------------------------


@dataclass
class _Heredoc:
    delimiter: str
    strip_tabs: bool
    body: str = ""


@dataclass
class _Segment:
    """One simple command as written, with what the shell would feed it or run for it."""

    raw: str  # each substitution ($( … ), ` … `, <( … )) written as the word $__SUBST__, so shlex can split it
    source: str  # as the model wrote it, for messages
    depth: int  # subshell nesting, so a `cd` inside `( … )` does not leak out
    piped: bool  # its stdin comes from the previous command through `|`
    nested: list[str] = field(default_factory=list)  # $( … ), ` … `, <( … ), >( … )
    heredocs: list[_Heredoc] = field(default_factory=list)


def _closing_paren(text: str, start: int) -> int:
    """Index of the ``)`` that closes the ``(`` just before ``start`` (quote-aware), or ``len(text)``."""
    depth = 1
    i = start
    quote: str | None = None
    while i < len(text):
        char = text[i]
        if quote == "'":
            if char == "'":
                quote = None
        elif char == "\\":
            i += 1
        elif quote == '"':
            if char == '"':
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text)


def _closing_backtick(text: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "`":
            return i
        i += 1
    return len(text)


_HEREDOC = re.compile(r"<<(-?)[ \t]*(?:'([^'\n]*)'|\"([^\"\n]*)\"|\\?([^\s;&|<>()]+))")


def _scan(text: str) -> list[_Segment]:
    """Split ``text`` into simple commands at ``;``, ``&&``, ``||``, ``|``, ``&``, newlines and
    parentheses, outside quotes; pull out command substitutions and here-document bodies."""
    segments: list[_Segment] = []
    buf: list[str] = []
    nested: list[str] = []
    heredocs: list[_Heredoc] = []
    pending: list[_Heredoc] = []
    depth = 0
    piped = False
    quote: str | None = None
    i = 0
    n = len(text)
    start = 0
    restart = False

    def flush(separator: str) -> None:
        nonlocal buf, nested, heredocs, piped, restart
        raw = "".join(buf).strip()
        if raw or nested or heredocs:
            segments.append(_Segment(raw, text[start:i].strip(), depth, piped, nested, heredocs))
        piped = separator in ("|", "|&")
        buf, nested, heredocs = [], [], []
        restart = True

    def substitution(at: int) -> int:
        """Handle ``$(``, ``$((`` or a backtick at ``at``; returns the index after it."""
        if text.startswith("$((", at):
            end = _closing_paren(text, at + 2)
            buf.append("$__ARITH__")
            return end + 1
        if text[at] == "`":
            end = _closing_backtick(text, at + 1)
            nested.append(text[at + 1 : end])
        else:
            end = _closing_paren(text, at + 2)
            nested.append(text[at + 2 : end])
        buf.append("$__SUBST__")
        return end + 1

    while i < n:
        if restart:
            start, restart = i, False
        char = text[i]
        if quote == "'":
            buf.append(char)
            if char == "'":
                quote = None
            i += 1
            continue
        if quote == '"':
            if char == "\\":
                buf.append(text[i : i + 2])
                i += 2
                continue
            if text.startswith("$(", i) or char == "`":
                i = substitution(i)
                continue
            buf.append(char)
            if char == '"':
                quote = None
            i += 1
            continue
        # Unquoted.
        if char == "\\":
            if text.startswith("\\\n", i):  # a line continuation joins the lines
                i += 2
                continue
            buf.append(text[i : i + 2])
            i += 2
            continue
        if char in "'\"":
            quote = char
            buf.append(char)
            i += 1
            continue
        if text.startswith("$(", i) or char == "`":
            i = substitution(i)
            continue
        if char == "#" and (not buf or buf[-1][-1:] in (" ", "\t")):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        previous = buf[-1][-1:] if buf else ""
        if char == "(" and previous in ("<", ">"):
            end = _closing_paren(text, i + 1)
            nested.append(text[i + 1 : end])
            buf.append("/dev/fd/63")
            i = end + 1
            continue
        if text.startswith("<<<", i):
            buf.append("<<<")
            i += 3
            continue
        if text.startswith("<<", i):
            match = _HEREDOC.match(text, i)
            if match:
                delimiter = next(g for g in match.groups()[1:] if g is not None)
                doc = _Heredoc(delimiter, strip_tabs=match.group(1) == "-")
                heredocs.append(doc)
                pending.append(doc)
                buf.append(f" <<{delimiter} ")
                i = match.end()
                continue
        if char == "\n":
            flush("\n")
            i += 1
            for doc in pending:
                lines: list[str] = []
                while i < n:
                    end = text.find("\n", i)
                    line = text[i:] if end == -1 else text[i:end]
                    i = n if end == -1 else end + 1
                    if (line.lstrip("\t") if doc.strip_tabs else line) == doc.delimiter:
                        break
                    lines.append(line)
                doc.body = "\n".join(lines)
            pending = []
            continue
        if char == ";":
            flush(";")
            i += 1
            continue
        if char == "&":
            if text.startswith("&&", i):
                flush("&&")
                i += 2
            elif text.startswith("&>", i) or previous in ("<", ">"):
                buf.append(char)
                i += 1
            else:
                flush("&")
                i += 1
            continue
        if char == "|":
            if text.startswith("||", i):
                flush("||")
                i += 2
            elif previous == ">":
                buf.append(char)
                i += 1
            elif text.startswith("|&", i):
                flush("|&")
                i += 2
            else:
                flush("|")
                i += 1
            continue
        if char == "(":
            flush("(")
            depth += 1
            i += 1
            continue
        if char == ")":
            flush(")")
            depth = max(0, depth - 1)
            i += 1
            continue
        buf.append(char)
        i += 1
    flush("")
    return segments


_KEYWORDS = frozenset({"{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "time"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\+?=")


@dataclass
class _Simple:
    words: list[str]
    writes: list[str]  # targets of > >> >| &> redirections
    herestrings: list[str]


def _words(raw: str) -> _Simple:
    """Words and redirections of one simple command (shlex, best effort)."""
    try:
        lexer = shlex.shlex(raw, posix=True, punctuation_chars="<>&|")
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: bash will refuse it anyway; read what we can
        tokens = raw.replace("'", " ").replace('"', " ").split()
    words: list[str] = []
    writes: list[str] = []
    herestrings: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token and set(token) <= set("<>&|"):
            target = tokens[i + 1] if i + 1 < len(tokens) else ""
            if words and words[-1].isdigit():
                words.pop()  # the fd number of `2>file`
            i += 2
            if token == "<<<":
                herestrings.append(target)
            elif ">" in token and not (token.endswith("&") and (target.isdigit() or target == "-")):
                writes.append(target)
            continue
        words.append(token)
        i += 1
    while words and (words[0] in _KEYWORDS or _ASSIGNMENT.match(words[0])):
        words.pop(0)
    return _Simple(words, writes, herestrings)


# --------------------------------------------------------------------------------------------
# The policy
# --------------------------------------------------------------------------------------------


class _Refused(Exception):
    pass


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish"})
_DOWNLOADERS = frozenset({"curl", "wget"})
_INTERPRETERS = _SHELLS | frozenset({"python", "python3", "perl", "ruby", "node", "php"})
_PRIVILEGE = frozenset({"sudo", "su", "doas", "pkexec", "runuser"})
_DISKS = frozenset({"mkfs", "mke2fs", "mkswap", "fdisk", "sfdisk", "cfdisk", "gdisk", "parted", "wipefs", "blkdiscard"})
_POWER = frozenset({"shutdown", "reboot", "halt", "poweroff", "telinit"})
_POWER_VERBS = frozenset({"poweroff", "reboot", "halt", "kexec", "suspend", "hibernate", "rescue", "emergency"})
_ALLOWED_DEVICES = frozenset({"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty"})
_FD_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd)/\d+$")
_OTHER_ENVIRON = re.compile(r"/proc/(?!self/|thread-self/)[^/\s'\"]+/environ")
_GLOB_CHARS = re.compile(r"[*?\[]")
_SYMBOLIC_MODE = re.compile(r"^-[rwxXst]+$")
# Options that take a value, per command, so the value is not mistaken for a path operand.
_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "cp": frozenset({"-S", "--suffix", "-t", "--target-directory"}),
    "mv": frozenset({"-S", "--suffix", "-t", "--target-directory"}),
    "ln": frozenset({"-S", "--suffix", "-t", "--target-directory"}),
    "install": frozenset({"-m", "--mode", "-o", "--owner", "-g", "--group", "-S", "--suffix", "-t"}),
    "touch": frozenset({"-d", "--date", "-t", "-r", "--reference"}),
    "truncate": frozenset({"-s", "--size", "-r", "--reference"}),
    "mkdir": frozenset({"-m", "--mode", "--context"}),
    "chmod": frozenset({"--reference"}),
    "chown": frozenset({"--reference", "--from"}),
    "chgrp": frozenset({"--reference"}),
    "tee": frozenset(),
    "rm": frozenset(),
    "rmdir": frozenset(),
    "unlink": frozenset(),
    "shred": frozenset({"-n", "--iterations", "-s", "--size", "--random-source"}),
    "sed": frozenset({"-e", "--expression", "-f", "--file", "-l", "--line-length"}),
    "rsync": frozenset({"-e", "--rsh", "--exclude", "--include", "--filter", "-f", "--backup-dir", "--files-from"}),
}
_CHANGERS = frozenset(_VALUE_OPTIONS) | {"dd"}
_GIT_HISTORY = frozenset(
    {"rebase", "filter-branch", "filter-repo", "replace", "update-ref", "pull", "merge", "cherry-pick", "revert", "am"}
)
_GIT_BRANCH_WRITES = _set(
    "-d -D -m -M -c -C -f -u --delete --move --copy --force --set-upstream-to --unset-upstream "
    "--edit-description --track"
)
_GIT_BRANCH_LISTING = _set(
    "-l --list -a --all -r --remotes --contains --no-contains --merged --no-merged --points-at "
    "--show-current -v -vv --verbose"
)
_GIT_CONFIG_READS = _set(
    "--get --get-all --get-regexp --get-urlmatch --list -l --show-origin --show-scope --name-only --null "
    "-z --type --bool --int --path --default --includes --no-includes --local --worktree --global "
    "--system --file -f --blob"
)
_GIT_CONFIG_SUBCOMMANDS = frozenset({"get", "list", "set", "unset", "edit", "rename-section", "remove-section"})
_XARGS_VALUE_OPTIONS = frozenset({"-a", "-d", "-E", "-e", "-I", "-i", "-L", "-l", "-n", "-P", "-s"})
_GIT_VALUE_OPTIONS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"})


def _show(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 20] + "..." + text[-17:]
    return f"`{text}`"


def _name(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _split_options(args: Sequence[str], takes_value: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """``(options, operands)``; an option's value stays with the option (``-t DIR`` -> ``-t=DIR``)."""
    valued = frozenset(takes_value)
    options: list[str] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            operands.extend(args[i + 1 :])
            break
        if arg.startswith("-") and arg != "-":
            if arg in valued and i + 1 < len(args):
                options.append(f"{arg}={args[i + 1]}")
                i += 2
                continue
            options.append(arg)
        else:
            operands.append(arg)
        i += 1
    return options, operands


def _option_value(options: Sequence[str], *names: str) -> str | None:
    for option in options:
        for name in names:
            if option.startswith(name + "="):
                return option[len(name) + 1 :]
    return None


def _short_flags(options: Sequence[str]) -> set[str]:
    """The single-letter flags in ``-rf`` style options."""
    flags: set[str] = set()
    for option in options:
        if option.startswith("-") and not option.startswith("--") and "=" not in option:
            flags.update(option[1:])
    return flags


class _Policy:
    def __init__(self, root: Path, home: str | None, scratch: Path | None) -> None:
        self.root = Path(os.path.realpath(root))
        self.home = home
        self.scratch = scratch

    # -- entry ---------------------------------------------------------------------------------

    def check(self, text: str, cwd: Path | None, level: int = 0) -> None:
        if level > _MAX_NESTING:
            return
        stack: list[Path | None] = [cwd]
        download_in_pipe = False
        feed: list[str] = []  # what earlier commands of this pipeline write into it: here-documents, echo
        for segment in _scan(text):
            if not segment.piped:
                feed = []
            while len(stack) <= segment.depth:
                stack.append(stack[-1])
            del stack[segment.depth + 1 :]
            here = stack[segment.depth]
            for inner in segment.nested:
                self.check(inner, here, level + 1)
            simple = _words(segment.raw)
            if _OTHER_ENVIRON.search(segment.source):
                raise _Refused(
                    f"{_show(segment.source)} reads another process's environment; secrets are kept out of your "
                    "environment on purpose. Use the variables you have (`env`), or ask for what you need in "
                    "your note"
                )
            for target in simple.writes:
                self.require_inside(target, here, segment.source, follow=True)
            words = simple.words
            if not segment.piped:
                download_in_pipe = False
            feeds = list(feed)
            feed += [doc.body for doc in segment.heredocs]
            if not words:
                continue
            command, words, here = self.unwrap(words, here, segment.source, level)
            if command is None:
                continue
            if command in ("echo", "printf"):
                feed.append(" ".join(w for w in words[1:] if not w.startswith("-")))
            if command in _DOWNLOADERS:
                download_in_pipe = True
            if command in _INTERPRETERS and (
                (segment.piped and download_in_pipe)
                or any(_name(s.split()[0]) in _DOWNLOADERS for s in _substitutions(segment))
            ):
                raise _Refused(
                    f"{_show(segment.source)} runs code downloaded from the network; the harness does not run "
                    "fetched scripts. Use the project's own dependencies, or say in your note what is missing"
                )
            if command in _SHELLS:
                self.check_shell(words, segment, here, level, feeds if segment.piped else [])
            if command == "eval":
                self.check(" ".join(words[1:]), here, level + 1)
            if command in ("cd", "pushd"):
                stack[segment.depth] = self.cd(words, here)
                continue
            if command == "popd":
                stack[segment.depth] = None
                continue
            self.check_simple(command, words, here, segment.source)

    # -- wrappers and shells -------------------------------------------------------------------

    def unwrap(
        self, words: list[str], cwd: Path | None, raw: str, level: int
    ) -> tuple[str | None, list[str], Path | None]:
        """Look through ``env``, ``timeout``, ``nohup``, ``xargs``, … to the command they run."""
        while words:
            name = _name(words[0])
            args = words[1:]
            if name in _PRIVILEGE:
                raise _Refused(
                    f"{_show(raw)} asks for other privileges (`{name}`); commands run with the user's own "
                    "permissions only. Do the work inside the worktree without it"
                )
            if name == "env":
                i = 0
                while i < len(args):
                    arg = args[i]
                    if arg in ("-u", "--unset", "-C", "--chdir", "-S", "--split-string") and i + 1 < len(args):
                        if arg in ("-C", "--chdir"):
                            cwd = self.resolve(args[i + 1], cwd, follow=True)
                        if arg in ("-S", "--split-string"):
                            self.check(args[i + 1] + " " + shlex.join(args[i + 2 :]), cwd, level + 1)
                            return None, [], cwd
                        i += 2
                    elif arg.startswith("-") or _ASSIGNMENT.match(arg):
                        i += 1
                    else:
                        break
                words = args[i:]
            elif name in ("nohup", "builtin", "unbuffer"):
                words = args
            elif name == "setsid":
                words = args[next((i for i, a in enumerate(args) if not a.startswith("-")), len(args)) :]
            elif name == "command":
                if any(a in ("-v", "-V") for a in args):
                    return None, [], cwd
                words = [a for a in args if a != "-p"]
            elif name == "exec":
                i = 0
                while i < len(args) and args[i].startswith("-"):
                    i += 2 if args[i] == "-a" else 1
                words = args[i:]
            elif name in ("time", "nice", "ionice", "stdbuf", "chrt", "taskset"):
                i = 0
                while i < len(args) and args[i].startswith("-"):
                    i += 2 if args[i] in ("-n", "-c", "-i", "-o", "-e", "-p", "--adjustment") else 1
                if name in ("chrt", "taskset") and i < len(args):
                    i += 1  # the priority or CPU mask
                words = args[i:]
            elif name == "timeout":
                i = 0
                while i < len(args) and args[i].startswith("-"):
                    i += 2 if args[i] in ("-s", "-k", "--signal", "--kill-after") else 1
                words = args[i + 1 :]
            elif name == "xargs":
                i = 0
                while i < len(args) and args[i].startswith("-"):
                    i += 2 if args[i] in _XARGS_VALUE_OPTIONS else 1
                words = args[i:]
            else:
                return name, words, cwd
        return None, [], cwd

    def check_shell(
        self, words: list[str], segment: _Segment, cwd: Path | None, level: int, piped_in: list[str]
    ) -> None:
        args = words[1:]
        for index, arg in enumerate(args):
            if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
                if index + 1 < len(args):
                    self.check(args[index + 1], cwd, level + 1)
                return
            if not arg.startswith(("-", "+")):
                return  # a script file: not readable from here
        for script in [doc.body for doc in segment.heredocs] + _words(segment.raw).herestrings + piped_in:
            self.check(script, cwd, level + 1)

    def cd(self, words: list[str], cwd: Path | None) -> Path | None:
        args = [a for a in words[1:] if a not in ("-L", "-P", "-e", "-@")]
        if not args:
            return Path(self.home) if self.home else None
        if args[0] == "-":
            return None
        return self.resolve(args[0], cwd, follow=True)

    # -- paths ---------------------------------------------------------------------------------

    def resolve(self, word: str, cwd: Path | None, *, follow: bool) -> Path | None:
        """Where ``word`` points, as the shell would expand it; None when that cannot be known here."""
        for variable in ("${HOME}", "$HOME"):
            if word == variable or word.startswith(variable + "/"):
                if not self.home:
                    return None
                word = self.home + word[len(variable) :]
        for variable in ("${PWD}", "$PWD"):
            if (word == variable or word.startswith(variable + "/")) and cwd is not None:
                word = str(cwd) + word[len(variable) :]
        if "$" in word or "`" in word or not word:
            return None
        if word.startswith("~"):
            user, slash, rest = word[1:].partition("/")
            if not user:
                if not self.home:
                    return None
                word = self.home + slash + rest
            else:
                # bash leaves an unknown ~user as it is: a relative name.
                with contextlib.suppress(KeyError):
                    word = pwd.getpwnam(user).pw_dir + slash + rest
        glob = _GLOB_CHARS.search(word)
        if glob:
            prefix = word[: glob.start()]
            word = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else "."
            if word == "/":
                return Path("/")
            follow = True
        if not os.path.isabs(word):
            if cwd is None:
                return None
            word = os.path.join(cwd, word)
        base = os.path.basename(word.rstrip("/"))
        if follow or word.endswith("/") or base in ("", ".", ".."):
            return Path(os.path.realpath(word))
        return Path(os.path.realpath(os.path.dirname(word.rstrip("/")))) / base

    def require_inside(self, word: str, cwd: Path | None, raw: str, *, follow: bool, removes: bool = False) -> None:
        path = self.resolve(word, cwd, follow=follow)
        if path is None:
            return
        text = str(path)
        if text in _ALLOWED_DEVICES or _FD_PATH.match(text):
            return
        if (
            self.scratch is not None
            and path.is_relative_to(self.scratch)
            and path != self.scratch
            and not path.is_relative_to(self.root)
            and not any(part.casefold() == ".git" for part in path.parts)
        ):
            return
        if not path.is_relative_to(self.root):
            where = "the file system root" if text == "/" else f"`{text}`"
            raise _Refused(
                f"{_show(raw)} would change {where}, which is outside the worktree; commands may only change "
                f"files inside the worktree ({self.root}). Use a path inside it (relative paths start at the "
                "worktree root); put scratch files there too and delete them before you finish"
            )
        if removes and path == self.root and not _GLOB_CHARS.search(word):
            raise _Refused(
                f"{_show(raw)} would remove the worktree itself; the harness needs it. Remove the files you "
                f"created by name instead ({_RESTORE})"
            )
        if any(part.casefold() == ".git" for part in path.relative_to(self.root).parts):
            raise _Refused(
                f"{_show(raw)} would change `.git`, which the harness manages; change files in the working "
                f"tree instead ({_RESTORE})"
            )

    # -- commands ------------------------------------------------------------------------------

    def check_simple(self, command: str, words: list[str], cwd: Path | None, raw: str) -> None:
        args = words[1:]
        if command in _DISKS or command.startswith("mkfs"):
            raise _Refused(f"{_show(raw)} formats or partitions a disk; that is never part of a code change")
        if (
            command in _POWER
            or (command == "init" and args[:1] in (["0"], ["6"]))
            or (command == "systemctl" and any(a in _POWER_VERBS for a in args))
        ):
            raise _Refused(f"{_show(raw)} would stop or restart the machine; that is never part of a code change")
        if command in ("killall", "pkill", "killall5"):
            raise _Refused(
                f"{_show(raw)} signals processes by name, which can hit the harness and the user's programs; "
                "processes you start are stopped when your command returns. Use `kill PID` for one you started"
            )
        if command == "kill":
            self.check_kill(args, raw)
        if command == "git":
            self.check_git(args, cwd, raw)
            return
        if command in ("curl", "wget"):
            options, _ = _split_options(args, ("-o", "--output", "-O", "--output-document", "-P"))
            for name in ("-o", "--output", "--output-document", "-P"):
                target = _option_value(options, name)
                if target:
                    self.require_inside(target, cwd, raw, follow=True)
            if command == "wget":
                target = _option_value(options, "-O")
                if target:
                    self.require_inside(target, cwd, raw, follow=True)
            return
        if command == "find":
            self.check_find(args, cwd, raw)
            return
        if command == "dd":
            for arg in args:
                if arg.startswith("of="):
                    self.require_inside(arg[3:], cwd, raw, follow=True)
            return
        if command not in _VALUE_OPTIONS:
            return
        options, operands = _split_options(args, _VALUE_OPTIONS[command])
        target_dir = _option_value(options, "-t", "--target-directory")
        for option in options:
            if option.startswith("--target-directory="):
                target_dir = option.split("=", 1)[1]
        if command in ("rm", "rmdir", "unlink", "shred"):
            for operand in operands:
                self.require_inside(operand, cwd, raw, follow=False, removes=True)
        elif command == "mv":
            for operand in operands:
                self.require_inside(operand, cwd, raw, follow=False, removes=True)
            if target_dir:
                self.require_inside(target_dir, cwd, raw, follow=True)
        elif command in ("cp", "install", "ln", "rsync"):
            if target_dir:
                self.require_inside(target_dir, cwd, raw, follow=True)
            elif command == "ln" and len(operands) == 1:
                self.require_inside(_name(operands[0].rstrip("/")) or ".", cwd, raw, follow=False)
            elif operands and not (command == "rsync" and ":" in operands[-1].split("/", 1)[0]):
                self.require_inside(operands[-1], cwd, raw, follow=command != "ln")
        elif command in ("chmod", "chown", "chgrp"):
            # `chmod -x file`: the mode was read as an option, so every operand is a file.
            mode_given = any(o.startswith("--reference=") for o in options) or (
                command == "chmod" and any(_SYMBOLIC_MODE.match(o) for o in options)
            )
            for operand in operands if mode_given else operands[1:]:
                self.require_inside(operand, cwd, raw, follow=True)
        elif command == "sed":
            if any(o == "-i" or o.startswith(("-i", "--in-place")) or "i" in _short_flags([o]) for o in options):
                script_given = any(o.startswith(("-e=", "--expression=", "-f=", "--file=")) for o in options)
                for operand in operands if script_given else operands[1:]:
                    self.require_inside(operand, cwd, raw, follow=True)
        else:  # tee, touch, truncate, mkdir
            for operand in operands:
                self.require_inside(operand, cwd, raw, follow=True)

    def check_kill(self, args: list[str], raw: str) -> None:
        pids = list(args)
        if pids[:1] in (["-s"], ["-n"]):
            pids = pids[2:]
        elif len(pids) > 1 and pids[0].startswith("-") and pids[0] != "--":
            pids = pids[1:]  # the signal: -9, -KILL, -SIGTERM
        if pids[:1] == ["--"]:
            pids = pids[1:]
        if "-1" in pids:
            raise _Refused(
                f"{_show(raw)} signals every process you may signal, including the harness; processes you start "
                "are stopped when your command returns. Use `kill PID` for one you started"
            )
        if any(p in ("$PPID", "${PPID}") for p in pids):
            raise _Refused(
                f"{_show(raw)} signals the harness that runs your commands; use `kill PID` for one you started"
            )

    def check_find(self, args: list[str], cwd: Path | None, raw: str) -> None:
        starts: list[str] = []
        for arg in args:
            if arg.startswith("-") or arg in ("(", "!", ")"):
                break
            starts.append(arg)
        changes = any(a in ("-delete", "-fprint", "-fprintf", "-fls") for a in args) or any(
            a in ("-exec", "-execdir", "-ok", "-okdir") and i + 1 < len(args) and _name(args[i + 1]) in _CHANGERS
            for i, a in enumerate(args)
        )
        if changes:
            for start in starts or ["."]:
                self.require_inside(start, cwd, raw, follow=True)

    # -- git -----------------------------------------------------------------------------------

    def check_git(self, args: list[str], cwd: Path | None, raw: str) -> None:
        i = 0
        while i < len(args) and args[i].startswith("-"):
            arg = args[i]
            name, eq, value = arg.partition("=")
            if name in _GIT_VALUE_OPTIONS and not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            if name in ("-C", "--git-dir", "--work-tree"):
                path = self.resolve(value, cwd, follow=True)
                if path is not None and not path.is_relative_to(self.root):
                    raise _Refused(
                        f"{_show(raw)} points git at `{path}`, outside the worktree; run git in the worktree "
                        "(your commands start there)"
                    )
                if name == "-C" and path is not None:
                    cwd = path
            i += 1
        if i >= len(args):
            return
        sub, rest = args[i], args[i + 1 :]
        options, operands = _split_options(rest)
        flags = _short_flags(options)

        def refuse(why: str, instead: str = _RESTORE) -> NoReturn:
            raise _Refused(f"{_show(raw)} is refused: {why}. {instead[:1].upper()}{instead[1:]}")

        if sub == "push":
            refuse(
                "the harness never pushes; whether and where to push is the user's decision after the run",
                "leave your work in the working tree; the harness commits it on its branch",
            )
        if sub == "commit":
            why = "amending would rewrite the harness's commits" if "--amend" in options else _HARNESS_COMMITS
            refuse(why, "call your role tool when the work is ready; the harness verifies and commits it")
        if sub in _GIT_HISTORY:
            if sub in ("rebase", "merge", "cherry-pick", "revert", "am") and any(
                o in ("--abort", "--quit") for o in options
            ):
                return
            refuse(f"`git {sub}` rewrites or moves the branch's history; {_HARNESS_COMMITS}")
        if sub == "reset":
            self.check_git_reset(options, operands, rest, cwd, refuse)
        elif sub == "checkout":
            if any(o in ("-b", "-B", "--orphan", "--detach") or o.startswith("--orphan=") for o in options) or (
                {"b", "B"} & flags
            ):
                refuse(f"the harness manages branches; {_HARNESS_COMMITS}")
            if "--" not in rest and len(operands) == 1 and not self.exists(operands[0], cwd):
                refuse(
                    "it would switch the worktree to another branch or commit; the harness manages the branch",
                    f"{_RESTORE} (or `git checkout HEAD -- .` for all of them); to look at another version, use "
                    "`git show REV:path`",
                )
        elif sub == "switch":
            refuse(
                "the harness manages the branch; the worktree stays on the issue's branch",
                "to look at another version of a file, use `git show REV:path`; " + _RESTORE,
            )
        elif sub == "branch":
            bare = {o.split("=", 1)[0] for o in options}
            if (
                bare & _GIT_BRANCH_WRITES
                or {"d", "D", "m", "M", "c", "C", "f", "u"} & flags
                or (operands and not bare & _GIT_BRANCH_LISTING)
            ):
                refuse(
                    f"branches are shared with the user's checkout and the harness manages its own; {_HARNESS_COMMITS}",
                    "list branches with `git branch --list`",
                )
        elif sub == "tag":
            if operands and not ({"-l", "--list", "--contains", "--points-at", "-n"} & set(options)):
                refuse(f"tags are shared with the user's checkout; {_SHARED_REPO}", "list tags with `git tag --list`")
            if {"-d", "--delete", "-f", "--force"} & set(options):
                refuse(f"tags are shared with the user's checkout; {_SHARED_REPO}", "list tags with `git tag --list`")
        elif sub == "worktree":
            if operands[:1] != ["list"]:
                refuse(
                    "the harness creates and removes worktrees itself; this one is where your work lives",
                    "list them with `git worktree list`",
                )
        elif sub == "stash":
            if operands[:1] not in (["list"], ["show"]):
                refuse(
                    f"the stash is shared with the user's checkout; {_SHARED_REPO}",
                    "to see the code before your change use `git diff` or `git show HEAD:path`; " + _RESTORE,
                )
        elif sub in ("gc", "prune", "repack") or (sub == "reflog" and operands[:1] in (["expire"], ["delete"])):
            refuse(f"`git {sub}` cleans the object store; {_SHARED_REPO} and could lose its unreachable commits")
        elif sub == "symbolic-ref":
            if len(operands) >= 2 or {"-d", "--delete"} & set(options):
                refuse(f"the harness manages the branch; {_HARNESS_COMMITS}")
        elif sub == "config":
            self.check_git_config(options, operands, refuse)
        elif sub == "remote":
            if operands and operands[0] not in ("show", "get-url", "-v"):
                refuse(f"remotes are shared with the user's checkout; {_SHARED_REPO}", "list them with `git remote -v`")
        elif sub == "notes":
            if operands[:1] not in ([], ["list"], ["show"]):
                refuse(f"notes are shared with the user's checkout; {_SHARED_REPO}", "read them with `git notes show`")
        elif sub == "clean":
            for operand in operands:
                self.require_inside(operand, cwd, raw, follow=True)
        elif sub in ("init", "clone"):
            target = operands[-1] if sub == "init" and operands else (operands[1] if len(operands) > 1 else None)
            if target:
                self.require_inside(target, cwd, raw, follow=True)

    def check_git_reset(
        self,
        options: list[str],
        operands: list[str],
        rest: list[str],
        cwd: Path | None,
        refuse: Callable[..., NoReturn],
    ) -> None:
        if "--" in rest:
            operands = operands[: len(operands) - len(rest[rest.index("--") + 1 :])]
        if any(o in ("-p", "--patch") for o in options) or not operands:
            return
        target = operands[0]
        if target in ("HEAD", "@") or self.exists(target, cwd):
            return
        refuse(
            f"resetting to `{target}` would move the branch to another commit and drop the harness's commits; "
            f"{_HARNESS_COMMITS}",
            f"{_RESTORE}, or discard all your uncommitted changes with `git reset --hard HEAD`",
        )

    def check_git_config(self, options: list[str], operands: list[str], refuse: Callable[..., NoReturn]) -> None:
        bare = {o.split("=", 1)[0] for o in options}
        subcommand = operands[0] if operands and operands[0] in _GIT_CONFIG_SUBCOMMANDS else None
        if subcommand in ("get", "list"):
            return
        if subcommand is not None or bare - _GIT_CONFIG_READS or len(operands) >= 2:
            scope = (
                "the user's global git configuration"
                if {"--global", "--system", "--file", "-f"} & bare
                else "the repository's configuration, which the user's checkout shares"
            )
            refuse(
                f"writing git configuration changes {scope}",
                "read settings with `git config --get NAME`; pass one-off settings as `git -c NAME=VALUE …`",
            )

    def exists(self, word: str, cwd: Path | None) -> bool:
        path = self.resolve(word, cwd, follow=False)
        return path is not None and os.path.lexists(path)


def _substitutions(segment: _Segment) -> list[str]:
    """The nested commands of ``segment`` (its $( … ) and <( … ) parts), stripped."""
    return [inner.strip() for inner in segment.nested if inner.strip()]


def check_command(
    command: str, root: Path, *, home: str | None = None, cwd: Path | None = None, private_tmp: bool = False
) -> str | None:
    """Why ``command`` must not run in the worktree ``root``, or None when the policy lets it through.

    ``home`` is the ``HOME`` the command will see (for ``~``); ``cwd`` defaults to ``root``. With
    ``private_tmp`` (the command runs in the sandbox, whose /tmp is its own), /tmp is scratch space.
    """
    policy = _Policy(root, home, _tmp() if private_tmp else None)
    try:
        policy.check(command, Path(os.path.realpath(cwd)) if cwd else policy.root)
    except _Refused as refusal:
        return f"The command was not run: {refusal}."
    return None


def _tmp() -> Path:
    return Path(os.path.realpath("/tmp"))
