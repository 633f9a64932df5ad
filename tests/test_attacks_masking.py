"""Secrets never reach a model: every request is masked, whatever channel carried the value.

The end-to-end tests drive the real CLI through the real SDK to the fake Messages API (as in
``test_run.py``) with a marker secret in the harness's environment, then read every request body the
fake server recorded. The leak check (:func:`leaks`) does not use :mod:`harness.masking`: it looks for the
value, its reversal, hex and percent-encoding, and decodes every base64-looking run at every alignment.
The unit tests pin down :class:`harness.masking.Masker` itself.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import git
import pytest
import script as s
import test_attacks_faults as faults
from anthropic.types.beta import BetaTextBlock, BetaToolUseBlock
from typer.testing import CliRunner

from harness.cli import app
from harness.demo import build_project
from harness.fakeapi import FakeMessagesAPI, Reply
from harness.masking import ENCODED_MIN_CHARS, SECRET_MIN_CHARS, Masker
from harness.trace import read_trace
from harness.workspace import Workspace

KEY = "sk-ant-api03-masktest-" + "9d4e1bQx7Z" * 4  # long and random-looking, like a real key
KEY_LABEL = "[ANTHROPIC_API_KEY redacted]"
# Characters that percent-encoding changes, so its form differs from the value.
PASSWORD = "c0rrect horse/battery+staple=42!"
PASSWORD_LABEL = "[HARNESS_TEST_PASSWORD redacted]"
RED = "tests_ready"


# --------------------------------------------------------------------------- the leak check


def strings(value: Any) -> Iterator[str]:
    """Every string in a request body (keys and values), however deep."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}")


def _base64_reveals(text: str, secret: bytes) -> bool:
    """Whether some base64 run in ``text`` (any alphabet, any alignment, line breaks ignored) decodes to
    bytes that hold the secret's middle (its edges may mix with neighbouring bytes and stay visible)."""
    middle = secret[3:-3]
    for run in _BASE64_RUN.findall(text.replace("\r", "").replace("\n", "")):
        run = run.replace("-", "+").replace("_", "/")
        for shift in range(4):
            chunk = run[shift:]
            chunk = chunk[: len(chunk) // 4 * 4]
            if middle in base64.b64decode(chunk):
                return True
    return False


def reveals(text: str, secret: str) -> list[str]:
    """The forms in which ``text`` shows ``secret``."""
    raw = secret.encode()
    flat = text.replace("\r", "").replace("\n", "")
    checks = {
        "plain": secret in text,
        "reversed": secret[::-1] in text,
        "hex": raw.hex() in flat or raw.hex().upper() in flat,
        "percent": any(form in text for form in (quote(secret), quote(secret, safe=""), quote_plus(secret))),
        "base64": _base64_reveals(text, raw),
    }
    return [form for form, found in checks.items() if found]


def leaks(api: FakeMessagesAPI, secret: str = KEY) -> list[tuple[int, list[str]]]:
    """``(request index, forms)`` for every recorded request body that shows ``secret`` in some form.

    Only bodies: the ``x-api-key`` header carries the key to the API on purpose.
    """
    found = []
    for index, request in enumerate(api.requests):
        forms = sorted({form for text in strings(request.body) for form in reveals(text, secret)})
        if forms:
            found.append((index, forms))
    return found


def body_text(request: Any) -> str:
    return "\n".join(strings(request.body))


def answer_to(api: FakeMessagesAPI, tool_use_id: str) -> str:
    """The tool_result text the harness sent for the tool call ``tool_use_id``."""
    return faults.answer_to(api, tool_use_id).content


def tool_id(step: Reply, name: str) -> str:
    return next(str(b["id"]) for b in step.content if b.get("type") == "tool_use" and b["name"] == name)


# --------------------------------------------------------------------------- end-to-end runs


def run(project: Path, mode: str) -> tuple[Any, dict[str, Any]]:
    """Issue 001 through `harness run` or a one-issue `harness afk` batch; afk's entry for the issue is
    mapped onto the run document's ``outcome``, ``reason`` and ``trace``."""
    command = ["run", "001"] if mode == "run" else ["afk"]
    result = CliRunner().invoke(app, [*command, "--repo", str(project), "--json"], catch_exceptions=False)
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    assert "Traceback" not in result.output, result.output
    if mode == "afk" and document:
        entry = next(i for i in document["issues"] if i["id"] == "001")
        document = {
            "outcome": {"done": "pass"}.get(entry["state"], entry["state"]),
            "reason": entry.get("reason") or "",
            "trace": str(Path(entry["runs"][-1]) / "trace.jsonl"),
        }
    return result, document


def commit_all(project: Path, message: str) -> None:
    repo = git.Repo(project)
    repo.git.add("-A")
    repo.git.execute(
        ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "--no-verify", "-m", message]
    )


