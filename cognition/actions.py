"""Writes to prompt templates and API tokens: the admin, the seeder and commands call these.

Versions are immutable: an edit adds a version and moves the template's pointer, a rollback only
moves the pointer. Each function is one transaction and locks the template row, so two editors
saving at once get consecutive version numbers instead of a unique-constraint crash.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from cognition.models import ApiToken, PromptTemplate, PromptTemplateVersion
from cognition.templating import TemplateError, check_text, find_variables

logger = logging.getLogger(__name__)


def validate_template_text(text: str) -> list[str]:
    """Check ``text`` can be stored and rendered; return its variables.

    Raises ``TemplateError`` naming the problem: empty text, NUL bytes, characters that cannot be
    encoded as UTF-8 (lone surrogates pasted from broken clipboards), malformed placeholders.
    """
    if "\x00" in text:
        raise TemplateError("template text contains a NUL byte (\\x00); remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TemplateError(
            f"template text is not valid UTF-8: character {text[exc.start]!r} at position "
            f"{exc.start} cannot be encoded (a lone surrogate)"
        ) from None
    check_text(text)
    return find_variables(text)


def add_template_version(
    template: PromptTemplate,
    text: str,
    *,
    author: str,
    note: str = "",
    source: str = PromptTemplateVersion.Source.ADMIN,
) -> PromptTemplateVersion:
    """Store ``text`` as the template's next version and make it active.

    Raises ``TemplateError`` (nothing saved) when the text is not storable (see
    ``validate_template_text``).
    """
    if source not in PromptTemplateVersion.Source.values:
        raise ValueError(f"unknown template version source {source!r}")
    variables = validate_template_text(text)
    with transaction.atomic():
        locked = PromptTemplate.objects.select_for_update().get(pk=template.pk)
        latest = locked.versions.aggregate(latest=Max("number"))["latest"] or 0
        version = PromptTemplateVersion.objects.create(
            template=locked,
            number=latest + 1,
            text=text,
            variables=variables,
            source=source,
            author=author,
            note=note,
        )
        locked.active_version = version
        locked.save(update_fields=["active_version", "updated_at"])
    template.active_version = version
    template.updated_at = locked.updated_at
    logger.info(
        "prompt template %s: added v%s (source=%s, author=%s)",
        template.name,
        version.number,
        source,
        author or "-",
    )
    return version


def activate_template_version(version: PromptTemplateVersion, *, actor: str) -> bool:
    """Point the version's template at ``version`` (a rollback or roll-forward).

    Returns False when it already was the active version (nothing changes).
    """
    with transaction.atomic():
        template = PromptTemplate.objects.select_for_update().get(pk=version.template_id)
        if template.active_version_id == version.pk:
            return False
        previous = template.active_version_id
        template.active_version = version
        template.save(update_fields=["active_version", "updated_at"])
    logger.info(
        "prompt template %s: activated v%s (was version id %s) by %s",
        template.name,
        version.number,
        previous,
        actor or "-",
    )
    return True


def revoke_api_tokens(tokens: QuerySet[ApiToken], *, actor: str) -> int:
    """Revoke the not-yet-revoked tokens among ``tokens``; return how many were revoked."""
    with transaction.atomic():
        prefixes = list(tokens.filter(revoked_at__isnull=True).values_list("prefix", flat=True))
        count = tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    if count:
        logger.info("revoked %s API token(s) %s by %s", count, prefixes, actor or "-")
    return count
