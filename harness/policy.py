"""The bash command policy: read a command line before it runs, refuse what would do harm.

:func:`check_command` refuses what would rewrite history, manage branches behind the harness's
back, or change files outside the worktree, with a message the model can act on. It is defence in
depth against accidents and obvious misbehaviour, **not** the boundary: it only sees what is written
on the command line, so a script the agent writes, ``python -c``, or a path built at run time still
reaches the file system. The OS sandbox (:mod:`harness.sandbox`) is the boundary. See docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import itertools
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
_ANSI_C_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_ANSI_C_NUMBER = {
    "x": re.compile(r"[0-9A-Fa-f]{1,2}"),
    "u": re.compile(r"[0-9A-Fa-f]{1,4}"),
    "U": re.compile(r"[0-9A-Fa-f]{1,8}"),
}
_OCTAL = re.compile(r"[0-7]{1,3}")
_IFS = re.compile(r"\$(?:\{IFS\}|IFS(?![A-Za-z0-9_]))")


def _ansi_c(text: str, i: int) -> tuple[str, int]:
    """Decode the ``$'…'`` word whose body starts at ``i``, as bash does; returns (text, index after it)."""
    out: list[str] = []
    n = len(text)
    while i < n:
        char = text[i]
        if char == "'":
            i += 1
            break
        if char != "\\" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        escape = text[i + 1]
        number = _ANSI_C_NUMBER.get(escape)
        octal = _OCTAL.match(text, i + 1)
        if escape in _ANSI_C_ESCAPES:
            out.append(_ANSI_C_ESCAPES[escape])
            i += 2
        elif octal:
            out.append(chr(int(octal.group(), 8) & 0xFF))
            i = octal.end()
        elif number is not None and (digits := number.match(text, i + 2)):
            with contextlib.suppress(ValueError, OverflowError):
                out.append(chr(int(digits.group(), 16)))
            i = digits.end()
        elif escape == "c" and i + 2 < n:
            out.append(chr(ord(text[i + 2]) & 0x1F))
            i += 3
        else:
            out.append(text[i : i + 2])
            i += 2
    return "".join(out).split("\0", 1)[0], i


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
        if text.startswith("$'", i):  # ANSI-C quoting: `$'\x72m'` is `rm`
            decoded, i = _ansi_c(text, i + 2)
            buf.append(shlex.quote(decoded))
            continue
        if text.startswith('$"', i):  # a translated string: `$"rm"` is `rm`
            i += 1
            continue
        ifs = _IFS.match(text, i)
        if ifs:  # unquoted, `$IFS` splits words: `rm${IFS}-rf${IFS}~`
            buf.append(" ")
            i = ifs.end()
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
    assignments: list[str] = field(default_factory=list)  # `NAME=value` words before the command


# Brace expansion, which bash does before anything else: `{r,}m` is `rm m`, `{a..c}` is `a b c`.
_BRACE_LIMIT = 4096  # words one word may expand to; more is refused as too much to judge
_SEQUENCE_SAMPLE = 32  # a bare `{1..100000}` (numbers only, nothing around it) is judged by its ends
_NUMBER_SEQUENCE = re.compile(r"^([+-]?\d+)\.\.([+-]?\d+)(?:\.\.([+-]?\d+))?$")
_LETTER_SEQUENCE = re.compile(r"^([A-Za-z])\.\.([A-Za-z])(?:\.\.([+-]?\d+))?$")
_WORD_END = frozenset(" \t\n<>&|")


class _BraceLimit(Exception):
    pass


# One word as brace expansion sees it: ("{" | "}" | ",", char) for the unquoted braces and commas,
# ("plain", char) for the other unquoted characters, ("text", text) for quoted parts, escapes and
# `${…}`, kept as written.
_Atom = tuple[str, str]


def _brace_atoms(raw: str, i: int) -> tuple[list[_Atom], int]:
    """The word of ``raw`` starting at ``i`` (up to unquoted blank or redirection operator), and where it ends."""
    atoms: list[_Atom] = []
    n = len(raw)
    while i < n and raw[i] not in _WORD_END:
        char = raw[i]
        if char == "\\":
            end = i + 2
        elif char == "'":
            close = raw.find("'", i + 1)
            end = n if close == -1 else close + 1
        elif char == '"':
            end = i + 1
            while end < n and raw[end] != '"':
                end += 2 if raw[end] == "\\" else 1
            end = min(end + 1, n)
        elif raw.startswith("${", i):  # parameter expansion: `${x,,}` and `${x:-{a,b}}` are not brace words
            end, depth = i + 2, 1
            while end < n and depth:
                depth += {"{": 1, "}": -1}.get(raw[end], 0)
                end += 1
        elif char in "{},":
            atoms.append((char, char))
            i += 1
            continue
        else:
            atoms.append(("plain", char))
            i += 1
            continue
        atoms.append(("text", raw[i:end]))
        i = end
    return atoms, i


def _sequence(body: list[_Atom], whole: bool) -> list[str] | None:
    """``{x..y[..step]}`` as bash expands it; None when ``body`` is not a sequence expression."""
    if not body or any(kind != "plain" for kind, _ in body):
        return None
    text = "".join(char for _, char in body)
    numbers = _NUMBER_SEQUENCE.match(text)
    letters = None if numbers else _LETTER_SEQUENCE.match(text)
    match = numbers or letters
    if match is None:
        return None
    step = abs(int(match.group(3) or 1)) or 1
    if letters:
        first, last = ord(match.group(1)), ord(match.group(2))
        direction = 1 if first <= last else -1
        # `{Z..a}` has `[`, a backslash and a backquote: quoted, as they are text in the words it makes.
        return [shlex.quote(chr(c)) for c in range(first, last + direction, step * direction)]
    start, stop = int(match.group(1)), int(match.group(2))
    direction = 1 if start <= stop else -1
    count = abs(stop - start) // step + 1
    if count > _BRACE_LIMIT and not whole:
        raise _BraceLimit
    padded = any(re.match(r"^[+-]?0\d", g) for g in match.group(1, 2))
    width = max(len(match.group(1)), len(match.group(2))) if padded else 0
    values: Sequence[int] = range(start, stop + direction, step * direction)
    if count > 2 * _SEQUENCE_SAMPLE:  # only numbers: which ones does not change what the word names
        values = [*values[:_SEQUENCE_SAMPLE], *values[-_SEQUENCE_SAMPLE:]]
    return [f"{v:0{width}d}" for v in values]


def _brace_expand(atoms: list[_Atom], top: bool = True) -> list[str]:
    """The words one word expands to (bash's brace expansion), each as shell text still to be quote-removed."""
    for i, (kind, _) in enumerate(atoms):
        if kind != "{":
            continue
        depth, commas, close = 0, [], None
        for k in range(i + 1, len(atoms)):
            inner = atoms[k][0]
            if inner == "{":
                depth += 1
            elif inner == "}":
                if depth == 0:
                    close = k
                    break
                depth -= 1
            elif inner == "," and depth == 0:
                commas.append(k)
        if close is None:
            continue
        if commas:
            bounds = [i, *commas, close]
            choices = [word for a, b in itertools.pairwise(bounds) for word in _brace_expand(atoms[a + 1 : b], False)]
        else:
            sequence = _sequence(atoms[i + 1 : close], whole=top and i == 0 and close == len(atoms) - 1)
            if sequence is None:
                continue  # `{}`, `{a}`, `{x..}`: the brace is an ordinary character
            choices = sequence
        preamble = "".join(text for _, text in atoms[:i])
        postscripts = _brace_expand(atoms[close + 1 :], False)
        if len(choices) * len(postscripts) > _BRACE_LIMIT:
            raise _BraceLimit
        return [preamble + choice + post for choice in choices for post in postscripts]
    return ["".join(text for _, text in atoms)]


def _braces(raw: str) -> str:
    """``raw`` with its unquoted brace words expanded as bash would, before it splits the words.

    Not expanded, as in bash: the assignments before the command (``X={a,b} cmd``), the word of a
    here-string and a here-document's delimiter. Raises :class:`_BraceLimit` when one word would
    expand to more than ``_BRACE_LIMIT`` words.
    """
    if "{" not in raw:
        return raw
    out: list[str] = []
    i, n = 0, len(raw)
    command_seen = False
    operator = ""
    while i < n:
        char = raw[i]
        if char in " \t\n":
            out.append(char)
            i += 1
            continue
        if char in "<>&|":
            end = i
            while end < n and raw[end] in "<>&|":
                end += 1
            operator = raw[i:end]
            out.append(operator)
            i = end
            continue
        atoms, end = _brace_atoms(raw, i)
        word = raw[i:end]
        i = end
        literal = operator.startswith("<<") or (
            not command_seen and not operator and (word in _KEYWORDS or bool(_ASSIGNMENT.match(word)))
        )
        if not operator and not literal:
            command_seen = True
        operator = ""
        out.append(word if literal else " ".join(_brace_expand(atoms)))
    return "".join(out)


def _words(raw: str) -> _Simple:
    """Words and redirections of one simple command (shlex, best effort), after brace expansion."""
    raw = _braces(raw)
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
    assignments: list[str] = []
    while words and (words[0] in _KEYWORDS or _ASSIGNMENT.match(words[0])):
        word = words.pop(0)
        if word not in _KEYWORDS:
            assignments.append(word)
    return _Simple(words, writes, herestrings, assignments)


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
    "install": _set("-m --mode -o --owner -g --group -S --suffix -t --target-directory --strip-program"),
    "touch": frozenset({"-d", "--date", "-t", "-r", "--reference"}),
    "truncate": frozenset({"-s", "--size", "-r", "--reference"}),
    "mkdir": frozenset({"-m", "--mode", "--context"}),
    "chmod": frozenset({"--reference"}),
    "chown": frozenset({"--reference", "--from"}),
    "chgrp": frozenset({"--reference"}),
    "tee": frozenset(),
    "sponge": frozenset(),
    "rm": frozenset(),
    "rmdir": frozenset(),
    "unlink": frozenset(),
    "shred": frozenset({"-n", "--iterations", "-s", "--size", "--random-source"}),
    "sed": frozenset({"-e", "--expression", "-f", "--file", "-l", "--line-length"}),
    "rsync": frozenset({"-e", "--rsh", "--exclude", "--include", "--filter", "-f", "--backup-dir", "--files-from"}),
}
# Compressors replace FILE with FILE.gz (or write FILE.zst next to it): FILE's directory is written, FILE
# removed. Per command, the options that take a value.
_GZIP_VALUE_OPTIONS = _set("-S --suffix -b --blocksize -p --processes")
_XZ_VALUE_OPTIONS = _set(
    "-S --suffix -F --format -C --check -T --threads -M --memlimit --memlimit-compress --memlimit-decompress "
    "--memlimit-mt --block-size --block-list"
)
_ZSTD_VALUE_OPTIONS = _set("-o -D --output-dir-flat --output-dir-mirror --patch-from --filelist --memory")
_COMPRESSORS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("gzip", "gunzip", "pigz", "unpigz"), _GZIP_VALUE_OPTIONS),
    **dict.fromkeys(("xz", "unxz", "lzma", "unlzma"), _XZ_VALUE_OPTIONS),
    **dict.fromkeys(("zstd", "unzstd"), _ZSTD_VALUE_OPTIONS),
    **dict.fromkeys(("bzip2", "bunzip2", "pbzip2", "lz4", "unlz4"), frozenset()),
    **dict.fromkeys(("lzip", "lzop"), _set("-o --output -S --suffix")),
    "brotli": _set("-o --output -S --suffix -q --quality -w --lgwin -D --dictionary"),
    **dict.fromkeys(("compress", "uncompress"), _set("-b")),
}
_COMPRESSOR_OUTPUTS = ("-o", "--output", "--output-dir-flat", "--output-dir-mirror")
_KEEPS_SOURCE = frozenset({"zstd", "unzstd", "lz4", "unlz4", "brotli"})  # unless `--rm`
_SPLIT_VALUE_OPTIONS = _set(
    "-a --suffix-length -b --bytes -C --line-bytes -l --lines -n --number -t --separator --additional-suffix "
    "--filter --numeric-suffixes --hex-suffixes"
)
_CSPLIT_VALUE_OPTIONS = _set("-b --suffix-format -f --prefix -n --digits")
_ZIP_VALUE_OPTIONS = _set("-b -n -t -tt -P -O --output-file -Z -s -sp -x -i --exclude --include")
_DOS2UNIX_VALUE_OPTIONS = _set("-c --convmode")
_CHANGERS = frozenset(_VALUE_OPTIONS) | frozenset(_COMPRESSORS) | {"dd", "dos2unix", "unix2dos", "split"}
_SORT_VALUE_OPTIONS = _set(
    "-k --key -t --field-separator -o --output -S --buffer-size -T --temporary-directory --files0-from "
    "--batch-size --compress-program --parallel --random-source --sort"
)
_UNIQ_VALUE_OPTIONS = _set("-f --skip-fields -s --skip-chars -w --check-chars")
_CURL_VALUE_OPTIONS = _set(
    "-A -b -c -C -d -D -e -E -F -H -K -m -o -P -Q -r -T -t -u -U -w -x -X -y -Y -z --output --dump-header "
    "--cookie-jar --output-dir --trace --trace-ascii --stderr --libcurl --etag-save --header --data --user "
    "--request --user-agent --referer --cookie --config --max-time --form --range --upload-file --proxy"
)
_CURL_OUTPUTS = _set(
    "-o --output -D --dump-header -c --cookie-jar --output-dir --trace --trace-ascii --stderr --libcurl --etag-save"
)
_WGET_VALUE_OPTIONS = _set(
    "-a -A -B -D -e -i -I -l -o -O -P -Q -R -t -T -U -w -X --output-document --output-file --append-output "
    "--directory-prefix --user-agent --header --tries --timeout --wait --input-file --execute"
)
_WGET_OUTPUTS = _set("-O --output-document -o --output-file -a --append-output -P --directory-prefix")
_TAR_VALUE_OPTIONS = _set(
    "-b -C -f -F -g -H -I -K -L -N -T -V -X --file --directory --files-from --exclude-from "
    "--use-compress-program --blocking-factor --record-size --info-script --new-volume-script "
    "--listed-incremental --starting-file --newer --after-date --newer-mtime --label --tape-length --format "
    "--owner --group --mode --mtime --exclude --transform --xform --strip-components --to-command --suffix "
    "--volno-file --rsh-command --rmt-command --index-file --checkpoint-action --exclude-tag "
    "--exclude-tag-under --exclude-tag-all --quoting-style --quote-chars --no-quote-chars --pax-option "
    "--warning --add-file --owner-map --group-map --hole-detection --sparse-version"
)
_PATCH_VALUE_OPTIONS = _set(
    "-B --prefix -d --directory -D --ifdef -F --fuzz -g --get -i --input -o --output -p --strip -r "
    "--reject-file -V --version-control -Y --basename-prefix -z --suffix --quoting-style --reject-format "
    "--read-only"
)
# Shell builtins that set or export variables (`for NAME in`, `read NAME`, `printf -v NAME` too).
_VARIABLE_SETTERS = frozenset({"export", "declare", "typeset", "local", "readonly", "for", "read", "printf"})
# Variables that point git at another repository, work tree, index, object store or configuration:
# with them, `git reset --hard` in the worktree resets the user's checkout. Refused wherever they are
# set; git finds the worktree's own repository without them.
_GIT_LOCATION_VARIABLES = _set(
    "GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES "
    "GIT_ALLOW_PROTOCOL"
)
# Variables whose value git runs as a command line: read like `bash -c`, so `GIT_PAGER=cat` passes.
_GIT_COMMAND_VARIABLES = _set(
    "GIT_PAGER GIT_EDITOR GIT_SEQUENCE_EDITOR GIT_SSH GIT_SSH_COMMAND GIT_ASKPASS GIT_EXTERNAL_DIFF GIT_PROXY_COMMAND"
)


