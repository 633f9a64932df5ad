"""The grill-me interview: the interviewer agent asks, a person (or an answers file) answers.

The loop is the harness's, not the model's: each ``ask_user`` call becomes a pending question in
the transcript (saved before the person sees it), each answer is saved before the model hears it,
and the interview ends only when the person confirms the interviewer's summary. A crash, Ctrl-C or
a closed laptop loses at most the model's current turn; ``harness grill --resume`` asks a pending
question first and then starts a fresh interviewer from the transcript.

Who answers is an :class:`Asker`: :class:`ConsoleAsker` (a person at a terminal, with commands to
steer the interview) or :class:`FileAsker` (``--answers FILE``, for scripts and CI). An answers file
is checked whole before the interview starts (:func:`read_answers`): a command it cannot hold is an
input error naming its line, and the summary is confirmed only by an explicit ``/confirm`` in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from harness.errors import UsageError
from harness.plan_models import AnswerSource, AskUser, Exchange, FinishInterview, Transcript
from harness.planfiles import RECOMMENDED_COMMAND

AnswerKind = Literal["accept", "own", "skip", "all", "fewer", "finish"]

HELP = """\
Enter          accept the recommended answer
any text       your own answer
1, 2, …        pick that option, when the question offers numbered options
/all           accept this and every remaining recommendation (the interviewer still records each)
/fewer         accept this one; from now on only ask what I would likely disagree with
/skip          skip this question
/back N        change your answer to question N
/decisions     show the decisions so far
/finish        ask the interviewer to sum up and finish now
/help          this list
//text         an answer that starts with a slash (here: /text)"""


@dataclass(frozen=True)
class Answer:
    """What the person did with one question."""

    kind: AnswerKind
    text: str = ""  # the answer itself for "own"
    source: AnswerSource | None = None  # how it was given, when not implied by ``kind``


# Changes the answer to an earlier question at once (saved before anything else happens); the transcript after.
Revise = Callable[[int, str], Transcript]


class Asker(Protocol):
    def ask(self, transcript: Transcript, number: int, revise: Revise) -> Answer: ...

    def confirm(self, transcript: Transcript, finish: FinishInterview) -> tuple[bool, str]:
        """(confirmed, what is wrong when not)."""
        ...

    def looked_up(self, what: str) -> None: ...


# --------------------------------------------------------------------------- the loop


@dataclass
class Interview:
    """Applies answers to the transcript and words what the interviewer hears back."""

    transcript: Transcript
    path: Path
    save: Callable[[Path, Transcript], None]
    # What the interviewer is told with the next answer: the earlier answers changed meanwhile.
    _notes: list[str] = field(default_factory=list, init=False)

    def asked(self, question: str, recommended: str, why: str | None, options: Sequence[str] = ()) -> int:
        exchange = Exchange(question=question, recommended=recommended, why=why, options=list(options))
        self._store(exchanges=[*self.transcript.exchanges, exchange])
        return len(self.transcript.exchanges)

    def answer(self, answer: Answer) -> str:
        """Record ``answer`` to the pending question; the text the interviewer gets as the result."""
        pending = self.transcript.pending
        assert pending is not None, "answer() without a pending question"
        notes, self._notes = self._notes, []
        if answer.kind == "own":
            exchange = _answered(pending, answer.text, answer.source or "own")
            reply = f"The user's answer: {answer.text}"
            if answer.text in pending.options:
                reply = f"The user picked option {pending.options.index(answer.text) + 1}: {answer.text}"
        elif answer.kind == "skip":
            exchange = _answered(pending, "(skipped)", "skipped")
            reply = _SKIPPED
        elif answer.kind == "finish":
            exchange = _answered(pending, "(not answered: the user finished the interview here)", "skipped")
            reply = _FINISHED_HERE
        else:
            exchange = _answered(pending, pending.recommended, answer.source or "recommended")
            reply = f"The user accepted your recommendation: {pending.recommended}"
            if answer.kind == "all":
                reply += "\n" + _ACCEPT_ALL
            elif answer.kind == "fewer":
                reply += "\n" + _FEWER
        self._store(exchanges=[*self.transcript.exchanges[:-1], exchange])
        return "\n\n".join([reply, *notes])

    def finished(self, finish: FinishInterview) -> None:
        self._store(status="finished", summary=finish.summary, decisions=list(finish.decisions))

    def progress(self) -> str:
        """The interview so far, for a fresh interviewer context (a hand-off or a resume)."""
        return transcript_for_model(self.transcript)

    def revise(self, number: int, text: str) -> Transcript:
        """Change the answer to question ``number`` now. It is saved (atomically) before the person sees
        anything else, so Ctrl-C at the next prompt keeps it; the interviewer hears of it with the next answer."""
        old = self.transcript.exchanges[number - 1]
        exchanges = list(self.transcript.exchanges)
        exchanges[number - 1] = old.model_copy(update={"answer": text, "source": "own", "revised": True})
        self._notes.append(
            f"The user changed their answer to question {number} ({old.question!r}) from {old.answer!r} to "
            f"{text!r}. Revisit every decision that depended on it."
        )
        self._store(exchanges=exchanges)
        return self.transcript

    def _store(self, **fields: object) -> None:
        self.transcript = self.transcript.model_copy(update={**fields, "updated": now()})
        self.save(self.path, self.transcript)


