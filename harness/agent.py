"""An agent: one role, one fresh context, acting only through tools, until it calls its role tool.

Built on the SDK's tool runner (``client.beta.messages.tool_runner``), which sends each request and
runs our workspace tools on the reply. Deliberate choices:

- ``thread=False``: by default the runner keeps the conversation in a server-side message thread
  and sends only the new turn. Gateways, clouds and proxies that keep no conversation state reject
  or silently break that; we send the full history every turn, which every Messages API server
  understands, and which keeps the transcript ours to trace and hand off.
- One runner per request (``max_iterations=1``), built from our history. The runner appends the
  reply and its tool results itself, after the caller's last chance to change the request
  (``set_messages_params`` edits only the history before the reply; ``append_messages`` drops the
  computed tool results, so the tools would run twice). Two things need each request built anew:
  the moving cache breakpoint on the newest user message, and the hand-off to a fresh context.
- Prompt caching (at most 4 ``cache_control`` breakpoints per request): the system prompt, the last
  tool definition, and the last block of the two newest user messages. Each turn then reads the
  previous turn's whole prompt from the cache and writes only what is new.
- The loop around the runner is ours for what the runner cannot do: stop at the role tool (its
  input is the agent's answer, not a tool to execute), remind an agent that ends its turn without
  calling it (bounded), check the budget and the turn cap before every call, and start a fresh
  context with a harness-written summary when the context passes ``[limits] context_ceiling``.
- Every request is masked for secrets in one place, right before it is sent (:mod:`harness.masking`):
  the system prompt and the whole history (handoffs, tool results, gate feedback with its test output,
  guard reports, the model's own earlier turns). The masking is deterministic, so an unchanged history
  masks identically and the prompt cache still hits.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.lib.tools import BetaBuiltinFunctionTool, ToolError
from anthropic.types.beta import BetaCacheControlEphemeralParam, BetaTextBlockParam
from pydantic import BaseModel, ValidationError

from harness.config import Limits
from harness.errors import IncompleteError
from harness.masking import Masker
from harness.model import explain_validation, input_schema
from harness.roles import ROLE_TOOLS
from harness.trace import CallRecord, Ledger, Trace, key_input, usage_cost
from harness.workspace import WORKSPACE_TOOLS, ToolRefusal, Workspace

_CACHE: BetaCacheControlEphemeralParam = {"type": "ephemeral"}
_MAX_BREAKPOINTS = 4  # the API's limit per request
_MOVING_BREAKPOINTS = _MAX_BREAKPOINTS - 2  # the system prompt and the tools hold the other two
_SUMMARY_ACTIONS = 60  # the newest tool calls listed in a hand-off summary


class AgentFailed(IncompleteError):
    """An agent could not finish its step (never called its role tool, ran out of turns, API down)."""


@dataclass(frozen=True)
class RoleCall:
    name: str
    input: Any  # the validated pydantic model of the role tool
    tool_use_id: str


class HarnessTool(BetaBuiltinFunctionTool):
    """A tool the SDK's runner can execute: validated pydantic input, actionable errors, traced."""

    def __init__(
        self,
        name: str,
        description: str,
        input_model: type[BaseModel],
        handler: Callable[[BaseModel], str] | None,
        *,
        on_call: Callable[[str, dict[str, Any], str, bool, float], None],
        cache: bool = False,
    ) -> None:
        self._name = name
        self._description = description
        self._model = input_model
        self._handler = handler
        self._on_call = on_call
        self._cache = cache

    def to_dict(self) -> Any:
        definition: dict[str, Any] = {
            "name": self._name,
            "description": self._description,
            "input_schema": input_schema(self._model),
        }
        if self._cache:
            definition["cache_control"] = _CACHE
        return definition

    def call(self, input: object) -> str:
        start = time.monotonic()
        input = _scrubbed(input)
        raw = input if isinstance(input, dict) else {}
        try:
            parsed = self._model.model_validate(input)
            if self._handler is None:
                # A role tool reaches here only when the agent loop did not accept it (invalid input is
                # caught above); its real result is sent by the pipeline.
                result = f"{self._name} recorded."
            else:
                result = self._handler(parsed)
        except ValidationError as exc:
            message = explain_validation(self._name, exc)
            self._on_call(self._name, raw, message, True, time.monotonic() - start)
            raise ToolError(message) from exc
        except ToolRefusal as exc:
            self._on_call(self._name, raw, str(exc), True, time.monotonic() - start)
            raise ToolError(str(exc)) from exc
        self._on_call(self._name, raw, result, False, time.monotonic() - start)
        return result


