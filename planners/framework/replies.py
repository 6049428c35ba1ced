"""What every JSON- or prose-replying planner shares: typed reply shapes that are the single
source for the prompt and for validation, and the checks prose replies need.

A reply model is used twice: ``render_shape`` turns it into the JSON skeleton the prompt shows
the model, and ``parse_reply_json`` validates what the model sends back, so the prompt can never
ask for a shape the validator would reject. Replies are read leniently where it costs nothing
(a Markdown code fence around the JSON, extra keys, numbers where text is expected) and strictly
where it matters (a missing or wrongly typed key is an error naming its path, e.g.
``sections[0].scenes[1].sceneSlug: field required``), so the repair attempt can say what to fix.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from django.utils.text import slugify
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from planners.framework.metadata import PlannerStep

#: What a blank variable renders as, so the model reads "nothing yet" rather than a gap.
BLANK = "(none yet)"

_OUTER_FENCE_RE = re.compile(r"^```[A-Za-z]*[^\n]*\n(.*?)\n?```\s*$", re.DOTALL)
_WORDS_RE = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?")

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


# --- prompts ----------------------------------------------------------------------------------


def json_reply_instructions(reply_model: type[BaseModel]) -> str:
    """The closing paragraph of every JSON prompt: the exact shape, from the reply model."""
    return (
        "Reply with a single JSON object and nothing else (a ```json code fence is fine). "
        "It must have exactly this shape; the values below describe what goes in each key:\n"
        f"{render_shape(reply_model)}"
    )


def step_variables(step: PlannerStep, params: BaseModel) -> dict[str, str]:
    """The step's ``{{tokens}}`` filled from ``params`` (same names), blanks shown as ``BLANK``."""
    values = params.model_dump()
    variables: dict[str, str] = {}
    for name in step.variables:
        value = values.get(name)
        text = "" if value is None else str(value).strip()
        variables[name] = text or BLANK
    return variables


# --- prose replies ------------------------------------------------------------------------------


def strip_outer_fence(text: str) -> str:
    """Markdown prose sometimes comes wrapped in a ```markdown fence; unwrap it."""
    text = text.strip()
    match = _OUTER_FENCE_RE.match(text)
    return match.group(1).strip() if match else text


def count_words(text: str) -> int:
    return len(_WORDS_RE.findall(text))


def is_json_document(text: str) -> bool:
    """A JSON object or array: models used to the other phases' JSON replies sometimes answer
    this one with, say, ``{"prose": "..."}``, whose words would otherwise pass for a scene."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        return False
    return isinstance(data, dict | list)


def starts_with_heading(prose: str) -> bool:
    """Whether the first non-blank line is a level-one ``# `` heading (the scene title)."""
    first_line = prose.lstrip().split("\n", 1)[0]
    return first_line.startswith("# ")