def _answered(pending: Exchange, answer: str, source: AnswerSource) -> Exchange:
    return pending.model_copy(update={"answer": answer, "source": source})


_SKIPPED = (
    "The user skipped this question. Do not ask it again; if it matters, decide it later from what you learn, "
    "or list it as an open question in your summary."
)
_FINISHED_HERE = "The user chose to finish the interview at this question, without answering it."
SUM_UP = (
    "The user has finished the interview: ask nothing more. Call `finish_interview` now with a short summary of "
    "the shared understanding and every decision settled in the interview below (question and answer); list "
    "what is still open as open questions in the summary. The user confirms the summary or says what is wrong."
)
_ACCEPT_ALL = (
    "The user asks you to settle every remaining decision with your own recommendations. Keep asking with "
    "`ask_user` so each decision is recorded (they are accepted without the user), then call `finish_interview`."
)
_FEWER = (
    "From now on, ask only the questions where the user would plausibly disagree with your recommendation. "
    "Settle the rest yourself and include them as decisions in your summary."
)


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def transcript_for_model(transcript: Transcript) -> str:
    lines = [f"<idea>\n{transcript.idea}\n</idea>", "", "<transcript>"]
    for number, exchange in enumerate(transcript.answered, 1):
        lines.append(f"Q{number}. {exchange.question}")
        if exchange.options:
            lines.append("   options: " + "; ".join(f"{n}. {o}" for n, o in enumerate(exchange.options, 1)))
        lines.append(f"   recommended: {exchange.recommended}")
        how = _SOURCE_WORDS[exchange.source or "own"] + (", changed later" if exchange.revised else "")
        lines.append(f"   answer ({how}): {exchange.answer}")
    if not transcript.answered:
        lines.append("(no questions asked yet)")
    lines.append("</transcript>")
    return "\n".join(lines)


_SOURCE_WORDS: dict[str, str] = {
    "recommended": "accepted your recommendation",
    "own": "the user's own answer",
    "option": "the user picked one of your options",
    "skipped": "skipped",
    "auto": "your recommendation, accepted under 'accept all'",
    "file": "from the user's answers file",
}


# --------------------------------------------------------------------------- a person at a terminal

_BACK = re.compile(r"^/back\s+(\d+)\s*$")
# The commands that answer the question by steering the interview, at the prompt and in an answers file.
_STEERING: dict[str, AnswerKind] = {"/all": "all", "/fewer": "fewer", "/skip": "skip", "/finish": "finish"}
# The commands that only make sense with a person at the prompt.
_PROMPT_ONLY = ("/back", "/decisions", "/help")
# An answers file's answers to the interviewer's summary.
CONFIRM, REJECT = "/confirm", "/reject"


