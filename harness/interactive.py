"""Asking the person at the terminal: only when there is one (never in CI or a pipe)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt
from rich.table import Table

from harness.artifacts import Contract

if TYPE_CHECKING:  # the pipeline loads the SDK; can_ask() is an input check of the planning commands
    from harness.pipeline import Settlement


def can_ask() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def settle_contract(contract: Contract, console: Console | None = None) -> Settlement:
    """Show an escalated contract's last proposal and open objections; ask how to settle them."""
    from harness.pipeline import Settlement

    console = console or Console(stderr=True)
    console.print()
    console.print(
        f"[bold yellow]The generator and the evaluator did not agree on the contract for issue {contract.issue} "
        f"after {contract.round} rounds.[/]"
    )
    proposal = Table(title="last proposal", show_lines=False, expand=True)
    proposal.add_column("id", style="bold")
    proposal.add_column("behaviour")
    proposal.add_column("test", style="dim")
    for criterion in contract.criteria:
        proposal.add_row(criterion.id, escape(criterion.behaviour), escape(criterion.test))
    console.print(proposal)
    objections = Table(title="open objections", expand=True)
    objections.add_column("criterion", style="bold")
    objections.add_column("problem")
    objections.add_column("required change")
    for o in contract.open_objections:
        objections.add_row(escape(o.criterion), escape(o.problem), escape(o.required_change))
    console.print(objections)
    console.print(
        "[bold]a[/]ccept the proposal as it stands · [bold]r[/]ule on the objections (your words go to both "
        "agents, one more round) · [bold]s[/]top (the issue becomes HITL)"
    )
    choice = Prompt.ask("settle", choices=["a", "r", "s"], default="r", console=console)
    if choice == "a":
        note = Prompt.ask("note for the record (optional)", default="", console=console)
        return Settlement("accept", note)
    if choice == "r":
        ruling = ""
        while not ruling.strip():
            ruling = Prompt.ask("your ruling", console=console)
        return Settlement("rule", ruling.strip())
    return Settlement("stop")