class Agent:
    """One agent context. ``start`` sends the handoff; ``respond`` answers its last role call."""

    def __init__(
        self,
        *,
        role: str,
        phase: str,
        model: str,
        system: str,
        client: anthropic.Anthropic,
        trace: Trace,
        ledger: Ledger,
        limits: Limits,
        role_tools: Sequence[str],
        workspace: Workspace | None = None,
        workspace_tools: Sequence[str] = (),
        result_filter: Callable[[str], str] | None = None,
        progress: Callable[[], str] | None = None,
    ) -> None:
        self._result_filter = result_filter  # e.g. sanitising untrusted file contents for a reviewer
        self._progress = progress  # the harness's record of the step so far, for a hand-off (e.g. the interview)
        self.role, self.phase, self.model, self.system = role, phase, model, system
        self._client, self._trace, self._ledger, self._limits = client, trace, ledger, limits
        self._role_tools = tuple(role_tools)
        self._workspace = workspace
        self._workspace_tools = tuple(workspace_tools)
        self.messages: list[Any] = []
        self.turns = 0
        self._step_turns = 0  # what [limits] max_turns caps; reset by ``new_step``
        self.peak_context = 0
        self.handoffs = 0
        self._last_role_call: RoleCall | None = None
        self._unanswered: list[tuple[str, str]] = []  # tool_use ids that still need a tool_result
        # What a hand-off to a fresh context is built from: never the model's words, only the harness's record.
        self._handoff = ""
        self._actions: list[tuple[str, str, str]] = []  # (tool, key input, outcome), oldest first
        self._files: dict[str, None] = {}  # written or edited, in order
        self._last_gate: str | None = None
        self._last_context = 0
        self._last_cost = 0.0

    # ------------------------------------------------------------------ public

    def start(self, prompt: str) -> RoleCall:
        self._handoff = prompt
        self._trace.event(
            "agent_started",
            agent=self.role,
            phase=self.phase,
            model=self.model,
            tools=[*self._workspace_tools, *self._role_tools],
            handoff=self._masker().mask(prompt)[:4000],  # the trace shows what the model saw
            handoff_chars=len(prompt),
        )
        return self._converse([{"type": "text", "text": prompt}])

    def new_step(self) -> None:
        """Start counting turns against ``[limits] max_turns`` afresh (an interview caps turns per question)."""
        self._step_turns = 0

    def use_workspace(self, workspace: Workspace) -> None:
        """Point the workspace tools at another checkout (a fresh throwaway copy for a new round)."""
        self._workspace = workspace

    def respond(self, text: str) -> RoleCall:
        """Send ``text`` as the result of the last role call and run until the next one."""
        assert self._last_role_call is not None, "respond() before any role call"
        self._last_gate = text
        self._trace.event(
            "role_result",
            agent=self.role,
            phase=self.phase,
            tool=self._last_role_call.name,
            text=self._masker().mask(text)[:4000],
        )
        content = [_result(self._last_role_call.tool_use_id, text)]
        content += [_result(tool_id, note, error=True) for tool_id, note in self._unanswered]
        self._unanswered = []
        return self._converse(content, answered=True)

    # ------------------------------------------------------------------ loop

    def _converse(self, content: list[Any], *, answered: bool = False) -> RoleCall:
        if not answered and self._unanswered:
            content = [_result(i, note, error=True) for i, note in self._unanswered] + content
            self._unanswered = []
        self.messages.append({"role": "user", "content": content})
        reminders = 0
        while True:
            call = self._run()
            if call is not None:
                self._last_role_call = call
                return call
            reminders += 1
            expected = " or ".join(f"`{name}`" for name in self._role_tools)
            if reminders > self._limits.role_tool_reminders:
                self._trace.event("agent_failed", agent=self.role, phase=self.phase, reason="no role tool call")
                raise AgentFailed(
                    f"the {self.role} ended its turn {reminders} times without calling {expected}, "
                    f"so the {self.phase} step cannot finish",
                    hint="read the trace to see what it did instead; a different model or a clearer issue may help; "
                    "run the issue again to retry",
                )
            reminder = (
                f"You ended your turn without calling {expected}. Your work in this step is only handed over "
                f"when you call {expected}; finish what is left, then call it."
            )
            self._trace.event("reminder", agent=self.role, phase=self.phase, text=reminder)
            dangling = [_result(i, note, error=True) for i, note in self._unanswered]
            self._unanswered = []
            content = [*dangling, {"type": "text", "text": reminder}]
            if self.messages and self.messages[-1]["role"] == "user":  # the model's turn left nothing behind
                self.messages[-1] = {"role": "user", "content": [*self.messages[-1]["content"], *content]}
            else:
                self.messages.append({"role": "user", "content": content})

    def _tools(self) -> list[HarnessTool]:
        specs: list[tuple[str, str, type[BaseModel], Callable[[BaseModel], str] | None]] = []
        for name in self._workspace_tools:
            spec = WORKSPACE_TOOLS[name]
            workspace = self._workspace
            assert workspace is not None

            def handler(parsed: BaseModel, _name: str = name, _ws: Workspace = workspace) -> str:
                result = _ws.call(_name, parsed)
                return self._result_filter(result) if self._result_filter else result

            specs.append((spec.name, spec.description, spec.input_model, handler))
        for name in self._role_tools:
            role = ROLE_TOOLS[name]
            specs.append((role.name, role.description, role.input_model, None))
        # One cache breakpoint after the last tool definition: tools and system prompt are the stable prefix.
        last = len(specs) - 1
        return [
            HarnessTool(name, description, model, handler, on_call=self._on_tool, cache=index == last)
            for index, (name, description, model, handler) in enumerate(specs)
        ]

    def _run(self) -> RoleCall | None:
        """Model turns until a role call (returned), or until the agent stops without one (None)."""
        system: list[BetaTextBlockParam] = [{"type": "text", "text": self.system, "cache_control": _CACHE}]
        while True:
            if self._last_context > self._limits.context_ceiling and len(self.messages) > 1:
                self._hand_off()
            self._before_call()
            masker = self._masker()
            runner = self._client.beta.messages.tool_runner(
                model=self.model,
                max_tokens=self._limits.max_tokens,
                system=masker.mask_value(system),
                tools=self._tools(),
                # The one place every channel to the model passes: no secret value leaves in a request.
                messages=masker.mask_value(_with_breakpoints(self.messages)),
                thread=False,
                max_iterations=1,
            )
            started = time.monotonic()
            try:
                message = next(runner)
            except StopIteration:
                return None
            except anthropic.APIStatusError as exc:
                raise self._api_failure(f"HTTP {exc.status_code}: {_api_message(exc)}") from exc
            except anthropic.APIConnectionError as exc:
                raise self._api_failure(f"connection failed: {exc}") from exc
            except (anthropic.APIResponseValidationError, ValueError, TypeError, AttributeError, KeyError) as exc:
                # A 200 whose body is not a message (an HTML error page from a proxy, JSON cut short).
                raise self._api_failure(f"the reply was not a message: {type(exc).__name__}: {exc}") from exc
            self._record(message, time.monotonic() - started)
            if not message.content:
                # The API does answer end_turn with no content at all; an empty assistant message would
                # make the next request invalid, so the turn leaves no trace in the history.
                runner.close()
                return None
            self.messages.append(_scrubbed(message.to_param()))
            tool_uses = [block for block in message.content if block.type == "tool_use"]
            role_use = next((b for b in tool_uses if b.name in self._role_tools), None)
            if role_use is not None and message.stop_reason == "tool_use":
                parsed = _validated(role_use.name, role_use.input)
                if parsed is not None:
                    self._unanswered = [
                        (b.id, f"Not run: you called `{role_use.name}` in the same turn, which ended it.")
                        for b in tool_uses
                        if b is not role_use
                    ]
                    runner.close()
                    self._trace.event(
                        "role_call",
                        agent=self.role,
                        phase=self.phase,
                        tool=role_use.name,
                        input=role_use.input,
                    )
                    self._actions.append((role_use.name, key_input(role_use.name, role_use.input), "submitted"))
                    return RoleCall(role_use.name, parsed, role_use.id)
            results = self._tool_results(runner, tool_uses) if message.stop_reason == "tool_use" else None
            runner.close()
            if results is None:
                why = (
                    "Not run: your reply was cut off at the output token limit. Make smaller steps "
                    "(write big files in parts with `edit`)."
                    if message.stop_reason == "max_tokens"
                    else "Not run: the turn ended."
                )
                self._unanswered = [(b.id, why) for b in tool_uses]
                return None
            self.messages.append(results)

    def _masker(self) -> Masker:
        """The masker for the harness's environment and the workspace's (cached per set of secrets, so a
        request costs one pass over the environment)."""
        env = self._workspace.env if self._workspace is not None else None
        return Masker.from_env(os.environ, env)

    def _tool_results(self, runner: Any, tool_uses: list[Any]) -> Any:
        """The runner's results for this turn's tool calls, with our own answer to a tool that does not exist.

        The runner answers an unknown name with a bare "not found" and a developer-facing warning; the
        model needs the list of what it may call instead.
        """
        offered = [*self._workspace_tools, *self._role_tools]
        unknown = {b.id: b for b in tool_uses if b.name not in offered}
        with warnings.catch_warnings():
            if unknown:
                warnings.filterwarnings("ignore", message=r"Tool '.*' not found in tool runner")
            results = runner.generate_tool_call_response()
        if results is None or not unknown:
            return results
        content = list(results["content"])
        for index, block in enumerate(content):
            call = unknown.get(block.get("tool_use_id"))
            if call is None:
                continue
            message = (
                f"There is no tool named `{call.name}`. The tools you can call in this step are: "
                + ", ".join(f"`{name}`" for name in offered)
                + "."
            )
            self._on_tool(str(call.name), call.input if isinstance(call.input, dict) else {}, message, True, 0.0)
            content[index] = _result(call.id, message, error=True)
        return {**results, "content": content}

    def _before_call(self) -> None:
        self._ledger.check(next_call=self._last_cost or self._first_call_estimate())
        if self._step_turns >= self._limits.max_turns:
            raise AgentFailed(
                f"the {self.role} used all {self._limits.max_turns} turns of the {self.phase} step",
                hint="raise [limits] max_turns in harness.toml, or split the issue into thinner slices",
            )

    def _first_call_estimate(self) -> float:
        """What the first call of a context will cost at least, before there is a last call to go by: its prompt
        (system, tool schemas, messages), at about 3.5 characters a token, written to the prompt cache. Output
        is left out (unknown), so this errs low; it stops a run whose budget cannot even pay for the prompt."""
        from harness.pricing import price_for

        price = price_for(self.model)
        if price is None:
            return 0.0
        tools = [ROLE_TOOLS[name] for name in self._role_tools]
        specs = [tool.description + json.dumps(input_schema(tool.input_model)) for tool in tools]
        chars = len(self.system) + len(json.dumps(self.messages, default=str)) + sum(map(len, specs))
        chars += 600 * len(self._workspace_tools)  # a workspace tool's description and schema
        return chars / 3.5 * price.cache_write / 1_000_000

    def _hand_off(self) -> None:
        """Continue in a fresh context: the original handoff plus the harness's summary of the work so far.

        The pending user message (tool results, the answer to a role call, a reminder) refers to tool
        calls of the old conversation, so its content is folded into the summary as text.
        """
        pending = self.messages[-1]["content"] if self.messages and self.messages[-1]["role"] == "user" else []
        summary = self._summary(pending)
        self._trace.event(
            "context_handoff",
            agent=self.role,
            phase=self.phase,
            context_tokens=self._last_context,
            ceiling=self._limits.context_ceiling,
            messages_dropped=len(self.messages),
            summary_chars=len(summary),
            handoff_chars=len(self._handoff) + len(summary),
        )
        self.handoffs += 1
        self.messages = [
            {"role": "user", "content": [{"type": "text", "text": self._handoff}, {"type": "text", "text": summary}]}
        ]
        self._last_context = 0
        self._last_cost = 0.0

    def _summary(self, pending: list[Any]) -> str:
        lines = [
            f"The harness moved you to a fresh context: the previous one reached {self._last_context:,} tokens, "
            f"over this step's ceiling of {self._limits.context_ceiling:,}. Below is the harness's own record of "
            "what you did so far in this step (the files in the workspace are exactly as you left them; read "
            "them again where you need their contents)."
        ]
        actions = self._actions[-_SUMMARY_ACTIONS:]
        lines.append("\nYour tool calls so far, oldest first:")
        if len(self._actions) > len(actions):
            lines.append(f"- ({len(self._actions) - len(actions)} earlier calls not listed)")
        lines += [f"- {tool} {key}".rstrip() + f" → {outcome}" for tool, key, outcome in actions] or ["- (none)"]
        lines.append("\nFiles you wrote or edited: " + (", ".join(self._files) or "none"))
        if self._progress is not None:
            lines.append("\n" + self._progress())
        calls = _calls_by_id(self.messages[-2]) if len(self.messages) > 1 else {}
        pending_texts = [_pending_text(block, calls) for block in pending if isinstance(block, dict)]
        if self._last_gate is not None and not any(self._last_gate in t for t in pending_texts):
            lines.append(
                "\nThe harness's last answer to your role tool call:\n" + _fenced("gate-result", self._last_gate)
            )
        if pending_texts:
            lines.append("\nSince your last turn:\n" + "\n\n".join(t for t in pending_texts if t))
        expected = " or ".join(f"`{name}`" for name in self._role_tools)
        lines.append(f"\nContinue from here; the step ends when you call {expected}.")
        return "\n".join(lines)

    def _api_failure(self, what: str) -> AgentFailed:
        self._trace.event("api_error", agent=self.role, phase=self.phase, error=what)
        return AgentFailed(
            f"the model API could not be reached for the {self.role} ({what}) after retries",
            hint="check ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL and the service status, then run again",
        )

    def _record(self, message: Any, latency: float) -> None:
        self.turns += 1
        self._step_turns += 1
        inp, out, write, read, cost = usage_cost(self.model, message.usage)
        context = inp + write + read
        self.peak_context = max(self.peak_context, context)
        self._last_context = context
        self._last_cost = cost or 0.0
        tool_calls = [b.name for b in message.content if b.type == "tool_use"]
        record = CallRecord(
            self.role,
            self.phase,
            self.model,
            inp,
            out,
            write,
            read,
            cost,
            latency,
            message.stop_reason,
            tool_calls,
        )
        if self._ledger.record(record):
            self._trace.event(
                "unpriced_model",
                agent=self.role,
                phase=self.phase,
                model=self.model,
                message=(
                    f"model {self.model} has no price in harness/pricing.py: the cost of its calls is UNKNOWN "
                    "(not zero), and the budget cannot limit them"
                ),
            )
        text = _scrubbed(" ".join(b.text for b in message.content if b.type == "text"))
        self._trace.event(
            "model_call",
            agent=self.role,
            phase=self.phase,
            model=self.model,
            turn=self.turns,
            input_tokens=inp,
            output_tokens=out,
            cache_write_tokens=write,
            cache_read_tokens=read,
            cost=cost,
            run_cost=self._ledger.cost,
            latency=round(latency, 3),
            stop_reason=message.stop_reason,
            tool_calls=tool_calls,
            text=text[:1000],
            context_tokens=context,
        )

    def _on_tool(self, name: str, input: dict[str, Any], result: str, is_error: bool, duration: float) -> None:
        summary = {k: (v if not isinstance(v, str) or len(v) <= 200 else v[:200] + "…") for k, v in input.items()}
        self._actions.append((name, key_input(name, input), "error" if is_error else "ok"))
        if name in ("write", "edit") and not is_error and isinstance(input.get("path"), str):
            self._files[input["path"]] = None
        self._trace.event(
            "tool_call",
            agent=self.role,
            phase=self.phase,
            tool=name,
            input=summary,
            is_error=is_error,
            duration=round(duration, 3),
            result=result[:500],
        )