@dataclass
class Run:
    result: Any
    doc: dict[str, Any]
    api: FakeMessagesAPI
    steps: dict[str, Reply]


ENCODINGS_SCRIPT = """import base64, urllib.parse

key, password = open("leak.txt").read().split("\\n")[:2]
for prefix in (b"", b"x", b"xy"):  # every alignment of the key within base64's 3-byte groups
    data = prefix + key.encode() + b"!tail"
    print("std", base64.b64encode(data).decode())
    print("url", base64.urlsafe_b64encode(data).decode().rstrip("="))
print("end", base64.b64encode(b"x" + key.encode()).decode())
print("wrapped", base64.encodebytes(b"xy" + key.encode() * 2).decode())
print("hex", key.encode().hex(), key.encode().hex().upper())
print("reversed", key[::-1], password[::-1])
print("quoted", urllib.parse.quote(password), urllib.parse.quote_plus(password))
print("b64 password", base64.b64encode(b"pw:" + password.encode()).decode())
"""


@pytest.fixture(scope="module", params=["run", "afk"])
def tool_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One run: the issue body carries the key; the red generator writes the secrets to a file, prints them
    and prints them encoded; then it stops without calling its role tool (the run ends incomplete)."""
    project = build_project(tmp_path_factory.mktemp("secrets-tools") / "textkit")
    issue = project / ".harness" / "issues" / "001-slugify.md"
    issue.write_text(
        issue.read_text(encoding="utf-8").replace(
            "Blog posts need URL slugs",
            f"Our deploy token is {KEY} (do not share it). Blog posts need URL slugs",
        ),
        encoding="utf-8",
    )
    commit_all(project, "issue: mention the key")
    steps = {
        "write": s.act(RED, "write", path="leak.txt", content=f"{KEY}\n{PASSWORD}\n"),
        "cat": s.act(RED, "bash", command="cat leak.txt"),
        "script": s.act(RED, "write", path="enc.py", content=ENCODINGS_SCRIPT),
        "encodings": s.act(RED, "bash", command="python3 enc.py"),
        "base64-cli": s.act(RED, "bash", command="base64 leak.txt"),
    }
    with FakeMessagesAPI() as api, pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        patch.setenv("ANTHROPIC_API_KEY", KEY)
        patch.setenv("HARNESS_TEST_PASSWORD", PASSWORD)
        api.add(*s.contract_agreed(), *steps.values(), *[s.chatter(RED) for _ in range(3)])
        result, doc = run(project, request.param)
        yield Run(result, doc, api, steps)


def test_the_tool_run_reached_every_channel(tool_run: Run) -> None:
    assert tool_run.api.problems == []
    assert tool_run.api.remaining == 0  # every scripted step was served, so every channel was exercised
    assert tool_run.result.exit_code == 3 and "without calling `tests_ready`" in tool_run.doc["reason"]
    assert leaks(tool_run.api) == []
    assert leaks(tool_run.api, PASSWORD) == []


def test_a_bash_result_that_prints_a_secret_is_masked(tool_run: Run) -> None:
    told = answer_to(tool_run.api, tool_id(tool_run.steps["cat"], "bash"))
    assert KEY_LABEL in told and PASSWORD_LABEL in told, told
    assert reveals(told, KEY) == [] and reveals(told, PASSWORD) == []


def test_the_agents_own_earlier_turns_are_masked(tool_run: Run) -> None:
    """The model's ``write`` call carried the secrets; the history sent back to it does not."""
    call_id = tool_id(tool_run.steps["write"], "write")
    later = [
        block
        for request in tool_run.api.requests
        for message in request.body["messages"]
        if message["role"] == "assistant"
        for block in message["content"]
        if block.get("type") == "tool_use" and block["id"] == call_id
    ]
    assert later, "the write call was never sent back in a history"
    for block in later:
        assert block["input"]["content"] == f"{KEY_LABEL}\n{PASSWORD_LABEL}\n"