def _command(text: str) -> str:
    """The command word of an answer (``/back 3`` → ``/back``), or "" for an answer in words (``//x`` is one)."""
    return text.split(maxsplit=1)[0].lower() if text.startswith("/") and not text.startswith("//") else ""


def _words(text: str) -> str:
    """An answer in words as meant: ``//usr/share`` is written for ``/usr/share``."""
    return text[1:] if text.startswith("//") else text


_NUMBER = re.compile(r"^[0-9]+$")


def _option(exchange: Exchange, written: str) -> int | None:
    """The option a bare number (as written) picks, from 1; 0 for a number that is no option's; None for words."""
    if not exchange.options or not _NUMBER.match(written):
        return None
    number = int(written)
    return number if 1 <= number <= len(exchange.options) else 0


def _picked(exchange: Exchange, number: int, source: AnswerSource) -> Answer:
    """Picking the recommended option accepts the recommendation; another option is an answer in its text."""
    text = exchange.options[number - 1]
    return Answer("accept", source=source) if text == exchange.recommended else Answer("own", text, source=source)


def options_text(exchange: Exchange, markup: bool) -> str:
    """The options, numbered, the recommended one marked."""
    lines = []
    for number, option in enumerate(exchange.options, 1):
        mark = "  ← recommended" if option == exchange.recommended else ""
        text = escape(option) if markup else option
        lines.append(f"  {number}. {text}" + (f"[green]{mark}[/]" if markup and mark else mark))
    return "\n".join(lines)


class ConsoleAsker:
    """Questions on a terminal; ``read`` reads one line (``input`` by default) and may raise EOFError."""

    def __init__(self, console: Console, read: Callable[[str], str] | None = None) -> None:
        self.console = console
        self._read = read or (lambda prompt: console.input(prompt))
        self.auto = False

    def looked_up(self, what: str) -> None:
        self.console.print(f"  [dim]· {escape(what)}[/]", soft_wrap=True)

    def ask(self, transcript: Transcript, number: int, revise: Revise) -> Answer:
        exchange = transcript.exchanges[number - 1]
        body = f"[bold]{escape(exchange.question)}[/]\n\n"
        if exchange.options:
            body += options_text(exchange, markup=True) + "\n\n"
        body += f"[green]recommended:[/] {escape(exchange.recommended)}"
        if exchange.why:
            body += f"\n[dim]why: {escape(exchange.why)}[/]"
        if self.auto:
            self.console.print(Panel(body, title=f"Q{number}", title_align="left", subtitle="accepted (/all)"))
            return Answer("accept", source="auto")
        self.console.print(Panel(body, title=f"Q{number}", title_align="left"))
        count = len(exchange.options)
        prompt = (
            f"answer (Enter = recommended, 1–{count} = option, /help) › "
            if count
            else "answer (Enter = recommended, /help) › "
        )
        while True:
            line = self._read(prompt).strip()
            command = _command(line)
            if not line:
                return Answer("accept")
            option = _option(exchange, line)
            if option:
                return _picked(exchange, option, "option")
            if option == 0:
                self.console.print(f"there are {count} options: type 1–{count}, or an answer in words", markup=False)
                continue
            kind = _STEERING.get(command)
            if kind is not None:
                self.auto = self.auto or kind == "all"
                return Answer(kind)
            if command == "/help":
                self.console.print(HELP, markup=False)
            elif command == "/decisions":
                self.console.print(decisions_table(transcript))
            elif command == "/back":
                transcript = self._change(transcript, number, line, revise)
            elif command:
                self.console.print(f"unknown command {command}; /help lists them", markup=False)
            else:
                return Answer("own", _words(line))

    def _change(self, transcript: Transcript, current: int, line: str, revise: Revise) -> Transcript:
        match = _BACK.match(line)
        answered = len(transcript.exchanges) - 1
        if match is None or not 1 <= int(match[1]) <= answered:
            span = f"1–{answered}" if answered else "none yet"
            self.console.print(f"usage: /back N, where N is an answered question ({span})", markup=False)
            return transcript
        number = int(match[1])
        old = transcript.exchanges[number - 1]
        self.console.print(f"Q{number}: {old.question}\n  your answer was: {old.answer}", markup=False, soft_wrap=True)
        text = _words(self._read(f"new answer to Q{number} (Enter = keep) › ").strip())
        if not text:
            return transcript
        transcript = revise(number, text)
        self.console.print(f"Q{number} changed and saved; back to Q{current}.", markup=False)
        return transcript

    def confirm(self, transcript: Transcript, finish: FinishInterview) -> tuple[bool, str]:
        self.console.print(summary_panel(finish))
        while True:
            line = self._read("confirm this summary? [Y = confirm / n / or type what is wrong] › ").strip()
            if line.lower() in ("", "y", "yes"):
                return True, ""
            if line.lower() in ("n", "no"):
                line = self._read("what is wrong or missing? › ").strip()
                if not line:
                    continue
            return False, line


