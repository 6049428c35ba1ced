"""Typed reply shapes of the non-fiction JSON phases: one source for the prompt and validation.

As in fiction, each model is rendered into the JSON skeleton the prompt shows
(``render_shape``) and validates what comes back (``parse_reply_json``), so the prompt cannot
ask for a shape the validator would refuse. The parsing and rendering helpers, and the lenient
base model, are family-agnostic and imported from ``planners.fiction.schemas`` until they move
to a shared module.

The section draft replies in Markdown, not JSON: its check lives with its planner
(``planners.nonfiction.section_draft``).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from planners.framework.replies import ReplyModel, Slug, Text

# --- brief ----------------------------------------------------------------------------------------


class Source(ReplyModel):
    title: Text = Field(description="the source: a book, paper, dataset or interview")
    kind: str = Field(description="book|paper|dataset|interview|article|other")
    relevance: str = Field(description="what the book takes from it")


class BriefReply(ReplyModel):
    title: Text = Field(description="working title of the book")
    audience: Text = Field(description="who the book is for and what they already know")
    thesis: Text = Field(description="the book's central argument in one or two sentences")
    keyQuestions: list[Text] = Field(min_length=1, description="the questions the book must answer")
    sources: list[Source] = Field(description="where the material comes from")


# --- outline --------------------------------------------------------------------------------------


class OutlineSectionEntry(ReplyModel):
    sectionSlug: Slug = Field(description="kebab-case section id, unique in the outline")
    title: Text = Field(description="section title")
    summary: Text = Field(description="what the section argues or explains")
    keyPoints: list[Text] = Field(
        min_length=1, description="the points the section's draft must make"
    )


class OutlineReply(ReplyModel):
    title: Text = Field(description="book title")
    summary: Text = Field(description="how the sections build the thesis, in a paragraph")
    sections: list[OutlineSectionEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_slugs(self) -> OutlineReply:
        # Section slugs name backlog items (``section-<slug>``), so they must be unique.
        seen: set[str] = set()
        for section in self.sections:
            if section.sectionSlug in seen:
                raise ValueError(f"sections: duplicate sectionSlug {section.sectionSlug!r}")
            seen.add(section.sectionSlug)
        return self