def test_the_issue_handoff_is_masked(tool_run: Run) -> None:
    first = tool_run.api.requests[0]  # the generator's contract handoff: the issue body
    handoff = first.body["messages"][0]["content"][0]["text"]
    assert f"Our deploy token is {KEY_LABEL} (do not share it)" in handoff
    assert reveals(body_text(first), KEY) == []
    # The trace shows the handoff as the model saw it.
    started = [e for e in read_trace(Path(tool_run.doc["trace"])) if e["kind"] == "agent_started"]
    assert started and all(KEY not in e["handoff"] for e in started)
    assert KEY_LABEL in started[0]["handoff"]


def test_encoded_copies_are_masked(tool_run: Run) -> None:
    told = answer_to(tool_run.api, tool_id(tool_run.steps["encodings"], "bash"))
    # Every line that printed an encoding of a secret shows a label instead of it.
    tags = {"std": 3, "url": 3, "end": 1, "wrapped": 1, "hex": 1, "reversed": 1, "quoted": 1, "b64": 1}
    printed = [line for line in told.splitlines() if line.split(" ", 1)[0] in tags]
    assert sorted(line.split(" ", 1)[0] for line in printed) == sorted(t for t, n in tags.items() for _ in range(n))
    for line in printed:
        assert "redacted]" in line, line
    assert next(line for line in printed if line.startswith("b64 ")).count(PASSWORD_LABEL) == 1
    assert KEY_LABEL in told and PASSWORD_LABEL in told
    assert reveals(told, KEY) == [] and reveals(told, PASSWORD) == []
    wrapped = answer_to(tool_run.api, tool_id(tool_run.steps["base64-cli"], "bash"))  # coreutils wraps at 76
    assert KEY_LABEL in wrapped and reveals(wrapped, KEY) == [] and reveals(wrapped, PASSWORD) == []


def _without_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_without_cache_control(v) for v in value]
    return value


def test_masking_keeps_the_prompt_cache_working(tool_run: Run) -> None:
    """A masked history masks identically every turn, so each request extends the previous one and reads
    it from the cache."""
    red = [r for r in tool_run.api.requests if any(t["name"] == RED for t in r.body["tools"])]
    assert len(red) >= 5
    for before, after in itertools.pairwise(red):
        old, new = (_without_cache_control(r.body["messages"]) for r in (before, after))
        assert new[: len(old) - 1] == old[:-1]  # the last user message may gain a reminder
        assert _without_cache_control(after.body["system"]) == _without_cache_control(before.body["system"])
    assert any(KEY_LABEL in body_text(r) for r in red[1:])
    calls = [
        e
        for e in read_trace(Path(tool_run.doc["trace"]))
        if e["kind"] == "model_call" and e["agent"] == "generator" and e["phase"] == "red"
    ]
    assert calls[-1]["cache_read_tokens"] > 0


# Imports nothing that is missing, so the tests run and fail on their assertions.
RED_TESTS_LEAKING_THE_KEY = """# The key shifted by one code point: not the key, nor an encoding of it.
_HIDDEN = "{hidden}"


def test_lowercases_and_hyphenates():
    key = "".join(chr(ord(c) - 1) for c in _HIDDEN)
    assert key == "", key


def test_strips_edge_hyphens():
    assert True
"""


