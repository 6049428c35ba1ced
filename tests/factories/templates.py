"""Prompt templates with one version."""

from __future__ import annotations

from cognition.models import (
    PromptTemplate,
    PromptTemplateVersion,
)


def make_template(name: str, text: str, *, active: bool = True) -> PromptTemplate:
    template = PromptTemplate.objects.create(name=name, is_active=active)
    version = PromptTemplateVersion.objects.create(
        template=template, number=1, text=text, source="seeded"
    )
    template.active_version = version
    template.save(update_fields=["active_version"])
    return template
