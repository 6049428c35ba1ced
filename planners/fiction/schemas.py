"""Typed reply shapes of the fiction phases: one source for the prompt and for validation.

Each phase's model is used twice: ``render_shape`` turns it into the JSON skeleton the prompt
shows the model, and ``parse_reply_json`` validates what the model sends back. Keeping both on
the same class means the prompt can never ask for a shape the validator would reject.

Replies are read leniently where it costs nothing (a Markdown code fence around the JSON, extra
keys, numbers where text is expected) and strictly where it matters (a missing or wrongly typed
required key is an error that names the key path, e.g. ``sections[0].scenes[1].sceneSlug: field
required``), so the repair attempt can tell the model exactly what to fix.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from django.utils.text import slugify
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

ModelT = TypeVar("ModelT", bound=BaseModel)


class ReplyShapeError(ValueError):
    """The reply does not have the phase's shape; ``errors`` name each offending key path."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


def _as_slug(value: str) -> str:
    # Models write "Lantern Bridge" as often as "lantern-bridge"; both mean the same row.
    slug = slugify(value)
    if not slug:
        raise ValueError("must contain letters or digits to form a slug")
    return slug


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


Slug = Annotated[str, AfterValidator(_as_slug)]
Text = Annotated[str, AfterValidator(_not_blank)]


class ReplyModel(BaseModel):
    """Base of every reply shape: extra keys are ignored, numbers are accepted as text."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)


# --- vision -------------------------------------------------------------------------------------


class CastEntry(ReplyModel):
    name: Text = Field(description="character name")
    role: str = Field(description="role in the story")
    track: str = Field(description="the arc this character follows")
    importance: str = Field(description="why the book needs them")
    summary: str = Field(description="one or two sentences")


class LoreNeed(ReplyModel):
    title: Text = Field(description="lore the book needs")
    requirementSlug: Slug = Field(description="kebab-case id")
    status: Literal["planned", "ready", "missing"]
    description: str = Field(description="what must be worked out")
    requiredFor: list[str] = Field(
        default_factory=list,
        description="backlog ids or scroll/scene slugs it gates (empty: whole plan)",
    )


class BacklogEntry(ReplyModel):
    id: Slug = Field(description="kebab-case backlog id, unique in the plan")
    description: Text = Field(description="the planning pass still needed")
    status: str | None = Field(default=None, description="pending|complete")
    inputs: list[str] = Field(description="tokens this pass needs (outputs of earlier passes)")
    outputs: list[str] = Field(description="tokens this pass produces")


class VisionReply(ReplyModel):
    authorSummary: Text = Field(description="the author's intent in a paragraph")
    bookGoals: list[str] = Field(description="what the book must achieve")
    coreCast: list[CastEntry]
    supportingCast: list[CastEntry]
    loreNeeds: list[LoreNeed]
    planningBacklog: list[BacklogEntry] = Field(min_length=1)
    openQuestions: list[str] = Field(default_factory=list, description="questions still open")
    worldSeeds: list[str] = Field(default_factory=list, description="world details to plant")

    @model_validator(mode="after")
    def _unique_ids(self) -> VisionReply:
        _reject_duplicates([entry.id for entry in self.planningBacklog], "planningBacklog", "id")
        _reject_duplicates(
            [need.requirementSlug for need in self.loreNeeds], "loreNeeds", "requirementSlug"
        )
        return self


# --- iterative ----------------------------------------------------------------------------------


class IterativeReply(ReplyModel):
    storyAdjustments: list[str] = Field(description="changes to the story plan")
    characterPriorities: list[str] = Field(description="characters to develop next")
    locationNotes: list[str] = Field(description="places and what happens there")
    systemsConsiderations: list[str] = Field(description="magic, politics, economies")
    risks: list[str] = Field(description="what could break the plan")


# --- chapter architect --------------------------------------------------------------------------


class Beat(ReplyModel):
    slug: Slug = Field(description="kebab-case beat id")
    summary: Text = Field(description="what happens")
    goal: str = Field(description="what the viewpoint character wants")
    obstacle: str = Field(description="what stands in the way")
    turn: str = Field(description="how the situation changes")
    fallout: str = Field(description="the consequence")
    carryForward: list[str] = Field(description="threads the next beats pick up")


class ChapterArchitectReply(ReplyModel):
    title: Text = Field(description="chapter title")
    synopsis: Text = Field(description="chapter synopsis")
    structure: list[Beat] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_beats(self) -> ChapterArchitectReply:
        _reject_duplicates([beat.slug for beat in self.structure], "structure", "slug")
        return self


# --- scroll refiner -----------------------------------------------------------------------------


class SceneOutline(ReplyModel):
    sceneSlug: Slug = Field(description="kebab-case scene id, unique in the scroll")
    title: Text = Field(description="scene title")
    goal: str = Field(description="what the scene must achieve")
    conflict: str = Field(description="who or what opposes it")
    turn: str = Field(description="the reversal")
    fallout: str = Field(description="the consequence")
    carryForward: list[str] = Field(description="threads later scenes pick up")


class SectionOutline(ReplyModel):
    sectionSlug: Slug = Field(description="kebab-case section id")
    title: Text = Field(description="section title")
    summary: str = Field(description="what the section covers")
    transitions: list[str] = Field(description="how it hands over to the next section")
    scenes: list[SceneOutline] = Field(min_length=1)


class ScrollRefinerReply(ReplyModel):
    scrollSlug: Slug = Field(description="kebab-case scroll id")
    title: Text = Field(description="scroll title")
    synopsis: Text = Field(description="scroll synopsis")
    sections: list[SectionOutline] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_slugs(self) -> ScrollRefinerReply:
        _reject_duplicates([s.sectionSlug for s in self.sections], "sections", "sectionSlug")
        # Scene slugs name backlog items (``scene-<slug>``), so they must be unique per scroll.
        _reject_duplicates(
            [scene.sceneSlug for section in self.sections for scene in section.scenes],
            "sections[].scenes",
            "sceneSlug",
        )
        return self


def _reject_duplicates(values: list[str], where: str, key: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{where}: duplicate {key} {value!r}")
        seen.add(value)


# --- parsing ------------------------------------------------------------------------------------

_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[^\n]*\n(.*?)```", re.DOTALL)


def extract_json_text(text: str) -> str:
    """The JSON document inside ``text``: the first fenced block that looks like JSON, else the
    outermost ``{...}`` span, else the text itself (so the JSON error message stays useful)."""
    for match in _FENCE_RE.finditer(text):
        body = match.group(2).strip()
        if match.group(1).lower() == "json" or body.startswith("{"):
            return body
    stripped = text.strip()
    start, end = stripped.find("{"), stripped.rfind("}")
    if start != -1 and end > start:
        return stripped[start : end + 1]
    return stripped


def format_error_path(loc: Sequence[int | str]) -> str:
    """``("sections", 0, "scenes", 1, "sceneSlug")`` → ``sections[0].scenes[1].sceneSlug``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "reply"


