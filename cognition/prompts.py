"""Looking up the prompt text a planner step should use.

Planners, the health report and the console all ask the same two questions of a template id:
"what text do I send?" (``resolve_prompt``) and "what state is the template in?"
(``template_state`` / ``template_states``). Both live here so the answer cannot drift between
them: a template that ``resolve_prompt`` refuses is exactly one whose state is not usable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cognition.models import PromptTemplate


@dataclass(frozen=True)
class ResolvedTemplate:
    """The active text of a template, with the version it came from (recorded on every run)."""

    template_id: str
    version: int
    text: str


@dataclass(frozen=True)
class TemplateState:
    """What a planner step would find if it resolved its template now.

    ``found``: a ``PromptTemplate`` with that name exists. ``active``: it is switched on and points
    at a version. ``version``: the active version's number (None without one). ``empty``: the active
    text is blank (or there is no active version), so the planner falls back.
    """

    found: bool
    active: bool
    version: int | None
    empty: bool

    @property
    def usable(self) -> bool:
        """True when ``resolve_prompt`` would return text (no fallback)."""
        return self.found and self.active and not self.empty


MISSING = TemplateState(found=False, active=False, version=None, empty=True)


def _state(is_active: bool, version: int | None, text: str | None) -> TemplateState:
    """The state of a found template from its switch and its active version (None, None
    without one)."""
    if version is None or text is None:
        return TemplateState(found=True, active=False, version=None, empty=True)
    return TemplateState(
        found=True, active=bool(is_active), version=version, empty=not text.strip()
    )


def _state_of(template: PromptTemplate) -> TemplateState:
    version = template.active_version
    if version is None:
        return _state(template.is_active, None, None)
    return _state(template.is_active, version.number, version.text)


def _templates_by_name(template_ids: Iterable[str]) -> dict[str, PromptTemplate]:
    templates = PromptTemplate.objects.filter(name__in=list(template_ids)).select_related(
        "active_version"
    )
    return {t.name: t for t in templates}


def template_state(template_id: str) -> TemplateState:
    """The state of one template (one query)."""
    return template_states([template_id])[template_id]


def template_states(template_ids: Iterable[str]) -> dict[str, TemplateState]:
    """States of many templates in ONE query, keyed by every id asked for (missing ones too)."""
    ids = list(dict.fromkeys(template_ids))
    if not ids:
        return {}
    templates = _templates_by_name(ids)
    return {tid: _state_of(templates[tid]) if tid in templates else MISSING for tid in ids}


def resolve_prompt(template_id: str) -> ResolvedTemplate | None:
    """The active version of ``template_id``, or None when the template is missing, inactive or
    empty (the caller then uses its built-in fallback prompt and records ``used_fallback``).

    Read as it is now on every call (nothing is cached): an admin's new version or rollback is
    used by the next step."""
    row = (
        PromptTemplate.objects.filter(name=template_id)
        .values_list("is_active", "active_version__number", "active_version__text")
        .first()
    )
    if row is None:
        return None
    is_active, number, text = row
    if not _state(is_active, number, text).usable:
        return None
    return ResolvedTemplate(template_id=template_id, version=number, text=text)
