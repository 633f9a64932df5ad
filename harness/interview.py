"""The grill-me interview: the interviewer agent asks, a person (or an answers file) answers.

The loop is the harness's, not the model's: each ``ask_user`` call becomes a pending question in
the transcript (saved before the person sees it), each answer is saved before the model hears it,
and the interview ends only when the person confirms the interviewer's summary. A crash, Ctrl-C or
a closed laptop loses at most the model's current turn; ``harness grill --resume`` asks a pending
question first and then starts a fresh interviewer from the transcript.

Who answers is an :class:`Asker`: :class:`ConsoleAsker` (a person at a terminal, with commands to
steer the interview) or :class:`FileAsker` (``--answers FILE``, for scripts and CI).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from harness.errors import UsageError
from harness.plan_models import AnswerSource, AskUser, Exchange, FinishInterview, Transcript

AnswerKind = Literal["accept", "own", "skip", "all", "fewer", "finish"]

HELP = """\
Enter          accept the recommended answer
any text       your own answer
/all           accept this and every remaining recommendation (the interviewer still records each)
/fewer         accept this one; from now on only ask what I would likely disagree with
/skip          skip this question
/back N        change your answer to question N
/decisions     show the decisions so far
/finish        ask the interviewer to sum up and finish now
/help          this list"""


@dataclass(frozen=True)
class Answer:
    """What the person did with one question, plus any earlier answers they changed meanwhile."""

    kind: AnswerKind
    text: str = ""  # the answer itself for "own"
    changes: tuple[tuple[int, str], ...] = ()  # (question number, new answer)
    source: AnswerSource | None = None  # how it was given, when not implied by ``kind``


class Asker(Protocol):
    def ask(self, transcript: Transcript, number: int) -> Answer: ...

    def confirm(self, finish: FinishInterview) -> tuple[bool, str]:
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

    def asked(self, question: str, recommended: str, why: str | None) -> int:
        exchange = Exchange(question=question, recommended=recommended, why=why)
        self._store(exchanges=[*self.transcript.exchanges, exchange])
        return len(self.transcript.exchanges)

    def answer(self, answer: Answer) -> str:
        """Record ``answer`` to the pending question; the text the interviewer gets as the result."""
        pending = self.transcript.pending
        assert pending is not None, "answer() without a pending question"
        notes = self._apply_changes(answer.changes)
        if answer.kind == "own":
            exchange = _answered(pending, answer.text, answer.source or "own")
            reply = f"The user's answer: {answer.text}"
        elif answer.kind == "skip":
            exchange = _answered(pending, "(skipped)", "skipped")
            reply = _SKIPPED
        elif answer.kind == "finish":
            exchange = _answered(pending, "(not answered: the user finished the interview here)", "skipped")
            reply = _FINISH_NOW
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

    def _apply_changes(self, changes: Sequence[tuple[int, str]]) -> list[str]:
        notes = []
        exchanges = list(self.transcript.exchanges)
        for number, text in changes:
            old = exchanges[number - 1]
            exchanges[number - 1] = old.model_copy(update={"answer": text, "source": "own", "revised": True})
            notes.append(
                f"The user changed their answer to question {number} ({old.question!r}) from {old.answer!r} to "
                f"{text!r}. Revisit every decision that depended on it."
            )
        if changes:
            self._store(exchanges=exchanges)
        return notes

    def _store(self, **fields: object) -> None:
        self.transcript = self.transcript.model_copy(update={**fields, "updated": now()})
        self.save(self.path, self.transcript)


def _answered(pending: Exchange, answer: str, source: AnswerSource) -> Exchange:
    return pending.model_copy(update={"answer": answer, "source": source})


_SKIPPED = (
    "The user skipped this question. Do not ask it again; if it matters, decide it later from what you learn, "
    "or list it as an open question in your summary."
)
_FINISH_NOW = (
    "The user wants to finish the interview now, without answering this question. Call `finish_interview` with "
    "the summary and every decision settled so far; list what is still open as open questions in the summary."
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
        lines.append(f"   recommended: {exchange.recommended}")
        lines.append(f"   answer ({_SOURCE_WORDS[exchange.source or 'own']}): {exchange.answer}")
    if not transcript.answered:
        lines.append("(no questions asked yet)")
    lines.append("</transcript>")
    return "\n".join(lines)


_SOURCE_WORDS: dict[str, str] = {
    "recommended": "accepted your recommendation",
    "own": "the user's own answer",
    "skipped": "skipped",
    "auto": "your recommendation, accepted under 'accept all'",
    "file": "from the user's answers file",
}


# --------------------------------------------------------------------------- a person at a terminal

_BACK = re.compile(r"^/back\s+(\d+)\s*$")
# The commands that answer the question by steering the interview, at the prompt and in an answers file.
_STEERING: dict[str, AnswerKind] = {"/all": "all", "/fewer": "fewer", "/skip": "skip", "/finish": "finish"}


def _command(text: str) -> str:
    """The command word of an answer (``/back 3`` → ``/back``), or "" for an answer in words."""
    return text.split(maxsplit=1)[0].lower() if text.startswith("/") else ""


class ConsoleAsker:
    """Questions on a terminal; ``read`` reads one line (``input`` by default) and may raise EOFError."""

    def __init__(self, console: Console, read: Callable[[str], str] | None = None) -> None:
        self.console = console
        self._read = read or (lambda prompt: console.input(prompt))
        self.auto = False

    def looked_up(self, what: str) -> None:
        self.console.print(f"  [dim]· {escape(what)}[/]", soft_wrap=True)

    def ask(self, transcript: Transcript, number: int) -> Answer:
        exchange = transcript.exchanges[number - 1]
        body = f"[bold]{escape(exchange.question)}[/]\n\n[green]recommended:[/] {escape(exchange.recommended)}"
        if exchange.why:
            body += f"\n[dim]why: {escape(exchange.why)}[/]"
        if self.auto:
            self.console.print(Panel(body, title=f"Q{number}", title_align="left", subtitle="accepted (/all)"))
            return Answer("accept", source="auto")
        self.console.print(Panel(body, title=f"Q{number}", title_align="left"))
        changes: list[tuple[int, str]] = []
        while True:
            line = self._read("answer (Enter = recommended, /help) › ").strip()
            command = _command(line)
            if not line:
                return Answer("accept", changes=tuple(changes))
            kind = _STEERING.get(command)
            if kind is not None:
                self.auto = self.auto or kind == "all"
                return Answer(kind, changes=tuple(changes))
            if command == "/help":
                self.console.print(HELP, markup=False)
            elif command == "/decisions":
                self.console.print(decisions_table(transcript, changes))
            elif command == "/back":
                change = self._change(transcript, number, line)
                if change is not None:
                    changes.append(change)
            elif command:
                self.console.print(f"unknown command {command}; /help lists them", markup=False)
            else:
                return Answer("own", line, tuple(changes))

    def _change(self, transcript: Transcript, current: int, line: str) -> tuple[int, str] | None:
        match = _BACK.match(line)
        answered = len(transcript.exchanges) - 1
        if match is None or not 1 <= int(match[1]) <= answered:
            span = f"1–{answered}" if answered else "none yet"
            self.console.print(f"usage: /back N, where N is an answered question ({span})", markup=False)
            return None
        number = int(match[1])
        old = transcript.exchanges[number - 1]
        self.console.print(f"Q{number}: {old.question}\n  your answer was: {old.answer}", markup=False, soft_wrap=True)
        text = self._read(f"new answer to Q{number} (Enter = keep) › ").strip()
        if not text:
            return None
        self.console.print(f"Q{number} changed; back to Q{current}.", markup=False)
        return (number, text)

    def confirm(self, finish: FinishInterview) -> tuple[bool, str]:
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


def decisions_table(transcript: Transcript, changes: Sequence[tuple[int, str]] = ()) -> Table:
    revised = dict(changes)
    table = Table(title="decisions so far", expand=True, show_lines=False)
    table.add_column("#", style="bold", no_wrap=True)
    table.add_column("question")
    table.add_column("answer")
    for number, exchange in enumerate(transcript.exchanges, 1):
        if exchange.answer is None:
            continue
        answer = revised.get(number, exchange.answer)
        table.add_row(str(number), escape(exchange.question), escape(answer))
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


class AnswersExhausted(UsageError):
    """The answers file has no answer for a question the interviewer asked."""


class FileAsker:
    """Answers from ``--answers FILE``, in order. ``""`` or ``/rec`` accepts the recommendation; ``/all``,
    ``/fewer``, ``/skip`` and ``/finish`` act as at the prompt. When the file runs out, ``then`` (a person at a
    terminal) takes over; with nobody there the interview stops with exit 2, its transcript saved."""

    def __init__(self, answers: Sequence[str], path: Path, console: Console, then: Asker | None = None) -> None:
        self._answers = list(answers)
        self._path = path
        self._console = console
        self._then = then
        self.used = 0
        self.auto = False

    @property
    def unused(self) -> int:
        return len(self._answers) - self.used

    def looked_up(self, what: str) -> None:
        self._console.print(f"  · {what}", markup=False, soft_wrap=True, style="dim")

    def ask(self, transcript: Transcript, number: int) -> Answer:
        exchange = transcript.exchanges[number - 1]
        self._console.print(f"Q{number}. {exchange.question}", markup=False, soft_wrap=True, style="bold")
        if self.auto:
            self._console.print(f"  → {exchange.recommended} (accepted: /all)", markup=False, soft_wrap=True)
            return Answer("accept", source="auto")
        if self.used >= len(self._answers):
            if self._then is not None:
                return self._then.ask(transcript, number)
            raise AnswersExhausted(
                f"--answers {self._path}: all {len(self._answers)} answers are used, and the interviewer asked "
                f"question {number}: {exchange.question!r}",
                hint=f"the interview is saved: add answers for the new questions (or `/all` to accept the remaining "
                f"recommendations) to a file and run `harness grill --resume {transcript.slug} --answers FILE`",
            )
        raw = self._answers[self.used]
        self.used += 1
        text = raw.strip()
        command = _command(text)
        if not text or command == "/rec":
            self._console.print(f"  → {exchange.recommended} (recommended)", markup=False, soft_wrap=True)
            return Answer("accept", source="file")
        kind = _STEERING.get(command)
        if kind is not None:
            self._console.print(f"  → {command}", markup=False)
            self.auto = self.auto or kind == "all"
            return Answer(kind, source="file")
        self._console.print(f"  → {text}", markup=False, soft_wrap=True)
        return Answer("own", raw.strip(), source="file")

    def confirm(self, finish: FinishInterview) -> tuple[bool, str]:
        if self._then is not None and self.used >= len(self._answers) and not self.auto:
            return self._then.confirm(finish)
        self._console.print(summary_panel(finish))
        self._console.print("summary confirmed by the answers file", markup=False)
        return True, ""


RoleCallish = tuple[str, object]  # (role tool name, its validated input)


def run_interview(
    interview: Interview,
    start: Callable[[str], RoleCallish],
    respond: Callable[[str], RoleCallish],
    asker: Asker,
    handoff: str,
) -> Transcript:
    """Drive the interviewer until the person confirms its summary. ``start``/``respond`` talk to the agent."""
    name, data = start(handoff)
    while True:
        if isinstance(data, FinishInterview):
            confirmed, correction = asker.confirm(data)
            if confirmed:
                interview.finished(data)
                return interview.transcript
            reply = (
                f"The user did not confirm the summary. What is wrong or missing, in their words: {correction}\n"
                "Continue the interview on exactly that with `ask_user`, then call `finish_interview` again."
            )
        elif isinstance(data, AskUser):
            number = interview.asked(data.question, data.recommended_answer, data.why)
            reply = interview.answer(asker.ask(interview.transcript, number))
        else:  # pragma: no cover - the agent only returns its role tools
            raise AssertionError(f"unexpected role call {name}")
        name, data = respond(reply)
