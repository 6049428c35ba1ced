"""The Section Draft planner: one outline section's prose in Markdown.

The reply is prose, so validation is a set of plain checks rather than a JSON shape: not JSON, a
``# `` heading first, a length within ``MIN_SECTION_WORDS``..``MAX_SECTION_WORDS``, and the
section's key points present. A key point counts as made when at least half of its significant
words (their first letters, so "balance" matches "balancing") appear in the draft; the draft must
make at least ``KEY_POINT_RATIO`` of them. That is deliberately crude and deterministic: it
catches a draft about the wrong section, not a weak one, and the one repair attempt is told
exactly which points are missing.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from planners.framework.base import FinishedRun, PlannerBase
from planners.framework.catalog import register_planner
from planners.framework.context import PlannerContext
from planners.framework.errors import PlannerParamsError, ReplyValidationError
from planners.framework.metadata import PlannerMetadata, PlannerStep
from planners.framework.replies import count_words, step_variables, strip_outer_fence
from planners.nonfiction.json_planner import SYSTEM_MESSAGE, NonfictionParams

#: The accepted length; the prompt asks for 400 to 900 words, so a model that runs a little
#: short or long is not sent back, but a stub or a whole chapter is.
MIN_SECTION_WORDS = 150
MAX_SECTION_WORDS = 1500
#: The share of the section's key points the draft must make.
KEY_POINT_RATIO = 2 / 3
#: Words are compared on this many leading letters: a poor man's stemmer, but a stable one.
STEM_LENGTH = 5

_WORD_RE = re.compile(r"[a-z0-9]+")
_HEADING_RE = re.compile(r"^# \S")
#: Words too common to show that a point is made.
_STOPWORDS = frozenset(
    [
        "about",
        "after",
        "also",
        "because",
        "before",
        "being",
        "between",
        "both",
        "could",
        "does",
        "each",
        "every",
        "from",
        "have",
        "into",
        "just",
        "like",
        "more",
        "most",
        "much",
        "must",
        "only",
        "other",
        "over",
        "same",
        "should",
        "since",
        "some",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "under",
        "very",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "would",
        "your",
    ]
)


class SectionDraftParams(NonfictionParams):
    planName: str
    branch: str = "main"
    sectionTitle: str
    sectionSlug: str
    sectionSummary: str = ""
    #: Shown as a bulleted list in the prompt, and checked against the draft.
    keyPoints: list[str] = Field(default_factory=list)
    outlineSummary: str = ""
    briefSummary: str = ""


class SectionDraft(BaseModel):
    """The validated reply: the prose and which key points it was found to make."""

    prose: str
    wordCount: int
    keyPointsCovered: list[str]
    keyPointsMissing: list[str]


def _stems(text: str) -> set[str]:
    return {
        word[:STEM_LENGTH]
        for word in _WORD_RE.findall(text.lower())
        if len(word) >= 4 and word not in _STOPWORDS
    }


def key_point_made(point: str, prose_stems: set[str]) -> bool:
    """True when at least half of the point's significant words appear in the prose."""
    wanted = _stems(point)
    if not wanted:
        return True  # nothing to look for ("Why it matters") cannot be missed
    return len(wanted & prose_stems) >= math.ceil(len(wanted) / 2)


def _is_json(text: str) -> bool:
    if not text.startswith(("{", "[")):
        return False
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def check_section_draft(text: str, key_points: Sequence[str]) -> SectionDraft:
    """Validate a section draft; ``ReplyValidationError`` lists every problem at once, so the
    repair attempt can fix them all."""
    prose = strip_outer_fence(text)
    if not prose:
        raise ReplyValidationError(["the reply is empty: expected the section's Markdown prose"])
    if _is_json(prose):
        raise ReplyValidationError(
            ["the reply is JSON: write the section as Markdown prose, not a JSON object"]
        )
    errors: list[str] = []
    if not _HEADING_RE.match(prose):
        errors.append('the draft must start with a "# " heading that is the section title')
    words = count_words(prose)
    if not MIN_SECTION_WORDS <= words <= MAX_SECTION_WORDS:
        errors.append(
            f"the section is {words} words long; write about 400 to 900 words of prose "
            f"(accepted: {MIN_SECTION_WORDS} to {MAX_SECTION_WORDS})"
        )
    prose_stems = _stems(prose)
    covered = [point for point in key_points if key_point_made(point, prose_stems)]
    missing = [point for point in key_points if point not in covered]
    if key_points and len(covered) < math.ceil(len(key_points) * KEY_POINT_RATIO):
        errors.append(
            f"the draft makes {len(covered)} of the section's {len(key_points)} key points; "
            "make these too: " + "; ".join(missing)
        )
    if errors:
        raise ReplyValidationError(errors)
    return SectionDraft(
        prose=prose, wordCount=words, keyPointsCovered=covered, keyPointsMissing=missing
    )


def bulleted(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


@register_planner
class SectionDraftPlanner(PlannerBase[SectionDraftParams]):
    metadata = PlannerMetadata(
        name="Section Draft",
        slug="section-draft",
        description=(
            "Drafts one outline section of a non-fiction book as Markdown prose that makes the "
            "section's key points."
        ),
        capabilities=("planning", "nonfiction"),
        steps=(
            PlannerStep(
                id="section-draft",
                display_name="Section draft",
                purpose="Write the section as Markdown prose that makes its key points.",
                template_id="planner.nonfiction.sectionDraft",
                variables=(
                    "planName",
                    "branch",
                    "sectionTitle",
                    "sectionSlug",
                    "sectionSummary",
                    "keyPoints",
                    "outlineSummary",
                    "briefSummary",
                ),
            ),
        ),
        default_settings={
            "reply": "markdown",
            "words": f"{MIN_SECTION_WORDS}-{MAX_SECTION_WORDS}",
        },
        telemetry_tags={"domain": "nonfiction", "phase": "sectionDraft"},
    )
    params_model = SectionDraftParams
    phase = "sectionDraft"
    system_message = SYSTEM_MESSAGE

    def __init__(self) -> None:
        # Set only on the per-run copy made by ``run()``; the catalog's instance has none.
        self.key_points: list[str] = []

    def run(
        self, context: PlannerContext, params: SectionDraftParams | Mapping[str, Any]
    ) -> FinishedRun:
        """Run on a copy bound to this section's key points, so concurrent runs never share
        them (``plan()`` runs through this too)."""
        try:
            valid = self.validate_params(params)
        except PlannerParamsError:
            return super().run(context, params)  # records the parameter error as usual
        bound = copy.copy(self)
        bound.key_points = list(valid.keyPoints)
        return PlannerBase.run(bound, context, valid)

    def default_prompt(self, step: PlannerStep) -> str:
        return """\
You are drafting one section of the non-fiction plan "{{planName}}" (branch: {{branch}}).

Section: {{sectionTitle}} ({{sectionSlug}})
{{sectionSummary}}

The points this section must make:
{{keyPoints}}

The book's outline:
{{outlineSummary}}

The book's brief:
{{briefSummary}}

Write the section as Markdown prose of about 400 to 900 words, starting with a "# " heading
that is the section title. Make every key point above in plain words, with an example or a piece
of evidence for each. Reply with the prose only: no notes, no JSON.
"""

    def template_variables(
        self, step: PlannerStep, params: SectionDraftParams, context: PlannerContext
    ) -> dict[str, str]:
        variables = step_variables(step, params)
        if params.keyPoints:
            variables["keyPoints"] = bulleted(params.keyPoints)
        return variables

    def parse_reply(self, step: PlannerStep, text: str) -> SectionDraft:
        return check_section_draft(text, self.key_points)