@pytest.fixture(scope="module", params=["run", "afk"])
def gate_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A whole run whose first red tests fail with the key in an assertion message (the harness rejects
    them and sends its test report back), then do it right."""
    project = build_project(tmp_path_factory.mktemp("secrets-gate") / "textkit")
    hidden = "".join(chr(ord(c) + 1) for c in KEY)
    leaking = RED_TESTS_LEAKING_THE_KEY.format(hidden=hidden)
    steps = {
        "write": s.act(RED, "write", path=s.TEST_FILE, content=leaking),
        "ready": s.tests_ready(),
    }
    with FakeMessagesAPI() as api, pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        patch.setenv("ANTHROPIC_API_KEY", KEY)
        api.add(*s.contract_agreed(), *steps.values(), *s.red_accepted(), *s.green_done(), s.submit_verdict())
        result, doc = run(project, request.param)
        yield Run(result, doc, api, steps)


def test_gate_feedback_with_a_secret_in_a_test_failure_is_masked(gate_run: Run) -> None:
    assert gate_run.result.exit_code == 0, gate_run.result.output
    assert gate_run.api.problems == [] and gate_run.doc["outcome"] == "pass"
    feedback = answer_to(gate_run.api, tool_id(gate_run.steps["ready"], RED))
    assert feedback.startswith("REJECTED") and "already passes" in feedback
    # The failing test's own report made it to the model, with the key masked out of its message.
    assert "fails with AssertionError" in feedback and KEY_LABEL in feedback, feedback
    assert reveals(feedback, KEY) == []
    assert leaks(gate_run.api) == []
    results = [e for e in read_trace(Path(gate_run.doc["trace"])) if e["kind"] == "role_result"]
    assert any(KEY_LABEL in e["text"] for e in results) and not any(KEY in e["text"] for e in results)


# --------------------------------------------------------------------------- Masker


def masker(**secrets: str) -> Masker:
    return Masker.from_env(secrets)


def test_a_value_is_replaced_by_its_name_and_short_values_are_ignored() -> None:
    m = masker(API_TOKEN="tok-12345678", SHORT_KEY="abc1234", EDGE_KEY="abcd1234", PLAIN="not-a-secret-name")
    assert len("abc1234") < SECRET_MIN_CHARS == len("abcd1234")
    text = "t=tok-12345678 s=abc1234 e=abcd1234 p=not-a-secret-name"
    assert m.mask(text) == "t=[API_TOKEN redacted] s=abc1234 e=[EDGE_KEY redacted] p=not-a-secret-name"


def test_extra_named_values_and_several_environments() -> None:
    m = Masker.from_env({"A_TOKEN": "first-secret-1"}, {"B_SECRET": "second-secret-2"}, extra={"pin": "9988776655"})
    assert m.mask("first-secret-1 second-secret-2 9988776655") == (
        "[A_TOKEN redacted] [B_SECRET redacted] [pin redacted]"
    )
    assert Masker.from_env({"A_TOKEN": "first-secret-1"}) is Masker.from_env({"A_TOKEN": "first-secret-1"})


ORDINARY = (
    # This file: code, base64 and hex literals, the word "secret" and friends; without the lines that spell the
    # test keys, whose pieces are rightly masked (test_pieces_of_a_long_secret_are_masked).
    "".join(
        line
        for line in Path(__file__).read_text(encoding="utf-8").splitlines(keepends=True)
        if not any(piece in line for piece in ("sk-ant-api03", "Qw3rTy9uIoP4", "9d4e1bQx7Z"))
    )
    + "\n".join(f"{n:08d} {n * 7919:x} {base64.b64encode(str(n).encode() * 5).decode()}" for n in range(2000))
    + "\nPASSED tests/test_x.py::test_ok 0.12s\n==== 3 passed in 1.02s ====\nlocalhost:8080 true false None\n"
)


def test_ordinary_text_is_left_alone() -> None:
    m = masker(ANTHROPIC_API_KEY="sk-ant-api03-" + "Qw3rTy9uIoP4" * 8, GITHUB_TOKEN="ghp_" + "a1B2c3D4e5" * 4)
    text = ORDINARY.replace(KEY, "")  # this file's own marker is no secret of this masker
    assert m.mask(text) == text
    # ... while a secret in the same text is found.
    assert m.mask(text + "ghp_" + "a1B2c3D4e5" * 4).endswith("[GITHUB_TOKEN redacted]")


def test_the_longest_value_wins() -> None:
    m = masker(SHORT_KEY="abcdefgh12", LONG_KEY="abcdefgh12345678")
    assert m.mask("<abcdefgh12345678> <abcdefgh12>") == "<[LONG_KEY redacted]> <[SHORT_KEY redacted]>"


def test_overlapping_secrets_show_no_part_of_either() -> None:
    m = masker(A_KEY="abcdefghij", B_KEY="ghijklmnopq", C_KEY="xxabcdefghijxx")
    assert m.mask("..abcdefghijklmnopq..") == "..[A_KEY, B_KEY redacted].."
    assert m.mask("..xxabcdefghijxx..") == "..[C_KEY redacted].."  # a value inside another: the outer one
    assert m.mask("abcdefghijghijklmnopq") == "[A_KEY redacted][B_KEY redacted]"


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"xyz"], ids=["offset0", "offset1", "offset2", "offset3"])
def test_base64_at_every_alignment_is_masked(prefix: bytes) -> None:
    m = masker(ANTHROPIC_API_KEY=KEY)
    data = prefix + KEY.encode()
    for encoded in (
        base64.b64encode(data + b"!tail"),
        base64.urlsafe_b64encode(data + b"?tail?"),
        base64.b64encode(data),  # padded, ending with the key
        base64.b64encode(data).rstrip(b"="),
        base64.encodebytes(data * 3),  # wrapped at 76 characters
    ):
        text = f"out: {encoded.decode()} done"
        masked = m.mask(text)
        assert reveals(text, KEY) == ["base64"]  # the check sees the unmasked copy
        assert KEY_LABEL in masked and reveals(masked, KEY) == [], masked


def test_hex_reversed_and_percent_encoded_copies_are_masked() -> None:
    m = masker(ANTHROPIC_API_KEY=KEY, HARNESS_TEST_PASSWORD=PASSWORD)
    raw = KEY.encode()
    for text, secret in (
        (f"0x{raw.hex()}!", KEY),
        (raw.hex().upper(), KEY),
        ("\n".join(re.findall(".{1,60}", raw.hex())), KEY),  # xxd -p wraps at 60
        (KEY[::-1], KEY),
        (PASSWORD[::-1], PASSWORD),
        (f"?pw={quote(PASSWORD, safe='')}&x=1", PASSWORD),
        (quote(PASSWORD), PASSWORD),
        (quote_plus(PASSWORD), PASSWORD),
    ):
        assert reveals(text, secret)
        masked = m.mask(text)
        assert "redacted]" in masked and reveals(masked, secret) == [], masked


def test_short_values_have_no_encoded_forms_below_the_floor() -> None:
    m = masker(PIN_TOKEN="12345678")
    assert len("87654321") < ENCODED_MIN_CHARS
    assert m.mask("12345678 87654321") == "[PIN_TOKEN redacted] 87654321"
    assert m.mask(b"12345678".hex()) == "[PIN_TOKEN redacted]"


def test_mask_value_walks_nested_structures_and_sdk_blocks() -> None:
    m = masker(ANTHROPIC_API_KEY=KEY)
    blocks = [
        BetaTextBlock(type="text", text=f"the key is {KEY}"),
        BetaToolUseBlock(type="tool_use", id="toolu_1", name="bash", input={"command": f"echo {KEY}"}),
    ]
    history = [{"role": "user", "content": [{"type": "tool_result", "content": KEY}]}, {"content": blocks}]
    masked = m.mask_value(history)
    assert KEY not in repr(masked) and repr(masked).count(KEY_LABEL) == 3
    assert masked[1]["content"][1].input == {"command": f"echo {KEY_LABEL}"}
    assert history[0]["content"][0]["content"] == KEY  # the input is not changed in place
    untouched = [{"role": "user", "content": ("nothing", {"here": 1})}]
    assert m.mask_value(untouched) is untouched
    assert m.mask_value((KEY, 3)) == (KEY_LABEL, 3)


def test_workspace_redact_uses_the_same_masker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    ws = Workspace(tmp_path, env={"PATH": "/usr/bin:/bin", "DEPLOY_TOKEN": "deploy-token-value-1"})
    text = f"{base64.b64encode(b'x' + KEY.encode()).decode()} {KEY[::-1]} deploy-token-value-1"
    assert ws.redact(text) == Masker.from_env(dict(ANTHROPIC_API_KEY=KEY), ws.env).mask(text)
    assert reveals(ws.redact(text), KEY) == [] and "[DEPLOY_TOKEN redacted]" in ws.redact(text)


def test_mask_is_fast_on_a_megabyte() -> None:
    m = masker(ANTHROPIC_API_KEY=KEY, GITHUB_TOKEN="ghp_" + "a1B2c3D4e5" * 4, HARNESS_TEST_PASSWORD=PASSWORD)
    clean = (ORDINARY * (1_000_000 // len(ORDINARY) + 1))[:1_000_000].replace(KEY, "")
    dirty = clean[:500_000] + KEY + clean[500_000:]
    for text, bound in ((clean, 0.25), (dirty, 1.0)):  # generous: the machine is shared
        started = time.perf_counter()
        masked = m.mask(text)
        elapsed = time.perf_counter() - started
        assert elapsed < bound, f"{elapsed:.3f}s for {len(text)} characters"
    assert masked.count(KEY_LABEL) == clean.count(KEY_LABEL) + 1 and KEY not in masked



def test_the_trace_on_disk_holds_no_secret(gate_run: Run, tool_run: Run) -> None:
    """The trace records tool inputs (the write that carried the secrets) and the gate's test reasons (the
    failing test's message with the key): written masked, in every form the leak check knows."""
    for run_ in (gate_run, tool_run):
        text = Path(run_.doc["trace"]).read_text(encoding="utf-8")
        assert KEY_LABEL in text
        assert reveals(text, KEY) == [] and reveals(text, PASSWORD) == []


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("ANTHROPIC_API_KEY", True),
        ("GITHUB_TOKEN", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("PGPASSWORD", True),
        ("npm_config__authToken", True),
        ("OAUTH_CLIENT", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("SSH_AUTH_SOCK", False),  # a socket's path
        ("KEYBOARD_LAYOUT", False),
        ("AUTHOR_NAME", False),
        ("TOKENIZERS_PARALLELISM", False),
    ],
)
def test_secret_names_are_matched_by_word(name: str, secret: bool) -> None:
    from harness.envscrub import is_secret_name

    assert is_secret_name(name) is secret


