"""An agent: one role, one fresh context, acting only through tools, until it calls its role tool.

Built on the SDK's tool runner (``client.beta.messages.tool_runner``), which runs our workspace
tools and sends their results back. Two deliberate choices:

- ``thread=False``: by default the runner keeps the conversation in a server-side message thread
  and sends only the new turn. Gateways, clouds and proxies that keep no conversation state reject
  or silently break that; we send the full history every turn, which every Messages API server
  understands, and which keeps the transcript ours to trace and hand off.
- The loop around the runner is ours for what the runner cannot do: stop at the role tool (its
  input is the agent's answer, not a tool to execute), remind an agent that ends its turn without
  calling it (bounded), and check the budget and the turn cap before every call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.lib.tools import BetaBuiltinFunctionTool, ToolError
from anthropic.types.beta import BetaTextBlockParam
from pydantic import BaseModel, ValidationError

from harness.config import Limits
from harness.errors import IncompleteError
from harness.model import explain_validation, input_schema
from harness.roles import ROLE_TOOLS
from harness.trace import CallRecord, Ledger, Trace, usage_cost
from harness.workspace import WORKSPACE_TOOLS, ToolRefusal, Workspace

_CACHE = {"type": "ephemeral"}


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
    ) -> None:
        self._result_filter = result_filter  # e.g. sanitising untrusted file contents for a reviewer
        self.role, self.phase, self.model, self.system = role, phase, model, system
        self._client, self._trace, self._ledger, self._limits = client, trace, ledger, limits
        self._role_tools = tuple(role_tools)
        self._workspace = workspace
        self._workspace_tools = tuple(workspace_tools)
        self.messages: list[Any] = []
        self.turns = 0
        self.peak_context = 0
        self._last_role_call: RoleCall | None = None
        self._unanswered: list[tuple[str, str]] = []  # tool_use ids that still need a tool_result

    # ------------------------------------------------------------------ public

    def start(self, prompt: str) -> RoleCall:
        return self._converse([{"type": "text", "text": prompt}])

    def use_workspace(self, workspace: Workspace) -> None:
        """Point the workspace tools at another checkout (a fresh throwaway copy for a new round)."""
        self._workspace = workspace

    def respond(self, text: str) -> RoleCall:
        """Send ``text`` as the result of the last role call and run until the next one."""
        assert self._last_role_call is not None, "respond() before any role call"
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
            self.messages.append({"role": "user", "content": [*dangling, {"type": "text", "text": reminder}]})

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
        """One pass of the SDK runner; returns the role call, or None when the agent stopped without one."""
        system: list[BetaTextBlockParam] = [
            {"type": "text", "text": self.system, "cache_control": {"type": "ephemeral"}}
        ]
        runner = self._client.beta.messages.tool_runner(
            model=self.model,
            max_tokens=self._limits.max_tokens,
            system=system,
            tools=self._tools(),
            messages=list(self.messages),
            thread=False,
        )
        steps = iter(runner)
        while True:
            self._before_call()
            started = time.monotonic()
            try:
                message = next(steps)
            except StopIteration:
                return None
            except anthropic.APIStatusError as exc:
                raise self._api_failure(f"HTTP {exc.status_code}: {_api_message(exc)}") from exc
            except anthropic.APIConnectionError as exc:
                raise self._api_failure(f"connection failed: {exc}") from exc
            self._record(message, time.monotonic() - started)
            self.messages.append(message.to_param())
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
                    return RoleCall(role_use.name, parsed, role_use.id)
            if message.stop_reason != "tool_use" or not tool_uses:
                why = (
                    "Not run: your reply was cut off at the output token limit. Make smaller steps "
                    "(write big files in parts with `edit`)."
                    if message.stop_reason == "max_tokens"
                    else "Not run: the turn ended."
                )
                self._unanswered = [(b.id, why) for b in tool_uses]
                runner.close()
                return None
            results = runner.generate_tool_call_response()
            if results is not None:
                self.messages.append(results)

    def _before_call(self) -> None:
        self._ledger.check()
        if self.turns >= self._limits.max_turns:
            raise AgentFailed(
                f"the {self.role} used all {self._limits.max_turns} turns of the {self.phase} step",
                hint="raise [limits] max_turns in harness.toml, or split the issue into thinner slices",
            )

    def _api_failure(self, what: str) -> AgentFailed:
        self._trace.event("api_error", agent=self.role, phase=self.phase, error=what)
        return AgentFailed(
            f"the model API could not be reached for the {self.role} ({what}) after retries",
            hint="check ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL and the service status, then run again",
        )

    def _record(self, message: Any, latency: float) -> None:
        self.turns += 1
        inp, out, write, read, cost = usage_cost(self.model, message.usage)
        self.peak_context = max(self.peak_context, inp + write + read)
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
        self._ledger.record(record)
        text = " ".join(b.text for b in message.content if b.type == "text")
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
            context_tokens=inp + write + read,
        )

    def _on_tool(self, name: str, input: dict[str, Any], result: str, is_error: bool, duration: float) -> None:
        summary = {k: (v if not isinstance(v, str) or len(v) <= 200 else v[:200] + "…") for k, v in input.items()}
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
