"""The interactive interview in a real terminal: `harness grill` runs as a child process on a pseudo-terminal,
this test reads its screen and types at its prompt, the way a person would."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import planscript as p
import pytest

from harness.fakeapi import FakeMessagesAPI
from harness.planfiles import load_transcript

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _controlling_terminal() -> None:
    """In the child: a new session whose controlling terminal is the pty, so Ctrl-C there sends SIGINT."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A child process on a pseudo-terminal; ``expect`` waits for text on its screen, ``type`` types a line."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        os.set_blocking(self.master, False)
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, preexec_fn=_controlling_terminal
        )
        os.close(slave)
        self.screen = ""
        self._seen = 0

    def _pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the child closed the terminal
                return
            self.screen += _ANSI.sub("", data.decode("utf-8", "replace"))

    def expect(self, text: str, timeout: float = 30.0) -> str:
        """Wait until ``text`` appears after what the previous expect matched; return the screen in between."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            index = self.screen.find(text, self._seen)
            if index >= 0:
                chunk = self.screen[self._seen : index + len(text)]
                self._seen = index + len(text)
                return chunk
            if self.proc.poll() is not None:
                self._pump(0.2)
                if self.screen.find(text, self._seen) < 0:
                    break
            self._pump(0.1)
        raise AssertionError(f"{text!r} never appeared on the screen; it shows:\n{self.screen[self._seen :]}")

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def wait(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._pump(0.1)
        self._pump(0.1)
        return self.proc.wait(timeout=1)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def terminal(project: Path, api: FakeMessagesAPI):  # type: ignore[no-untyped-def]
    started: list[Terminal] = []

    def start(*args: str) -> Terminal:
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "COLUMNS": "100",
            "LINES": "40",
            "ANTHROPIC_BASE_URL": api.base_url,
            "ANTHROPIC_API_KEY": "test-key",
        }
        env.pop("CI", None)
        term = Terminal([sys.executable, "-m", "harness", *args, "--repo", str(project)], env, project)
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


def test_a_person_answers_at_the_prompt(terminal, project: Path, api: FakeMessagesAPI) -> None:  # type: ignore[no-untyped-def]
    api.add(p.lookup("grep", pattern="def slugify"), p.ask(1), p.ask(2), p.ask(3), p.finish())
    term = terminal("grill", p.IDEA)

    # Q1: the question, the recommendation and its reason are on screen; the lookup was shown first.
    before = term.expect("answer (Enter = recommended, /help)")
    assert "grep def slugify" in before
    assert p.QUESTIONS[0][0] in before and f"recommended: {p.QUESTIONS[0][1]}" in before
    assert "why: matches slugify" in before
    term.type("")  # Enter accepts the recommendation

    # Q2: ask for help, look at the decisions so far, then answer in my own words.
    term.expect(p.QUESTIONS[1][0])
    term.expect("answer (Enter")
    term.type("/help")
    assert "/back N" in term.expect("answer (Enter")
    term.type("/decisions")
    table = term.expect("answer (Enter")
    assert "decisions so far" in table and p.QUESTIONS[0][1] in table
    term.type("Yes, as `textkit count FILE`")

    # Q3: go back and change the answer to Q1, then accept Q3's recommendation.
    term.expect(p.QUESTIONS[2][0])
    term.expect("answer (Enter")
    term.type("/back 1")
    term.expect("new answer to Q1")
    term.type("Whitespace only")
    term.expect("back to Q3")
    term.expect("answer (Enter")
    term.type("")

    # The summary must be confirmed before the interview ends.
    summary = term.expect("confirm this summary?")
    assert "summary of the interview" in summary and "A library function textkit.count_words" in summary
    term.type("y")
    term.expect("interview finished: 3 question(s)")
    assert term.wait() == 0

    transcript = load_transcript(next((project / ".harness" / "grills").glob("*.md")))
    assert transcript.status == "finished"
    assert [(e.answer, e.source, e.revised) for e in transcript.exchanges] == [
        ("Whitespace only", "own", True),
        ("Yes, as `textkit count FILE`", "own", False),
        (p.QUESTIONS[2][1], "recommended", False),
    ]
    told = p.role_results(api)
    assert "changed their answer to question 1" in told[-1] and "Whitespace only" in told[-1]


def test_ctrl_c_at_the_prompt_keeps_the_interview(terminal, project: Path, api: FakeMessagesAPI) -> None:  # type: ignore[no-untyped-def]
    api.add(p.ask(1), p.ask(2))
    term = terminal("grill", p.IDEA)
    term.expect("answer (Enter")
    term.type("letters and digits")
    term.expect(p.QUESTIONS[1][0])
    term.expect("answer (Enter")

    os.write(term.master, b"\x03")  # Ctrl-C, through the terminal's line discipline

    term.expect("--resume")
    assert term.wait() == 3
    transcript = load_transcript(next((project / ".harness" / "grills").glob("*.md")))
    assert transcript.status == "interviewing"
    assert transcript.exchanges[0].answer == "letters and digits"
    assert transcript.pending is not None and transcript.pending.question == p.QUESTIONS[1][0]


def test_a_changed_answer_survives_ctrl_c(terminal, project: Path, api: FakeMessagesAPI) -> None:  # type: ignore[no-untyped-def]
    api.add(p.ask(1), p.ask(2))
    term = terminal("grill", p.IDEA)
    term.expect("answer (Enter")
    term.type("letters and digits")
    term.expect(p.QUESTIONS[1][0])
    term.expect("answer (Enter")
    term.type("/back 1")
    term.expect("new answer to Q1")
    term.type("whitespace only")
    term.expect("back to Q2")
    term.expect("answer (Enter")

    os.write(term.master, b"\x03")  # Ctrl-C before Q2 is answered

    term.expect("--resume")
    assert term.wait() == 3
    transcript = load_transcript(next((project / ".harness" / "grills").glob("*.md")))
    first = transcript.exchanges[0]
    assert (first.answer, first.source, first.revised) == ("whitespace only", "own", True)
    assert transcript.pending is not None and transcript.pending.question == p.QUESTIONS[1][0]


def test_finish_at_the_prompt_leaves_only_the_finishing_tool(terminal, project: Path, api: FakeMessagesAPI) -> None:  # type: ignore[no-untyped-def]
    api.add(p.ask(1), p.ask(2), p.finish())
    term = terminal("grill", p.IDEA)
    term.expect("answer (Enter")
    term.type("")
    term.expect(p.QUESTIONS[1][0])
    term.expect("answer (Enter")
    term.type("/finish")

    term.expect("confirm this summary?")
    term.type("y")
    term.expect("interview finished")
    assert term.wait() == 0

    assert api.problems == []
    assert p.tools_offered(api.requests[2]) == ["finish_interview"]
    transcript = load_transcript(next((project / ".harness" / "grills").glob("*.md")))
    assert transcript.status == "finished"


def test_a_person_picks_an_option_by_its_number(terminal, project: Path, api: FakeMessagesAPI) -> None:  # type: ignore[no-untyped-def]
    api.add(p.ask_options(recommended=p.OPTIONS[0]), p.finish([(p.CHOICE, p.OPTIONS[1])]))
    term = terminal("grill", p.IDEA)

    screen = term.expect("answer (Enter = recommended, 1–3 = option, /help)")
    assert "2. As one word" in screen and "3. Configurable, one word by default" in screen
    assert re.search(r"1\. As two words\s+← recommended", screen)
    term.type("7")  # no such option: asked again
    term.expect("there are 3 options")
    term.expect("answer (Enter")
    term.type("2")

    term.expect("confirm this summary?")
    term.type("y")
    term.expect("interview finished")
    assert term.wait() == 0

    transcript = load_transcript(next((project / ".harness" / "grills").glob("*.md")))
    assert [(e.answer, e.source) for e in transcript.exchanges] == [(p.OPTIONS[1], "option")]
    assert p.role_results(api)[0] == f"The user picked option 2: {p.OPTIONS[1]}"