def test_values_of_names_that_only_contain_a_marker_stay_readable() -> None:
    """A masked value is replaced in every text a model sees: masking a common word would garble them all."""
    m = masker(KEYBOARD_LAYOUT="english-international", SSH_AUTH_SOCK="/tmp/ssh-abc123/agent.77")
    text = "layout english-international, agent at /tmp/ssh-abc123/agent.77"
    assert m.mask(text) == text


def test_pieces_of_a_long_secret_are_masked() -> None:
    """pytest truncates a long compared string to its head and tail: both are pieces of the key."""
    m = masker(ANTHROPIC_API_KEY=KEY, HARNESS_TEST_PASSWORD=PASSWORD)
    truncated = f"AssertionError: assert '{KEY[:20]}...{KEY[-14:]}' == 'x'  and  {PASSWORD[8:24]}"
    masked = m.mask(truncated)
    assert masked == f"AssertionError: assert '{KEY_LABEL}...{KEY_LABEL}' == 'x'  and  {PASSWORD_LABEL}", masked
    assert m.mask("short bits " + KEY[-11:] + " stay") == "short bits " + KEY[-11:] + " stay"


def test_the_gate_feedback_shows_no_piece_of_the_key(gate_run: Run) -> None:
    feedback = answer_to(gate_run.api, tool_id(gate_run.steps["ready"], RED))
    words = re.findall(r"[A-Za-z0-9_+/-]{12,}", feedback)
    assert [w for w in words if w in KEY] == [], feedback