def decisions_table(transcript: Transcript) -> Table:
    table = Table(title="decisions so far", expand=True, show_lines=False)
    table.add_column("#", style="bold", no_wrap=True)
    table.add_column("question")
    table.add_column("answer")
    for number, exchange in enumerate(transcript.exchanges, 1):
        if exchange.answer is None:
            continue
        table.add_row(str(number), escape(exchange.question), escape(exchange.answer))
    return table


def summary_panel(finish: FinishInterview) -> Panel:
    table = Table(expand=True, show_header=True)
    table.add_column("decision")
    table.add_column("answer")
    for decision in finish.decisions:
        table.add_row(escape(decision.question), escape(decision.answer))
    from rich.console import Group

    return Panel(Group(escape(finish.summary), "", table), title="summary of the interview", title_align="left")


# --------------------------------------------------------------------------- an answers file

FileKind = Literal["accept", "own", "all", "fewer", "skip", "finish", "confirm", "reject"]


@dataclass(frozen=True)
class FileItem:
    """One item of an answers file: an answer to a question, or (``confirm``/``reject``) to a summary."""

    number: int  # its place in the file, from 1
    line: int | None  # the line it starts on, when it could be found
    kind: FileKind
    written: str  # as written in the file
    text: str = ""  # the answer for "own", what is wrong for "reject"

    def where(self, path: Path) -> str:
        return _where(path, self.line, self.number)


def _where(path: Path, line: int | None, number: int) -> str:
    return f"{path}:{line}: answer {number}" if line else f"{path}: answer {number}"


_FILE_COMMANDS = (
    "in an answers file an item is an answer in words (`//` for one that starts with a slash), a bare number "
    "(picks that option of a question that offers options), an empty item or "
    "`/rec` (the recommendation), `/all`, `/fewer`, `/skip` or `/finish` for a question, and `/confirm` or "
    "`/reject WHAT IS WRONG` for the interviewer's summary"
)


def read_answers(answers: Sequence[str], path: Path) -> list[FileItem]:
    """Every item of an answers file (as :func:`harness.planfiles.load_answers` read it), checked before the
    interview starts: an unknown command, a prompt-only one or a malformed ``/confirm``/``/reject`` is an
    input error naming its line."""
    lines = _item_lines(path, answers)
    return [
        _file_item(number, line, written.strip(), path)
        for number, (written, line) in enumerate(zip(answers, lines, strict=True), 1)
    ]


def _file_item(number: int, line: int | None, text: str, path: Path) -> FileItem:
    command = _command(text)
    rest = text[len(command) :].strip() if command else ""
    if not text or command == RECOMMENDED_COMMAND:
        return FileItem(number, line, "accept", text)
    if not command:
        return FileItem(number, line, "own", text, _words(text))
    if command == REJECT and rest:
        return FileItem(number, line, "reject", text, rest)
    if command == CONFIRM and not rest:
        return FileItem(number, line, "confirm", text)
    if command in _STEERING and not rest:
        return FileItem(number, line, _STEERING[command], text)
    hint = _FILE_COMMANDS
    if command == REJECT:
        problem = "`/reject` needs what is wrong with the summary after it"
        hint = "write it as `/reject WHAT IS WRONG`, e.g. `/reject the empty text must give 0`"
    elif command in (*_STEERING, CONFIRM):
        problem = f"`{command}` takes nothing after it (found {rest!r})"
    elif command == "/back":
        problem = "`/back` works only at the prompt"
        hint = (
            "an answers file answers the questions in order: write the answer you want in that question's own item "
            "(or, after a --resume, in the new file)"
        )
    elif command in _PROMPT_ONLY:
        problem = f"`{command}` works only at the prompt"
        hint = "there is nothing to show in a file; remove the item"
    else:
        problem = f"unknown command `{command}`"
    raise UsageError(f"{_where(path, line, number)}: {problem}", hint=hint)