def _format_error(error: ErrorDetails) -> str:
    path = format_error_path(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"{path}: field required"
    message = error["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        if not error["loc"]:
            return message  # whole-reply checks already name their keys
    else:
        message = message[:1].lower() + message[1:]
    return f"{path}: {message}"


def parse_reply_json(text: str, model: type[ModelT]) -> ModelT:
    """Validate a model reply against ``model``; raise ``ReplyShapeError`` naming every bad key."""
    if not text.strip():
        raise ReplyShapeError(["reply: empty response, expected a JSON object"])
    try:
        data: Any = json.loads(extract_json_text(text))
    except json.JSONDecodeError as exc:
        raise ReplyShapeError(
            [f"reply: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"]
        ) from exc
    if not isinstance(data, dict):
        raise ReplyShapeError([f"reply: expected a JSON object, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ReplyShapeError([_format_error(error) for error in exc.errors()]) from exc


# --- the shape shown in the prompt ----------------------------------------------------------------


def _skeleton(annotation: Any, description: str | None) -> Any:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _skeleton(get_args(annotation)[0], description)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _skeleton(options[0], description)
    if origin is Literal:
        return "|".join(str(arg) for arg in get_args(annotation))
    if origin is list:
        (item,) = get_args(annotation)
        return [_skeleton(item, description)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            name: _skeleton(field.annotation, field.description)
            for name, field in annotation.model_fields.items()
        }
    return description or "string"


def _optional_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if not field.is_required():
            paths.append(path)
        nested = _nested_model(field.annotation)
        if nested is not None:
            paths.extend(_optional_paths(nested, f"{path}[]."))
    return paths


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def render_shape(model: type[BaseModel]) -> str:
    """The reply shape for the prompt: a JSON skeleton (values describe what goes there) and the
    keys that may be left out. Indented output never contains ``{{``/``}}``, so the text is safe
    inside a ``{{token}}`` template."""
    skeleton = json.dumps(_skeleton(model, None), indent=2)
    optional = _optional_paths(model)
    note = (
        "Every key is required except: " + ", ".join(optional) + "."
        if optional
        else "Every key is required."
    )
    return f"{skeleton}\n{note}"