def _scrubbed(value: Any) -> Any:
    """``value`` with every lone UTF-16 surrogate in its strings replaced by U+FFFD.

    A gateway can hand us JSON such as ``"\\ud83d"`` (half an emoji); Python keeps it as a lone surrogate,
    which no UTF-8 request, file or trace can encode.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    if isinstance(value, BaseModel):  # a reply's blocks stay SDK models in the history
        fields = {name: getattr(value, name) for name in type(value).model_fields}
        changed = {name: new for name, old in fields.items() if (new := _scrubbed(old)) is not old and new != old}
        return value.model_copy(update=changed) if changed else value
    return value


def _with_breakpoints(messages: list[Any]) -> list[Any]:
    """The request's copy of the history, with a cache breakpoint on the last block of the newest user messages.

    The newest one lets the next turn read this whole prompt from the cache; the one before reads what the
    previous turn wrote, however many blocks the reply between them has.
    """
    marked = list(messages)
    users = [i for i, message in enumerate(messages) if message["role"] == "user"][-_MOVING_BREAKPOINTS:]
    for index in users:
        content = messages[index]["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if not blocks:
            continue
        blocks[-1] = {**blocks[-1], "cache_control": _CACHE}
        marked[index] = {**messages[index], "content": blocks}
    return marked


def _calls_by_id(message: dict[str, Any]) -> dict[str, str]:
    """The tool calls of an assistant message, by tool_use id, as ``tool key-input``."""
    if message["role"] != "assistant" or not isinstance(message["content"], list):
        return {}
    calls = {}
    for block in message["content"]:
        if _field(block, "type") == "tool_use":
            name = str(_field(block, "name"))
            calls[str(_field(block, "id"))] = f"{name} {key_input(name, _field(block, 'input'))}".rstrip()
    return calls


def _field(block: Any, name: str) -> Any:
    # A reply's blocks stay SDK models after ``to_param``; the harness's own blocks are dicts.
    return block.get(name) if isinstance(block, dict) else getattr(block, name, None)


def _pending_text(block: dict[str, Any], calls: dict[str, str]) -> str:
    """A block of the pending user message as text a fresh context can read; ``calls`` names the tool calls
    of the old conversation by id."""
    if block.get("type") == "text":
        return str(block.get("text", ""))
    if block.get("type") == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            content = "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
        call = calls.get(str(block.get("tool_use_id")), "a tool call")
        outcome = "failed" if block.get("is_error") else "returned"
        return f"`{call}` {outcome}:\n" + _fenced("tool-result", str(content or "")[:8000])
    return ""


def _fenced(tag: str, text: str) -> str:
    return f"<{tag}>\n{text}\n</{tag}>"


def _validated(name: str, data: object) -> BaseModel | None:
    try:
        return ROLE_TOOLS[name].input_model.model_validate(data)
    except ValidationError:
        return None


def _result(tool_use_id: str, text: str, *, error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": text}
    if error:
        block["is_error"] = True
    return block


def _api_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc.message)