_ITEM_START = re.compile(r"^\s*(?:[-*+]|\d+[.)])?\s*")


def _item_lines(path: Path, answers: Sequence[str]) -> list[int | None]:
    """The line each answer starts on, for error messages: each (non-empty) answer's first line is looked for,
    in order, as a list item (quotes and the list marker aside). None where it is not found."""
    try:
        lines = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n").split("\n")
    except OSError:
        return [None] * len(answers)
    found: list[int | None] = []
    cursor = 0
    for answer in answers:
        first = answer.strip().split("\n", 1)[0].strip()
        line = None
        if first:
            for index in range(cursor, len(lines)):
                content = _ITEM_START.sub("", lines[index], count=1).strip()
                if content == first or (
                    len(content) > 1 and content[0] == content[-1] in "'\"" and content[1:-1] == first
                ):
                    line, cursor = index + 1, index + 1 + answer.strip().count("\n")
                    break
        found.append(line)
    return found


class AnswersExhausted(UsageError):
    """The answers file has no answer for a question the interviewer asked."""


class AnswersMisfit(UsageError):
    """The answers file answers a summary where a question came, or a question where the summary came."""


class FileAsker:
    """Answers from ``--answers FILE``, in order (see :func:`read_answers`). When the file runs out, ``then`` (a
    person at a terminal) takes over; with nobody there the interview stops with exit 2, its transcript saved.
    An item that does not fit what the interviewer did (``/confirm`` for a question, an answer for the summary)
    stops it the same way: the file was written for another interview."""

    def __init__(self, items: Sequence[FileItem], path: Path, console: Console, then: Asker | None = None) -> None:
        self._items = list(items)
        self._path = path
        self._console = console
        self._then = then
        self.used = 0
        self.auto = False

    @property
    def unused(self) -> int:
        return len(self._items) - self.used

    def looked_up(self, what: str) -> None:
        self._console.print(f"  · {what}", markup=False, soft_wrap=True, style="dim")

    def _resume_hint(self, transcript_slug: str, what: str) -> str:
        return (
            f"the interview is saved: write {what} to a file and run "
            f"`harness grill --resume {transcript_slug} --answers FILE`"
        )

    def ask(self, transcript: Transcript, number: int, revise: Revise) -> Answer:
        exchange = transcript.exchanges[number - 1]
        self._console.print(f"Q{number}. {exchange.question}", markup=False, soft_wrap=True, style="bold")
        if exchange.options:
            self._console.print(options_text(exchange, markup=False), markup=False, soft_wrap=True)
        if self.auto:
            self._console.print(f"  → {exchange.recommended} (accepted: /all)", markup=False, soft_wrap=True)
            return Answer("accept", source="auto")
        hint = self._resume_hint(
            transcript.slug, "answers for the new questions (or `/all` to accept the remaining recommendations)"
        )
        if self.used >= len(self._items):
            if self._then is not None:
                return self._then.ask(transcript, number, revise)
            raise AnswersExhausted(
                f"--answers {self._path}: all {len(self._items)} answers are used, and the interviewer asked "
                f"question {number}: {exchange.question!r}",
                hint=hint,
            )
        item = self._items[self.used]
        self.used += 1
        if item.kind in ("confirm", "reject"):
            raise AnswersMisfit(
                f"{item.where(self._path)} is `{item.written}`, for a summary, but the interviewer asked question "
                f"{number}: {exchange.question!r}",
                hint=hint,
            )
        if item.kind == "accept":
            self._console.print(f"  → {exchange.recommended} (recommended)", markup=False, soft_wrap=True)
            return Answer("accept", source="file")
        option = _option(exchange, item.written)
        if option == 0:
            raise AnswersMisfit(
                f"{item.where(self._path)} is {item.written}, but question {number} ({exchange.question!r}) has "
                f"{len(exchange.options)} options: a bare number picks one, from 1",
                hint=f"write a number from 1 to {len(exchange.options)}, or an answer in words; " + hint,
            )
        if option:
            self._console.print(f"  → {exchange.options[option - 1]} (option {option})", markup=False, soft_wrap=True)
            return _picked(exchange, option, "file")
        if item.kind == "own":
            self._console.print(f"  → {item.text}", markup=False, soft_wrap=True)
            return Answer("own", item.text, source="file")
        steering = _STEERING[_command(item.written)]  # read_answers let only these commands through
        self._console.print(f"  → {item.written}", markup=False)
        self.auto = self.auto or steering == "all"
        return Answer(steering, source="file")

    def confirm(self, transcript: Transcript, finish: FinishInterview) -> tuple[bool, str]:
        if self.used >= len(self._items) and self._then is not None:
            return self._then.confirm(transcript, finish)
        self._console.print(summary_panel(finish))
        hint = self._resume_hint(
            transcript.slug, "answers for what the interviewer asks next, then `/confirm` (or `/reject WHAT IS WRONG`)"
        )
        if self.used >= len(self._items):
            raise AnswersExhausted(
                f"--answers {self._path}: all {len(self._items)} answers are used, and there is no `/confirm` for "
                "the interviewer's summary (above): a summary is confirmed only by `/confirm` in the file",
                hint=hint,
            )
        item = self._items[self.used]
        self.used += 1
        if item.kind == "confirm":
            self._console.print(f"summary confirmed: {item.where(self._path)} is /confirm", markup=False)
            return True, ""
        if item.kind == "reject":
            self._console.print(f"summary rejected: {item.text}", markup=False, soft_wrap=True)
            return False, item.text
        written = repr(item.written) if item.written else "an empty item (the recommendation)"
        raise AnswersMisfit(
            f"{item.where(self._path)} is {written}, an answer to a question, but the interviewer summed up the "
            "interview here (above): a summary is confirmed only by `/confirm` in the file, or rejected by "
            "`/reject WHAT IS WRONG`",
            hint=hint,
        )