def _protected_git_variable(name: str) -> bool:
    return name in _GIT_LOCATION_VARIABLES or name.startswith("GIT_CONFIG")


_GIT_HISTORY = _set(
    "rebase filter-branch filter-repo replace update-ref pull merge cherry-pick revert am fast-import replay "
    "quiltimport"
)
# git's own commands (git 2.39 to 2.5x: porcelain, plumbing, the internal ones). git never runs an alias
# with one of these names, so any other name may be one (see `check_git`). Left out on purpose:
# the front ends and bridges (`gui`, `citool`, `svn`, `p4`, `cvs*`, `archimport`, `lfs`), refused as unknown.
_GIT_COMMANDS = _set(
    "add add--interactive am annotate apply archive backfill bisect bisect--helper blame branch bugreport bundle "
    "cat-file check-attr check-ignore check-mailmap check-ref-format checkout checkout--worker checkout-index "
    "cherry cherry-pick clean clone column commit commit-graph commit-tree config count-objects credential "
    "credential-cache credential-cache--daemon credential-store daemon describe diagnose diff diff-files "
    "diff-index diff-pairs diff-tree difftool difftool--helper env--helper fast-export fast-import fetch "
    "fetch-pack filter-branch filter-repo fmt-merge-msg for-each-ref for-each-repo format-patch fsck "
    "fsck-objects fsmonitor--daemon gc get-tar-commit-id grep hash-object help hook http-backend http-fetch "
    "http-push imap-send index-pack init init-db instaweb interpret-trailers last-modified log ls-files "
    "ls-remote ls-tree mailinfo mailsplit maintenance merge merge-base merge-file merge-index merge-octopus "
    "merge-one-file merge-ours merge-recursive merge-recursive-ours merge-recursive-theirs merge-resolve "
    "merge-subtree merge-tree mergetool mktag mktree multi-pack-index mv name-rev notes pack-objects "
    "pack-redundant pack-refs patch-id pickaxe prune prune-packed pull push quiltimport range-diff read-tree "
    "rebase receive-pack reflog refs remote remote-ext remote-fd repack replace replay repo request-pull rerere "
    "reset restore rev-list rev-parse revert rm send-email send-pack shell shortlog show show-branch show-index "
    "show-ref sparse-checkout stage stash status stripspace submodule submodule--helper subtree switch "
    "symbolic-ref tag unpack-file unpack-objects update-index update-ref update-server-info upload-archive "
    "upload-archive--writer upload-pack var verify-commit verify-pack verify-tag version web--browse "
    "whatchanged worktree write-tree"
)
_GIT_COMMON = (
    "`git status`, `git diff`, `git log`, `git show`, `git add`, `git rm`, `git mv`, `git restore`, `git grep`, "
    "`git blame`, `git checkout HEAD -- PATH`"
)
_GIT_GREP_VALUE_OPTIONS = _set(
    "-e -f -A -B -C -m --max-count --max-depth --threads --after-context --before-context --context"
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
# Run elsewhere than the worktree (after `cd ../..`, in the user's checkout), git may only read. The
# commands whose writes the policy refuses everywhere (`branch`, `tag`, `config`, …) count as reads.
_GIT_READ_ONLY = _set(
    "status log show diff blame annotate grep ls-files ls-tree ls-remote rev-parse rev-list cat-file describe "
    "shortlog show-ref for-each-ref name-rev help version whatchanged diff-tree diff-files diff-index merge-base "
    "var check-ignore check-attr check-ref-format check-mailmap count-objects verify-commit verify-tag "
    "verify-pack show-branch cherry range-diff reflog branch tag config stash worktree remote notes"
)
# Options that name a file or directory git writes, per command (`--output` everywhere).
_GIT_OUTPUT_OPTIONS: dict[str, frozenset[str]] = {
    "format-patch": _set("-o --output-directory"),
    "archive": _set("-o"),
    "checkout-index": _set("--prefix"),
    "init": _set("--separate-git-dir"),
    "clone": _set("--separate-git-dir"),
}
_GIT_FETCH_VALUE_OPTIONS = _set(
    "--depth --deepen --shallow-since --shallow-exclude --refmap -o --server-option --upload-pack -j --jobs "
    "--negotiation-tip --filter --recurse-submodules-default --submodule-prefix"
)
_GIT_CLONE_VALUE_OPTIONS = _set(
    "--depth -b --branch -o --origin --template --reference --reference-if-able --separate-git-dir --config -c "
    "-j --jobs --shallow-since --shallow-exclude --filter -u --upload-pack --server-option --bundle-uri "
    "--ref-format"
)
_GIT_INIT_VALUE_OPTIONS = _set("--template --separate-git-dir --object-format --ref-format -b --initial-branch")
# Settings whose value git runs as a command line (see `check_git_settings`).
_GIT_COMMAND_SETTINGS = re.compile(
    r"^(?:core\.(?:pager|editor|sshcommand|askpass|fsmonitor|gitproxy|alternaterefscommand)|pager\..+|"
    r"sequence\.editor|diff\.external|diff\..+\.(?:command|textconv)|(?:diff|merge)tool\..+\.cmd|"
    r"merge\..+\.driver|filter\..+\.(?:clean|smudge|process)|credential\.(?:.+\.)?helper|"
    r"gpg\.(?:.+\.)?program|uploadpack\.packobjectshook|remote\..+\.(?:uploadpack|receivepack)|"
    r"sendemail\..+|web\.browser|browser\..+\.cmd|man\..+\.cmd)$"
)
_GIT_BOOLEANS = _set("true false yes no on off 1 0")
# What git reads as a revision even when a file has that name: `HEAD~1`, `main^`, `@{-1}`, `@`,
# `:/message`, and object names (4 to 40 hex digits).
_REVISION_SYNTAX = re.compile(r"[~^]|@\{|^@$|^:/|^[0-9a-fA-F]{4,40}$")
_REF_NAME = re.compile(r"^(?!.*\.\.)(?!/)[A-Za-z0-9._/+-]+$")
_PSEUDO_REF = re.compile(r"^[A-Z][A-Z_]*$")


_ENV_LONG = {"--unset": "-u", "--chdir": "-C", "--split-string": "-S"}


def _env_option(args: list[str], i: int) -> tuple[str | None, str | None, int]:
    """``env``'s options with a value at ``args[i]``: ``(-u|-C|-S, value, words taken)``, in every spelling
    (``-C DIR``, ``-CDIR``, ``-iC DIR``, ``--chdir DIR``, ``--chdir=DIR``, ``--ch=DIR``)."""
    arg = args[i]
    following = args[i + 1] if i + 1 < len(args) else None
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        full = _abbreviation(name, _ENV_LONG) if name not in _ENV_LONG else name
        if full is None:
            return None, None, 1
        return (_ENV_LONG[full], value, 1) if eq else (_ENV_LONG[full], following, 2)
    if arg.startswith("-") and arg != "-":
        for k in range(1, len(arg)):
            if arg[k] in "uCS":
                rest = arg[k + 1 :]
                return ("-" + arg[k], rest, 1) if rest else ("-" + arg[k], following, 2)
    return None, None, 1


def _before_dashes(operands: list[str], rest: list[str]) -> list[str]:
    """The operands written before ``--`` (all of them without one)."""
    if "--" not in rest:
        return operands
    return operands[: len(operands) - len(rest[rest.index("--") + 1 :])]


def _show(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 20] + "..." + text[-17:]
    return f"`{text}`"


def _name(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _abbreviation(name: str, known: Iterable[str]) -> str | None:
    """The one long option in ``known`` that ``name`` abbreviates (getopt_long accepts ``--targ``)."""
    if len(name) < 3:
        return None
    matches = [option for option in known if option.startswith("--") and option.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def _split_options(
    args: Sequence[str], takes_value: Iterable[str] = (), attached: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """``(options, operands)`` as getopt_long reads them; an option's value stays with the option.

    ``-t DIR``, ``-tDIR``, ``-rt DIR``, ``--target-directory DIR`` and ``--targ=DIR`` all give
    ``-t=DIR`` / ``--target-directory=DIR`` (``-rt DIR`` also gives ``-r``). ``attached`` are short
    options whose optional value can only be attached (``sed -i.bak``): their word stays whole.
    """
    valued = frozenset(takes_value)
    optional = frozenset(attached)
    options: list[str] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            operands.extend(args[i + 1 :])
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            full = name if name in valued else _abbreviation(name, valued)
            if full is None:
                options.append(arg)
            elif eq:
                options.append(f"{full}={value}")
            elif i + 1 < len(args):
                options.append(f"{full}={args[i + 1]}")
                if full == name:
                    i += 1
                # An abbreviation may be a flag of its own this table does not know (`install --strip`
                # is not `--strip-program`): the next word is read as an operand too.
            else:
                options.append(arg)
        elif arg.startswith("-") and arg != "-":
            for k in range(1, len(arg)):
                letter = "-" + arg[k]
                if letter in optional:
                    options.append(arg)
                    break
                if letter in valued:
                    if k > 1:
                        options.append(arg[:k])
                    if arg[k + 1 :]:
                        options.append(f"{letter}={arg[k + 1 :]}")
                    elif i + 1 < len(args):
                        options.append(f"{letter}={args[i + 1]}")
                        i += 1
                    else:
                        options.append(letter)
                    break
            else:
                options.append(arg)
        else:
            operands.append(arg)
        i += 1
    return options, operands


def _option_values(options: Sequence[str], *names: str) -> list[str]:
    return [option.split("=", 1)[1] for option in options if option.split("=", 1)[0] in names and "=" in option]


def _has_option(options: Sequence[str], letter: str, *longs: str) -> bool:
    """Whether ``-x`` (alone or in a cluster like ``-sf``) or a long form (or its abbreviation) was given."""
    if letter and letter in _short_flags(options):
        return True
    for option in options:
        name = option.split("=", 1)[0]
        if name.startswith("--") and any(name == full or (len(name) > 3 and full.startswith(name)) for full in longs):
            return True
    return False


def _short_flags(options: Sequence[str]) -> set[str]:
    """The single-letter flags in ``-rf`` style options."""
    flags: set[str] = set()
    for option in options:
        if option.startswith("-") and not option.startswith("--") and "=" not in option:
            flags.update(option[1:])
    return flags


_MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit
_REPEATS = re.compile(r"\b(?:for|while|until|select|function)\b|\(\s*\)")


class _Policy:
    def __init__(self, root: Path, home: str | None, scratch: Path | None) -> None:
        self.root = Path(os.path.realpath(root))
        self.home = home
        self.scratch = scratch
        # What earlier commands of this command line create, which does not exist yet when the
        # policy reads it: symbolic links (path -> the link's text, None when it cannot be known
        # here) and directories. `ln -s ~ h && rm -rf h/.ssh` is judged with `h` pointing home.
        self.links: dict[str, str | None] = {}
        self.dirs: set[str] = set()
        self.frozen = False  # re-reading a loop: what the command line makes is known already

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
            try:
                simple = _words(segment.raw)
            except _BraceLimit:
                raise _Refused(
                    f"{_show(segment.source)} has a brace expansion that makes more than {_BRACE_LIMIT} words, too "
                    "many to judge; write the names out, or loop over them (`for i in $(seq 1 N); do …; done`)"
                ) from None
            if _OTHER_ENVIRON.search(segment.source):
                raise _Refused(
                    f"{_show(segment.source)} reads another process's environment; secrets are kept out of your "
                    "environment on purpose. Use the variables you have (`env`), or ask for what you need in "
                    "your note"
                )
            for target in simple.writes:
                self.require_inside(target, here, segment.source, follow=True)
            for assignment in simple.assignments:
                self.check_assignment(assignment, here, segment.source, level)
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
            self.check_simple(command, words, here, segment.source, level)

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
                    option, value, taken = _env_option(args, i)
                    if option is not None:
                        if option == "-C" and value is not None:
                            cwd = self.resolve(value, cwd, follow=True)
                        if option == "-S" and value is not None:
                            self.check(value + " " + shlex.join(args[i + taken :]), cwd, level + 1)
                            return None, [], cwd
                        i += taken
                    elif arg.startswith("-") or _ASSIGNMENT.match(arg):
                        if _ASSIGNMENT.match(arg):
                            self.check_assignment(arg, cwd, raw, level)
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

    def expand(self, word: str, cwd: Path | None) -> str | None:
        """``word`` with ``~``, ``$HOME`` and ``$PWD`` expanded; None when what it names cannot be known here."""
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
        return word

    def resolve(self, word: str, cwd: Path | None, *, follow: bool) -> Path | None:
        """Where ``word`` points, as the shell would expand it; None when that cannot be known here."""
        expanded = self.expand(word, cwd)
        if expanded is None:
            return None
        word = expanded
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
            return self.realpath(word)
        parent = self.realpath(os.path.dirname(word.rstrip("/")))
        return None if parent is None else parent / base

    def realpath(self, path: str) -> Path | None:
        """:func:`os.path.realpath` of the absolute ``path``, also through the links made earlier in this
        command line; None when it goes through one whose target cannot be known here."""
        pending = list(reversed(path.split("/")))
        resolved = "/"
        hops = 0
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                resolved = os.path.dirname(resolved)
                continue
            candidate = os.path.join(resolved, name)
            if candidate in self.links:
                target = self.links[candidate]
                if target is None:
                    return None
            else:
                try:
                    target = os.readlink(candidate)
                except OSError:  # not a link, or not there (yet)
                    resolved = candidate
                    continue
            hops += 1
            if hops > _MAX_LINK_HOPS:
                resolved = candidate
                continue
            if target.startswith("/"):
                resolved = "/"
            pending.extend(reversed(target.split("/")))
        return Path(resolved)

    def link_text(self, path: Path) -> tuple[bool, str | None]:
        """``(is a link, its text)`` for ``path``, a link this command line made or one on disk."""
        key = str(path)
        if key in self.links:
            return True, self.links[key]
        try:
            return True, os.readlink(key)
        except OSError:
            return False, None

    def is_dir(self, path: Path) -> bool:
        key = str(path)
        return os.path.isdir(key) or key in self.dirs or any(d.startswith(key + "/") for d in self.dirs)

    def forget(self, path: Path | None) -> None:
        """``path`` is removed or replaced: what this command line made there is gone."""
        if path is None or self.frozen:
            return
        key = str(path)
        for made in [k for k in self.links if k == key or k.startswith(key + "/")]:
            del self.links[made]
        self.dirs = {d for d in self.dirs if d != key and not d.startswith(key + "/")}

    def may_change(self, path: Path) -> bool:
        """Whether a command may change ``path``: inside the worktree, the sandbox's /tmp, a device."""
        text = str(path)
        if text in _ALLOWED_DEVICES or _FD_PATH.match(text):
            return True
        if (
            self.scratch is not None
            and path.is_relative_to(self.scratch)
            and path != self.scratch
            and not path.is_relative_to(self.root)
            and not any(part.casefold() == ".git" for part in path.parts)
        ):
            return True
        return path.is_relative_to(self.root)

    def require_inside(self, word: str, cwd: Path | None, raw: str, *, follow: bool, removes: bool = False) -> None:
        path = self.resolve(word, cwd, follow=follow)
        if path is not None:
            self.require_path(path, word, raw, removes=removes)

    def require_path(self, path: Path, word: str, raw: str, *, removes: bool = False) -> None:
        text = str(path)
        if not self.may_change(path):
            where = "the file system root" if text == "/" else f"`{text}`"
            raise _Refused(
                f"{_show(raw)} would change {where}, which is outside the worktree; commands may only change "
                f"files inside the worktree ({self.root}). Use a path inside it (relative paths start at the "
                "worktree root); put scratch files there too and delete them before you finish"
            )
        if not path.is_relative_to(self.root):
            return  # a device, or the sandbox's /tmp
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

    def check_simple(self, command: str, words: list[str], cwd: Path | None, raw: str, level: int = 0) -> None:
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
            self.check_git(args, cwd, raw, level)
            return
        if command in _VARIABLE_SETTERS:
            self.check_variables(command, args, cwd, raw, level)
            return
        if command in ("curl", "wget"):
            self.check_download(command, args, cwd, raw)
            return
        if command == "find":
            self.check_find(args, cwd, raw)
            return
        if command == "dd":
            for arg in args:
                if arg.startswith("of="):
                    self.require_inside(arg[3:], cwd, raw, follow=True)
            return
        if command in ("tar", "bsdtar"):
            self.check_tar(args, cwd, raw)
            return
        if command == "unzip":
            self.check_unzip(args, cwd, raw)
            return
        if command == "patch":
            self.check_patch(args, cwd, raw)
            return
        if command in ("sort", "uniq"):
            options, operands = _split_options(args, _SORT_VALUE_OPTIONS if command == "sort" else _UNIQ_VALUE_OPTIONS)
            outputs = _option_values(options, "-o", "--output") if command == "sort" else operands[1:2]
            for output in outputs:
                if output != "-":
                    self.require_inside(output, cwd, raw, follow=True)
            return
        if command == "link":  # `link FILE1 FILE2`: a hard link, never into a directory
            self.check_copy("ln", ["-T"], args[-2:] if len(args) >= 2 else [], None, cwd, raw)
            return
        if command in _COMPRESSORS:
            self.check_compressor(command, args, cwd, raw)
            return
        if command in ("split", "csplit", "zip", "dos2unix", "unix2dos", "perl"):
            self.check_file_writer(command, args, cwd, raw, level)
            return
        if command not in _VALUE_OPTIONS:
            return
        options, operands = _split_options(args, _VALUE_OPTIONS[command], ("-i",) if command == "sed" else ())
        target_dirs = _option_values(options, "-t", "--target-directory")
        target_dir = target_dirs[-1] if target_dirs else None
        if command in ("rm", "rmdir", "unlink", "shred"):
            for operand in operands:
                self.require_inside(operand, cwd, raw, follow=False, removes=True)
                if command == "shred":  # it overwrites what a link points to
                    self.require_inside(operand, cwd, raw, follow=True)
                elif not _GLOB_CHARS.search(operand):
                    self.forget(self.resolve(operand, cwd, follow=False))
        elif command in ("mv", "cp", "ln"):
            self.check_copy(command, options, operands, target_dir, cwd, raw)
        elif command in ("install", "rsync"):
            if target_dir:
                self.require_inside(target_dir, cwd, raw, follow=True)
            elif command == "install" and _has_option(options, "d", "--directory"):
                for operand in operands:  # `install -d DIR…` makes every one of them
                    self.require_inside(operand, cwd, raw, follow=True)
            elif operands and not (command == "rsync" and ":" in operands[-1].split("/", 1)[0]):
                self.require_inside(operands[-1], cwd, raw, follow=True)
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
                made = self.resolve(operand, cwd, follow=True) if command == "mkdir" else None
                if made is not None:
                    self.dirs.add(str(made))

    def check_compressor(self, command: str, args: list[str], cwd: Path | None, raw: str) -> None:
        """``gzip FILE`` replaces FILE with ``FILE.gz``; ``zstd FILE`` writes ``FILE.zst`` next to it."""
        options, operands = _split_options(args, _COMPRESSORS[command])
        for output in _option_values(options, *_COMPRESSOR_OUTPUTS):
            if output != "-":
                self.require_inside(output, cwd, raw, follow=True)
        if _has_option(options, "c", "--stdout", "--to-stdout") or _has_option(options, "t", "--test"):
            return
        if _has_option(options, "" if command in ("lz4", "unlz4") else "l", "--list"):  # lz4's `-l` is a format
            return
        sources = [operand for operand in operands if operand != "-"]
        explicit = bool(_option_values(options, *_COMPRESSOR_OUTPUTS))
        if command in ("lz4", "unlz4") and len(sources) == 2 and not _has_option(options, "m", "--multiple"):
            self.require_inside(sources[1], cwd, raw, follow=True)  # `lz4 IN OUT`
            sources, explicit = sources[:1], True
        keeps = command in _KEEPS_SOURCE or _has_option(options, "k", "--keep")
        if explicit and keeps and not _has_option(options, "", "--rm"):
            return  # the sources are only read
        for source in sources:  # replaced or removed, the output written beside it
            self.require_inside(source, cwd, raw, follow=False)

    def check_file_writer(self, command: str, args: list[str], cwd: Path | None, raw: str, level: int) -> None:
        """``split``, ``csplit``, ``zip``, ``dos2unix`` and ``perl -i``: the files they write are named as arguments."""
        if command == "perl":
            for path in _perl_in_place(args):
                self.require_inside(path, cwd, raw, follow=True)
            return
        valued = {
            "split": _SPLIT_VALUE_OPTIONS,
            "csplit": _CSPLIT_VALUE_OPTIONS,
            "zip": _ZIP_VALUE_OPTIONS,
        }.get(command, _DOS2UNIX_VALUE_OPTIONS)
        options, operands = _split_options(args, valued)
        if command == "split":
            filters = _option_values(options, "--filter")
            for line in filters:
                self.check(line, cwd, level + 1)  # run by the shell for each piece, instead of writing it
            if not filters:  # `split FILE PREFIX` writes PREFIXaa, PREFIXab, …; the prefix is `x`
                self.require_inside((operands[1] if len(operands) > 1 else "x") + "aa", cwd, raw, follow=False)
        elif command == "csplit":
            prefixes = _option_values(options, "-f", "--prefix") or ["xx"]
            self.require_inside(prefixes[-1] + "00", cwd, raw, follow=False)
        elif command == "zip":
            outputs = _option_values(options, "-O", "--output-file") + operands[:1]
            for output in outputs:
                if output != "-":
                    self.require_inside(output, cwd, raw, follow=True)
            if _has_option(options, "m", "--move"):
                for moved in operands[1:]:  # deleted once they are in the archive
                    self.require_inside(moved, cwd, raw, follow=False, removes=True)
        else:  # dos2unix, unix2dos: in place, or `-n IN OUT` pairs
            new_files = _has_option(options, "n", "--newfile")
            for path in operands[1::2] if new_files else operands:
                self.require_inside(path, cwd, raw, follow=True)

    # -- links, copies and moves ---------------------------------------------------------------

    def check_copy(
        self, command: str, options: list[str], operands: list[str], target_dir: str | None, cwd: Path | None, raw: str
    ) -> None:
        """``mv``, ``cp`` and ``ln``: where each new name lands, hard links to files outside, and the
        links they make (so later commands of the same line are judged through them)."""
        if self.frozen:
            return
        symbolic = _has_option(options, "s", "--symbolic" if command == "ln" else "--symbolic-link") and command != "mv"
        hard = (command == "ln" and not symbolic) or (command == "cp" and _has_option(options, "l", "--link"))
        if target_dir is not None:
            self.require_inside(target_dir, cwd, raw, follow=True)
            sources, dest = operands, None
        elif command == "ln" and len(operands) == 1:
            sources, dest = operands, None  # `ln -s TARGET`: the link lands in the current directory
        elif len(operands) >= 2:
            sources, dest = operands[:-1], operands[-1]
        else:
            return
        if command == "mv":
            for source in sources:
                self.require_inside(source, cwd, raw, follow=False, removes=True)
        landings = self.landings(
            sources,
            dest,
            target_dir,
            cwd,
            no_target=_has_option(options, "T", "--no-target-directory"),
            no_dereference=command == "ln" and _has_option(options, "n", "--no-dereference"),
            follow=command == "cp",  # cp writes through a link it finds there; ln and mv replace it
        )
        for source, landing in landings:
            if landing is None:
                continue
            self.require_path(landing, dest or target_dir or source, raw)
            if hard:
                self.require_hard_link_source(source, cwd, raw)
            self.record(command, options, source, landing, cwd, symbolic=symbolic)

    def landings(
        self,
        sources: list[str],
        dest: str | None,
        target_dir: str | None,
        cwd: Path | None,
        *,
        no_target: bool,
        no_dereference: bool,
        follow: bool,
    ) -> list[tuple[str, Path | None]]:
        """Where each source's new name is: ``DEST`` itself, or ``DIR/basename`` when it goes into a directory."""
        if target_dir is not None:
            directory = self.resolve(target_dir, cwd, follow=True)
        elif dest is None:
            directory = cwd
        else:
            entry = self.resolve(dest, cwd, follow=False)
            followed = self.resolve(dest, cwd, follow=True)
            into = not no_target and (
                len(sources) > 1
                or dest.endswith("/")
                or (
                    followed is not None
                    and self.is_dir(followed)
                    and not (no_dereference and entry is not None and self.link_text(entry)[0])
                )
            )
            if not into:
                return [(sources[0], followed if follow else entry)]
            directory = followed
        places: list[tuple[str, Path | None]] = []
        for source in sources:
            name = _name((self.expand(source, cwd) or source).rstrip("/")) or "."
            landing = None if directory is None else directory / name
            if landing is not None and (follow or name in (".", "..")):
                landing = self.realpath(str(landing))
            places.append((source, landing))
        return places

    def require_hard_link_source(self, source: str, cwd: Path | None, raw: str) -> None:
        path = self.resolve(source, cwd, follow=True)
        if path is None or self.may_change(path):
            return
        raise _Refused(
            f"{_show(raw)} would make a hard link to `{path}`, which is outside the worktree: a hard link is the "
            "same file, so writing to it changes that file. Copy it instead (`cp SOURCE DEST`), or, to read it, "
            "link to it with `ln -s`"
        )

    def record(
        self, command: str, options: list[str], source: str, landing: Path, cwd: Path | None, *, symbolic: bool
    ) -> None:
        """Remember what the new name at ``landing`` is, for the rest of the command line."""
        key = str(landing)
        self.forget(landing)
        if _GLOB_CHARS.search(source):
            return
        entry = self.resolve(source, cwd, follow=False)
        if symbolic:
            if command == "ln" and _has_option(options, "r", "--relative"):
                self.links[key] = None if entry is None else str(entry)
            else:
                self.links[key] = self.expand(source, cwd)  # the link's text, read from where it lands
            return
        if entry is None:
            return
        flags = _short_flags(options)
        if command == "cp":
            keeps_links = (
                bool({"d", "P", "a", "r", "R"} & flags)
                or _has_option(options, "", "--no-dereference", "--archive", "--recursive")
            ) and not (
                {"L", "H"} & flags or _has_option(options, "", "--dereference") or _has_option(options, "l", "--link")
            )
        else:  # mv renames; a hard `ln` of a symbolic link links the link itself (`-P`, the default)
            keeps_links = not (command == "ln" and _has_option(options, "L", "--logical"))
        is_link, text = self.link_text(entry)
        if keeps_links and is_link:
            self.links[key] = text
        elif command == "mv" and self.is_dir(entry):
            self.links[key] = str(entry)  # a renamed directory: the links in it are reached by the new name
        if command == "mv":
            self.links.pop(str(entry), None)

    # -- other writers -------------------------------------------------------------------------

    def check_variables(self, command: str, args: list[str], cwd: Path | None, raw: str, level: int) -> None:
        """``export``, ``declare``, ``for NAME in``, ``read NAME``: the git variables that re-point git."""
        names = args[:1] if command == "for" else [a for a in args if not a.startswith(("-", "+"))]
        if command == "printf":
            names = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-v"]
        for word in names:
            if "=" in word and command not in ("for", "read", "printf"):
                self.check_assignment(word, cwd, raw, level)
            elif _protected_git_variable(word):
                self.refuse_git_variable(word, raw)

    def check_assignment(self, word: str, cwd: Path | None, raw: str, level: int) -> None:
        """``NAME=value`` before a command, alone, through ``env`` or ``export``."""
        name, _, value = word.partition("=")
        name = name.rstrip("+")
        if _protected_git_variable(name):
            self.refuse_git_variable(name, raw)
        if name in _GIT_COMMAND_VARIABLES:
            self.check(value, cwd, level + 1)  # git runs it as a command line
        if name.startswith("GIT_TRACE") and value.startswith(("/", "~", "$HOME", "${HOME}")):
            self.require_inside(value, cwd, raw, follow=True)  # an absolute path: git writes the trace there

    def refuse_git_variable(self, name: str, raw: str) -> NoReturn:
        if name.startswith("GIT_CONFIG"):
            raise _Refused(
                f"{_show(raw)} is refused: `{name}` loads git configuration from elsewhere, which can re-point git "
                "or make it run commands. Pass one-off settings as `git -c NAME=VALUE …`; run git in the worktree "
                "without it"
            )
        raise _Refused(
            f"{_show(raw)} is refused: `{name}` points git at another repository, work tree, index or object "
            "store than the worktree's own, such as the user's checkout; run git in the worktree without it "
            "(your commands start there; git finds the worktree's repository by itself)"
        )

    def check_download(self, command: str, args: list[str], cwd: Path | None, raw: str) -> None:
        valued = _CURL_VALUE_OPTIONS if command == "curl" else _WGET_VALUE_OPTIONS
        outputs = _CURL_OUTPUTS if command == "curl" else _WGET_OUTPUTS
        options, _ = _split_options(args, valued)
        targets = _option_values(options, *outputs)
        for target in targets:
            if target != "-":
                self.require_inside(target, cwd, raw, follow=True)
        # Without an output name the file lands in the current directory.
        lands_here = (
            command == "curl"
            and _has_option(options, "O", "--remote-name", "--remote-name-all")
            and not _option_values(options, "--output-dir")
        ) or (
            command == "wget"
            and not _option_values(options, "-O", "--output-document", "-P", "--directory-prefix")
            and not _has_option(options, "", "--spider")
        )
        if lands_here:
            self.require_inside(".", cwd, raw, follow=True)

    def check_tar(self, args: list[str], cwd: Path | None, raw: str) -> None:
        words = list(args)
        if words and not words[0].startswith("-"):  # old style: `tar xzf FILE -C DIR`, `tar xfC FILE DIR`
            letters, values, words = words[0], words[1:], []
            for letter in letters:
                words.append("-" + letter)
                if "-" + letter in _TAR_VALUE_OPTIONS and values:
                    words.append(values.pop(0))
            words += values
        options, operands = _split_options(words, _TAR_VALUE_OPTIONS)
        flags = _short_flags(options)
        extracts = "x" in flags or _has_option(options, "", "--extract", "--get")
        creates = bool({"c", "r", "u", "A"} & flags) or _has_option(
            options, "", "--create", "--append", "--update", "--catenate", "--concatenate", "--delete"
        )
        base = cwd
        for directory in _option_values(options, "-C", "--directory"):
            if extracts:
                self.require_inside(directory, base, raw, follow=True)
            base = None if base is None else self.resolve(directory, base, follow=True)
        if extracts and not ("O" in flags or _has_option(options, "", "--to-stdout", "--to-command")):
            if _has_option(options, "P", "--absolute-names"):
                raise _Refused(
                    f"{_show(raw)} extracts with absolute names (`-P`), so the archive decides where files go, "
                    "outside the worktree too; extract without `-P` into a directory inside the worktree "
                    "(`tar -x -f ARCHIVE -C DIR`)"
                )
            self.require_inside(".", base, raw, follow=True)
            for top in _option_values(options, "--one-top-level"):
                self.require_inside(top, base, raw, follow=True)
        if creates:
            for archive in _option_values(options, "-f", "--file"):
                if archive != "-":
                    self.require_inside(archive, cwd, raw, follow=True)
            if _has_option(options, "", "--remove-files"):
                for operand in operands:
                    self.require_inside(operand, base, raw, follow=False, removes=True)

    def check_unzip(self, args: list[str], cwd: Path | None, raw: str) -> None:
        directory: str | None = None
        lists = False
        i = 0
        while i < len(args):
            arg = args[i]
            if arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
                for k in range(1, len(arg)):
                    letter = arg[k]
                    if letter == ":":
                        raise _Refused(
                            f"{_show(raw)} lets the archive write outside the directory it extracts to (`-:` keeps "
                            "`../` in names), outside the worktree too; extract without `-:`"
                        )
                    lists = lists or letter in "lptvzZ"
                    if letter in "dP":
                        value = arg[k + 1 :]
                        if not value and i + 1 < len(args):
                            i += 1
                            value = args[i]
                        if letter == "d":
                            directory = value
                        break
            i += 1
        if not lists:
            self.require_inside(directory or ".", cwd, raw, follow=True)

    def check_patch(self, args: list[str], cwd: Path | None, raw: str) -> None:
        options, operands = _split_options(args, _PATCH_VALUE_OPTIONS)
        if _has_option(options, "", "--dry-run"):
            return
        base = cwd
        for directory in _option_values(options, "-d", "--directory"):
            self.require_inside(directory, base, raw, follow=True)
            base = None if base is None else self.resolve(directory, base, follow=True)
        self.require_inside(".", base, raw, follow=True)  # the files the patch names are under it
        for output in _option_values(options, "-o", "--output", "-r", "--reject-file"):
            if output != "-":
                self.require_inside(output, base, raw, follow=True)
        for prefix in _option_values(options, "-B", "--prefix", "-Y", "--basename-prefix"):
            if "/" in prefix:
                self.require_inside(os.path.dirname(prefix) or "/", base, raw, follow=True)
        if operands:  # `patch FILE PATCHFILE`: FILE is the one it changes
            self.require_inside(operands[0], base, raw, follow=True)

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

    def check_git(self, args: list[str], cwd: Path | None, raw: str, level: int = 0) -> None:
        settings: list[tuple[str, str | None]] = []
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
            elif name == "-c":
                key, has_value, setting = value.partition("=")
                settings.append((key, setting if has_value else "true"))
            elif name == "--config-env":
                settings.append((value.partition("=")[0], None))
            i += 1
        self.check_git_settings(settings, cwd, raw, level)
        if i >= len(args):
            return
        sub, rest = args[i], args[i + 1 :]
        if sub not in _GIT_COMMANDS:
            # git runs an alias (`[alias] p = push`, `x = !rm -rf ~`) only for a name that is not one of
            # its commands, and the aliases are in configuration files the policy does not read.
            shown = sub.replace("$__SUBST__", "$(…)").replace("$__ARITH__", "$((…))")
            raise _Refused(
                f"{_show(raw)} is refused: `{shown}` is not a git command the policy knows, so it could be an alias "
                "from the user's or the repository's git configuration, which may run any command, or a name "
                f"computed when the command runs. Write out the git command itself ({_GIT_COMMON})"
            )
        if cwd is not None and sub not in _GIT_READ_ONLY and not self.git_may_run_in(cwd):
            raise _Refused(
                f"{_show(raw)} runs git in `{cwd}`, outside the worktree, where it would change another repository "
                "or the user's checkout; run git in the worktree (your commands start there). Reading from "
                "elsewhere (`git log`, `git status`, `git diff`, `git show`) is fine"
            )
        options, operands = _split_options(rest)
        flags = _short_flags(options)

        def refuse(why: str, instead: str = _RESTORE) -> NoReturn:
            raise _Refused(f"{_show(raw)} is refused: {why}. {instead[:1].upper()}{instead[1:]}")

        for output in self.git_outputs(sub, rest):
            self.require_inside(output, cwd, raw, follow=True)
        if sub in ("push", "send-pack", "http-push"):
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
            # `git checkout X` switches to X when X is a branch or commit, even when a file is named X
            # too ("do not complain the most common case"); `git checkout X --` always does.
            before = _before_dashes(operands, rest)
            if (
                len(before) == 1
                and before == operands
                and ("--" in rest or self.names_revision(before[0], cwd) or not self.exists(before[0], cwd))
            ):
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
        elif sub == "maintenance":
            refuse(
                "`git maintenance` registers scheduled jobs in the user's configuration and repacks the repository "
                f"in the background; {_SHARED_REPO}",
                "leave housekeeping to the user",
            )
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
        elif sub == "fetch":
            self.check_git_fetch(rest, cwd, level, refuse)
        elif sub in ("clone", "ls-remote"):
            clone_options, clone_operands = _split_options(rest, _GIT_CLONE_VALUE_OPTIONS)
            for command in _option_values(clone_options, "-u", "--upload-pack"):
                self.check(command, cwd, level + 1)  # run as a command line when the remote is a local path
            if sub == "clone" and len(clone_operands) > 1:
                self.require_inside(clone_operands[1], cwd, raw, follow=True)
        elif sub == "clean":
            for operand in operands:
                self.require_inside(operand, cwd, raw, follow=True)
        elif sub == "init":
            _, init_operands = _split_options(rest, _GIT_INIT_VALUE_OPTIONS)
            if init_operands:
                self.require_inside(init_operands[-1], cwd, raw, follow=True)
        else:
            self.check_git_runners(sub, rest, cwd, level, refuse)

    def check_git_runners(
        self, sub: str, rest: list[str], cwd: Path | None, level: int, refuse: Callable[..., NoReturn]
    ) -> None:
        """The git commands that run a command line given to them, or run git elsewhere."""
        if sub == "bisect":
            operands = _split_options(rest)[1]
            reads: tuple[list[str], ...] = ([], ["log"], ["view"], ["visualize"], ["terms"], ["help"])
            if operands[:1] not in reads and operands != ["reset"]:
                refuse(
                    "`git bisect` checks out other commits in the worktree (and `git bisect run` runs a command "
                    "at each); the harness manages the branch",
                    "to find where something changed, read `git log -p -- PATH` or `git show REV:PATH`; to leave a "
                    "bisection, `git bisect reset`",
                )
        elif sub == "submodule":
            words = list(rest)
            while words and words[0].startswith("-"):  # `git submodule --quiet foreach …`
                words.pop(0)
            if words[:1] == ["foreach"]:
                run = words[1:]
                while run and run[0] in ("--recursive", "-q", "--quiet"):
                    run.pop(0)
                # One word is run by the shell, more as a command; judged from the worktree, which is above
                # every submodule, so a path that leaves a submodule leaves the worktree from here too.
                self.check(run[0] if len(run) == 1 else shlex.join(run), cwd, level + 1)
        elif sub == "difftool":
            options, _ = _split_options(rest, _set("-x --extcmd -t --tool"))
            for command in _option_values(options, "-x", "--extcmd"):
                self.check(command, cwd, level + 1)  # run with the two versions' file names
        elif sub == "grep":
            options, _ = _split_options(rest, _GIT_GREP_VALUE_OPTIONS, ("-O",))
            for option in options:
                if option.startswith("--open"):  # `--open-files-in-pager=CMD`
                    pager = option.partition("=")[2]
                elif option.startswith("-") and not option.startswith("--") and "O" in option:
                    pager = option[option.index("O") + 1 :]  # `-OCMD`, `-iOCMD`
                else:
                    continue
                if pager:  # without one, git uses the pager (`core.pager`, judged with `-c`)
                    self.check(pager, cwd, level + 1)
        elif sub in ("archive", "fetch-pack"):
            options, _ = _split_options(rest, _set("--exec --upload-pack --remote -o --output --prefix --format"))
            for command in _option_values(options, "--exec", "--upload-pack"):
                self.check(command, cwd, level + 1)  # run as a command line when the remote is a local path
        elif sub == "for-each-repo":
            refuse(
                "`git for-each-repo` runs git in the repositories a configuration setting lists, such as the "
                "user's checkout",
                "run git in the worktree (your commands start there)",
            )
        elif sub == "send-email":
            refuse(
                "the harness never sends patches by mail, and `git send-email` runs the commands its options "
                "name; sending is the user's decision after the run",
                "leave your work in the working tree; the harness commits it on its branch",
            )

    def git_may_run_in(self, cwd: Path) -> bool:
        """Whether git may change the repository it finds from ``cwd``: the worktree, or the sandbox's /tmp."""
        return cwd.is_relative_to(self.root) or (
            self.scratch is not None and cwd.is_relative_to(self.scratch) and cwd != self.scratch
        )

    def git_outputs(self, sub: str, rest: list[str]) -> list[str]:
        """Files and directories ``git SUB`` writes besides the repository: ``--output``, ``-o``, prefixes."""
        valued = {"--output"} | _GIT_OUTPUT_OPTIONS.get(sub, frozenset())
        options, operands = _split_options(rest, valued)
        outputs = _option_values(options, *(valued - {"--prefix"}))
        if sub == "bundle" and operands[:1] == ["create"] and len(operands) > 1:
            outputs.append(operands[1])
        if sub == "checkout-index":
            # `--prefix=DIR/` writes DIR/path; `--prefix=x` writes `xpath` next to it.
            for prefix in _option_values(options, "--prefix"):
                outputs.append(prefix if prefix.endswith("/") else os.path.dirname(prefix) or ".")
        return [output for output in outputs if output != "-"]

    def check_git_settings(
        self, settings: list[tuple[str, str | None]], cwd: Path | None, raw: str, level: int
    ) -> None:
        """The one-off ``git -c NAME=VALUE`` settings.

        A ``-c`` lasts for one command, so most settings are harmless. Three kinds are not:
        settings that re-point git at other files or repositories (``core.worktree``, ``include.path``,
        ``includeIf.*.path``, allowing ``ext::`` transports, which run commands) are refused; hooks
        (``core.hooksPath``) are refused unless turned off with ``/dev/null``, since git would run
        scripts for this command that the policy cannot read; and settings whose value git runs as a
        command line (``core.pager``, ``core.editor``, ``core.sshCommand``, ``core.fsmonitor``,
        ``diff.external``, filters, …) are read like ``bash -c``, so ``-c core.pager=cat`` passes and
        ``-c core.pager='rm -rf ~'`` does not. Aliases (``-c alias.x=…``) are refused: the command can be
        written out instead, and an alias reaches further than it looks (``!`` runs a shell command, its
        name matches case-insensitively, ``help.autocorrect`` runs a near miss). A value from the
        environment (``--config-env``) cannot be read, so those kinds are refused there.
        """
        for key, value in settings:
            parts = key.split(".")
            if len(parts) < 2:
                continue
            name = ".".join([parts[0].lower(), *parts[1:-1], parts[-1].lower()])
            section, variable = parts[0].lower(), parts[-1].lower()
            redirects = (
                name in ("core.worktree", "include.path")
                or (section == "includeif" and variable == "path")
                or (name == "protocol.ext.allow" and value != "never")  # `ext::CMD` remotes run CMD
                or (name == "protocol.allow" and value == "always")
            )
            hooks = name == "core.hookspath"
            runs = bool(_GIT_COMMAND_SETTINGS.match(name))
            if section == "alias":
                raise _Refused(
                    f"{_show(raw)} is refused: `-c {key}=…` defines a git alias for this command, and an alias can "
                    "run any git or shell command. Write out the command the alias stands for instead"
                )
            if value is None and (redirects or hooks or runs):
                raise _Refused(
                    f"{_show(raw)} is refused: `--config-env` takes the value of `{key}` from the environment, "
                    "which the policy cannot read. Pass it on the command line as `git -c NAME=VALUE`"
                )
            if value is None:
                continue
            if redirects:
                raise _Refused(
                    f"{_show(raw)} is refused: the one-off configuration `{key}` re-points git at other files or "
                    "transports than the worktree's repository. Run git in the worktree without it"
                )
            if hooks and value != "/dev/null":
                raise _Refused(
                    f"{_show(raw)} is refused: `{key}` makes git run hook scripts the policy cannot read. To turn "
                    "hooks off, use `git -c core.hooksPath=/dev/null …`"
                )
            if runs and not (name == "core.fsmonitor" and value.lower() in _GIT_BOOLEANS):
                self.check(value.removeprefix("!"), cwd, level + 1)

    def check_git_fetch(self, rest: list[str], cwd: Path | None, level: int, refuse: Callable[..., NoReturn]) -> None:
        options, operands = _split_options(rest, _GIT_FETCH_VALUE_OPTIONS)
        for command in _option_values(options, "--upload-pack"):
            self.check(command, cwd, level + 1)  # run as a command line when the remote is a local path
        refspecs = [] if _has_option(options, "", "--all", "--multiple") else operands[1:]
        for refspec in refspecs + _option_values(options, "--refmap"):
            destination = refspec.lstrip("+").partition(":")[2]
            if destination and not destination.startswith("refs/remotes/"):
                refuse(
                    f"the refspec `{refspec}` writes the local branch or tag `{destination}`, which the user's "
                    "checkout shares and the harness manages",
                    "fetch without a destination (`git fetch origin main`) and read `origin/main` or `FETCH_HEAD`",
                )

    def check_git_reset(
        self,
        options: list[str],
        operands: list[str],
        rest: list[str],
        cwd: Path | None,
        refuse: Callable[..., NoReturn],
    ) -> None:
        if any(o in ("-p", "--patch") for o in options) or not operands:
            return
        before = _before_dashes(operands, rest)
        if not before:
            return
        target = before[0]
        if target in ("HEAD", "@"):
            return
        # Before `--` git reads a revision whatever files exist; without it, a name that is a revision
        # is one (git stops when a file has that name too), and an existing file is a path.
        if "--" not in rest and not self.names_revision(target, cwd) and self.exists(target, cwd):
            return
        refuse(
            f"resetting to `{target}` would move the branch to another commit and drop the harness's commits; "
            f"{_HARNESS_COMMITS}",
            f"{_RESTORE}, or discard all your uncommitted changes with `git reset --hard HEAD`",
        )

    def names_revision(self, word: str, cwd: Path | None) -> bool:
        """Whether git reads ``word`` as a revision: revision syntax, an object name, or an existing ref."""
        if _REVISION_SYNTAX.search(word):
            return True
        if not _REF_NAME.match(word):
            return False
        dirs = self.git_dirs(cwd)
        if dirs is None:
            return False
        candidates = [f"refs/{word}", f"refs/tags/{word}", f"refs/heads/{word}", f"refs/remotes/{word}"]
        candidates.append(f"refs/remotes/{word}/HEAD")
        if word.startswith("refs/") or _PSEUDO_REF.match(word):
            candidates.append(word)
        for directory in dirs:
            if any(os.path.isfile(os.path.join(directory, candidate)) for candidate in candidates):
                return True
        packed = os.path.join(dirs[-1], "packed-refs")
        with contextlib.suppress(OSError):
            with open(packed, encoding="utf-8", errors="replace") as refs:
                names = {line.split()[1] for line in refs if line[:1] not in "#^" and len(line.split()) == 2}
            return any(candidate in names for candidate in candidates)
        return False

    def git_dirs(self, cwd: Path | None) -> tuple[str, str] | None:
        """``(git dir, common dir)`` of the repository git finds from ``cwd`` inside the worktree."""
        start = cwd if cwd is not None and cwd.is_relative_to(self.root) else self.root
        for directory in (start, *start.parents):
            dotgit = directory / ".git"
            if dotgit.is_dir():
                return str(dotgit), str(dotgit)
            if dotgit.is_file():
                with contextlib.suppress(OSError):
                    text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
                    if text.startswith("gitdir:"):
                        gitdir = os.path.join(directory, text[len("gitdir:") :].strip())
                        common = gitdir
                        with contextlib.suppress(OSError):
                            common = os.path.join(gitdir, Path(gitdir, "commondir").read_text().strip())
                        return os.path.normpath(gitdir), os.path.normpath(common)
                return None
            if directory == self.root:
                break
        return None

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


def _perl_in_place(args: list[str]) -> list[str]:
    """The files ``perl -i`` edits in place (none without ``-i``): ``perl -pi -e CODE FILE…``,
    ``perl -i.bak -pe CODE FILE…``, ``perl -pi SCRIPT FILE…``."""
    in_place = code = False
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        arg = args[i]
        if arg == "--":
            i += 1
            break
        k = 1
        while k < len(arg):
            letter = arg[k]
            if letter in "eE":  # the code: the rest of the word, or the next one
                code = True
                if k + 1 == len(arg):
                    i += 1
                break
            if letter == "I" and k + 1 == len(arg):  # `-I DIR`
                i += 1
                break
            if letter in "iIMmdDxCVF":  # `-i.bak`, `-MModule`, …: the rest of the word is its value
                in_place = in_place or letter == "i"
                break
            k += 1
            if letter in "l0":  # `-l`, `-l0`, `-0777`, `-0x1F`: a number of its own
                digits = "01234567"
                if letter == "0" and arg[k : k + 1] in ("x", "X"):
                    digits, k = "0123456789abcdefABCDEF", k + 1
                while k < len(arg) and arg[k] in digits:
                    k += 1
        i += 1
    if not in_place:
        return []
    operands = args[i:]
    return operands if code else operands[1:]


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
    start = Path(os.path.realpath(cwd)) if cwd else policy.root
    try:
        policy.check(command, start)
        if policy.links and _REPEATS.search(command):
            # A loop or a function runs its commands again after the links exist: read it once more
            # with the links this command line makes already in place. The commands that make them
            # were judged the first time (`ln -s ~ h` is fine; a later `rm -rf h/.ssh` is not).
            policy.frozen = True
            policy.check(command, start)
    except _Refused as refusal:
        return f"The command was not run: {refusal}."
    return None


def _tmp() -> Path:
    return Path(os.path.realpath("/tmp"))
