"""The planning artifacts (SPEC §1 steps 1–3): the interview, the PRD and the slices.

Role tool inputs (``ask_user``, ``finish_interview``, ``submit_prd``, ``submit_issues``) are a public
interface (SPEC §5): extend compatibly, never rename. The files built from them (the transcript in
``.harness/grills/``, the PRD in ``.harness/prds/``) are pydantic models too, validated on every read.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from harness.artifacts import Strict

_KEY = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_STORY = re.compile(r"^\s*as an?\b.+\bi want\b.+\bso that\b", re.IGNORECASE | re.DOTALL)

# --------------------------------------------------------------------------- interviewer


Option = Annotated[str, Field(min_length=1, max_length=120)]


class AskUser(Strict):
    question: str = Field(min_length=1, description="one question, about one decision")
    recommended_answer: str = Field(
        min_length=1, description="the answer you recommend; Enter accepts it. With options: one of them, verbatim"
    )
    why: str | None = Field(default=None, description="one line: why you recommend it")
    options: list[Option] | None = Field(
        default=None,
        min_length=2,
        max_length=5,
        description="only for a decision with a few clear alternatives (never an open question): 2-5 short "
        "answers, shown numbered; the user picks one by its number or still answers in their own words",
    )

    @model_validator(mode="after")
    def _recommended_is_an_option(self) -> AskUser:
        if self.options is None:
            return self
        repeated = sorted({o for o in self.options if self.options.count(o) > 1})
        if repeated:
            raise ValueError(f"options must differ; repeated: {', '.join(map(repr, repeated))}")
        if self.recommended_answer not in self.options:
            listed = "; ".join(f"{n}. {o!r}" for n, o in enumerate(self.options, 1))
            raise ValueError(
                f"recommended_answer {self.recommended_answer!r} is not one of the options ({listed}); "
                "set recommended_answer to exactly one of them, or add it as an option"
            )
        return self


class Decision(Strict):
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)


class FinishInterview(Strict):
    summary: str = Field(min_length=1, description="the shared understanding, in a few sentences")
    decisions: list[Decision] = Field(min_length=1, description="every decision settled in the interview")


AnswerSource = Literal["recommended", "own", "option", "skipped", "auto", "file"]


class Exchange(Strict):
    """One question of the interview and, once given, its answer."""

    question: str
    recommended: str
    why: str | None = None
    options: list[str] = Field(default_factory=list, description="the answers offered, numbered from 1")
    answer: str | None = Field(default=None, description="None while the question waits for its answer")
    source: AnswerSource | None = Field(
        default=None,
        description="recommended (Enter), own (typed), option (picked by number), skipped, auto (after /all), "
        "file (--answers)",
    )
    revised: bool = Field(default=False, description="the user changed this answer later in the interview")


class Transcript(Strict):
    """``.harness/grills/<slug>.md``: the whole interview, saved after every question and answer."""

    slug: str = Field(pattern=_KEY)
    idea: str = Field(min_length=1)
    status: Literal["interviewing", "finished"] = "interviewing"
    started: str = ""
    updated: str = ""
    exchanges: list[Exchange] = Field(default_factory=list)
    summary: str | None = None
    decisions: list[Decision] = Field(default_factory=list)

    @property
    def answered(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.answer is not None]

    @property
    def pending(self) -> Exchange | None:
        """The last question, when it still waits for its answer."""
        return self.exchanges[-1] if self.exchanges and self.exchanges[-1].answer is None else None


# --------------------------------------------------------------------------- PRD


class GlossaryEntry(Strict):
    term: str = Field(min_length=1)
    definition: str = Field(min_length=1)


class SubmitPrd(Strict):
    title: str = Field(min_length=1)
    problem: str = Field(min_length=1, description="the problem, from the user's point of view")
    solution: str = Field(min_length=1, description="the solution, from the user's point of view")
    user_stories: list[str] = Field(
        min_length=1, description='numbered in this order; each "As a <who>, I want <what>, so that <why>"'
    )
    implementation_decisions: list[str] = Field(
        min_length=1, description="modules, interfaces, data, decisions taken; no file-by-file plan"
    )
    testing_decisions: list[str] = Field(
        min_length=1, description="which seams to test through, what a good test is here, prior art in the repo"
    )
    success_criteria: list[str] = Field(
        default_factory=list, description="measurable: how the person will know it works (a number, an observable)"
    )
    edge_cases: list[str] = Field(default_factory=list, description="the unusual inputs and states it must handle")
    out_of_scope: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(
        default_factory=list,
        description="what the interview left unresolved: listed here, never silently decided",
    )
    glossary: list[GlossaryEntry] = Field(default_factory=list)
    further_notes: str = Field(default="", description="anything else the slicer should know")

    @field_validator("user_stories")
    @classmethod
    def _stories(cls, stories: list[str]) -> list[str]:
        bad = [i for i, story in enumerate(stories, 1) if not _STORY.match(story)]
        if bad:
            numbers = ", ".join(str(i) for i in bad)
            raise ValueError(
                f"user stories {numbers} are not in the form 'As a <who>, I want <what>, so that <why>'; "
                "rewrite them in that form"
            )
        return stories


class ExtraSection(Strict):
    title: str = Field(min_length=1)
    text: str = ""


class Prd(SubmitPrd):
    """``.harness/prds/<slug>.md``: front matter ``title, slug, grill, created`` and one section per field.

    A person edits it freely: a ``##`` section of their own is kept (``extra_sections``), and prose or
    ``###`` subheadings inside a list section are kept as that section's notes (``notes``, by field)."""

    slug: str = Field(pattern=_KEY)
    grill: str | None = Field(default=None, description="slug of the interview it was written from")
    created: str = ""
    notes: dict[str, str] = Field(
        default_factory=dict, description="prose written inside a list section, by field: shown before its items"
    )
    extra_sections: list[ExtraSection] = Field(
        default_factory=list, description="sections a person added, kept as written, after the known ones"
    )


# --------------------------------------------------------------------------- slicer


class SliceSpec(Strict):
    key: str = Field(pattern=_KEY, description="your short key for this slice, used in blocked_by")
    title: str = Field(min_length=1)
    what_to_build: str = Field(min_length=1, description="the end-to-end behaviour this slice adds")
    acceptance_criteria: list[str] = Field(min_length=1, description="observable, checkable statements")
    blocked_by: list[str] = Field(default_factory=list, description="keys (or existing issue ids) it needs first")
    kind: Literal["AFK", "HITL"] = Field(description="AFK: an agent can finish it alone; HITL: needs a human")
    user_stories: list[int] = Field(default_factory=list, description="numbers of the PRD user stories it serves")


class SubmitIssues(Strict):
    """The shape only: the graph (unique keys, known blocked_by, no cycles) and the slicing itself
    (vertical, not horizontal) are checked by ``harness.slicing``, which answers the model with every problem."""

    issues: list[SliceSpec] = Field(min_length=1)