RoleCallish = tuple[str, object]  # (role tool name, its validated input)


def run_interview(
    interview: Interview,
    start: Callable[[str], RoleCallish],
    respond: Callable[[str], RoleCallish],
    sum_up: Callable[[], RoleCallish],
    asker: Asker,
    handoff: str,
) -> Transcript:
    """Drive the interviewer until the person confirms its summary. ``start``/``respond`` talk to the agent;
    after ``/finish``, ``sum_up`` has the summary written by a context that can do nothing but finish."""
    name, data = start(handoff)
    finished_early = ""  # what the interviewer's open question is answered with when /finish was not confirmed
    while True:
        if isinstance(data, FinishInterview):
            confirmed, correction = asker.confirm(interview.transcript, data)
            if confirmed:
                interview.finished(data)
                return interview.transcript
            reply = (
                f"The user did not confirm the summary. What is wrong or missing, in their words: {correction}\n"
                "Continue the interview on exactly that with `ask_user`, then call `finish_interview` again."
            )
            if finished_early:
                reply = f"{finished_early}\n\nA summary was written from the record:\n{data.summary}\n\n{reply}"
                finished_early = ""
        elif isinstance(data, AskUser):
            number = interview.asked(data.question, data.recommended_answer, data.why, data.options or ())
            answer = asker.ask(interview.transcript, number, interview.revise)
            reply = interview.answer(answer)
            if answer.kind == "finish":
                # The interviewer keeps its open question; it hears back only if the summary is not confirmed.
                finished_early = reply
                name, data = sum_up()
                continue
        else:  # pragma: no cover - the agent only returns its role tools
            raise AssertionError(f"unexpected role call {name}")
        name, data = respond(reply)
