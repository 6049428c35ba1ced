"""Admin for prompt templates (versioned edits, history with diffs, rollback) and API tokens.

Template versions are immutable: editing a template's text adds a version and activates it,
rolling back moves the active pointer, and nobody can change or delete a stored version. Every
write goes through ``cognition.actions`` so the admin, the seeder and commands behave the same.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from cognition.actions import (
    activate_template_version,
    add_template_version,
    revoke_api_tokens,
    validate_template_text,
)
from cognition.models import AgentBackendLimit, ApiToken, PromptTemplate, PromptTemplateVersion
from cognition.templating import TemplateError, find_variables
from planners.framework.catalog import catalog
from planners.framework.metadata import PlannerStep

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts
    from django.utils.functional import _StrPromise


def planner_step_for(template_name: str) -> tuple[str, PlannerStep] | None:
    """(planner name, step) driven by the template, or None for a template no planner uses."""
    found = catalog.step_for_template(template_name)
    if found is None:
        return None
    planner, step = found
    return planner.metadata.name, step


def _fmt(names: list[str]) -> str:
    return ", ".join("{{" + name + "}}" for name in names)


class PromptTemplateForm(forms.ModelForm):
    """The template's own fields plus its text: a changed text becomes a new active version."""

    text = forms.CharField(
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "cols": 110, "class": "vLargeTextField"}),
        help_text="Saving a changed text adds a new version and makes it active. "
        "Placeholders look like {{projectTitle}}.",
    )
    note = forms.CharField(
        max_length=500,
        required=False,
        help_text="Why this change (kept with the version).",
    )
    confirm = forms.BooleanField(
        required=False,
        label="Save anyway",
        help_text="Tick to save an edit that removes variables the planner step needs.",
    )

    class Meta:
        model = PromptTemplate
        fields = ["name", "description", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current_text: str | None = None
        if self.instance.pk and self.instance.active_version is not None:
            self.current_text = self.instance.active_version.text
            self.fields["text"].initial = self.current_text
        self.text_changed = False
        self.removal_warning = ""

    def _template_name(self) -> str:
        return self.instance.name if self.instance.pk else self.cleaned_data.get("name", "")

    def clean_text(self) -> str:
        # Browsers submit textarea line breaks as CRLF; store what the author sees.
        text: str = self.cleaned_data["text"].replace("\r\n", "\n")
        if "\ufffd" in text:
            raise ValidationError(
                "The text contains U+FFFD replacement characters: the submitted text was not "
                "valid UTF-8. Paste it again from the original source.",
                code="not_utf8",
            )
        try:
            variables = validate_template_text(text)
        except TemplateError as exc:
            raise ValidationError(str(exc).capitalize() + ".", code="invalid_text") from None
        found = planner_step_for(self._template_name())
        if found is not None:
            planner_name, step = found
            unknown = [v for v in variables if v not in step.variables]
            if unknown:
                raise ValidationError(
                    "Unknown placeholder(s) %(unknown)s: the %(planner)s step %(step)s provides "
                    "only %(known)s.",
                    code="unknown_placeholder",
                    params={
                        "unknown": _fmt(unknown),
                        "planner": planner_name,
                        "step": step.id,
                        "known": _fmt(list(step.variables)) or "no variables",
                    },
                )
        return text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        text = cleaned.get("text")
        if text is None:
            return cleaned
        self.text_changed = text != self.current_text
        if not self.text_changed or self.current_text is None:
            return cleaned
        found = planner_step_for(self._template_name())
        if found is None:
            return cleaned
        planner_name, step = found
        kept = set(find_variables(text))
        removed = [
            v for v in find_variables(self.current_text) if v in step.variables and v not in kept
        ]
        if removed and not cleaned.get("confirm"):
            self.removal_warning = (
                f"This edit removes {_fmt(removed)}, which the {planner_name} step {step.id} "
                "fills in; the prompt will no longer contain it."
            )
            self.add_error(
                "confirm",
                ValidationError(
                    "%(warning)s Tick “Save anyway” to save it regardless.",
                    code="removes_variable",
                    params={"warning": self.removal_warning},
                ),
            )
        return cleaned


@dataclass(frozen=True)
class DiffRow:
    """One line pair of a side-by-side diff: kind is equal, changed, deleted or inserted."""

    kind: str
    old_number: int | None
    old_line: str
    new_number: int | None
    new_line: str


def diff_rows(old: str, new: str) -> list[DiffRow]:
    """Side-by-side line diff of two texts (difflib), for the version history table."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(
                DiffRow("equal", i + 1, a[i], j + 1, b[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        for i, j in zip_longest(range(i1, i2), range(j1, j2)):
            if i is not None and j is not None:
                rows.append(DiffRow("changed", i + 1, a[i], j + 1, b[j]))
            elif i is not None:
                rows.append(DiffRow("deleted", i + 1, a[i], None, ""))
            elif j is not None:
                rows.append(DiffRow("inserted", None, "", j + 1, b[j]))
    return rows


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    form = PromptTemplateForm
    list_display = [
        "name",
        "active_version_label",
        "active_source",
        "is_active",
        "version_count",
        "last_change",
        "history_link",
    ]
    list_select_related = ["active_version"]
    list_filter = ["is_active", "active_version__source"]
    search_fields = ["name", "description"]
    ordering = ["name"]

    # -- change list -------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[PromptTemplate]:
        return super().get_queryset(request).annotate(_version_count=Count("versions"))

    @admin.display(description="active version", ordering="active_version__number")
    def active_version_label(self, obj: PromptTemplate) -> str:
        return f"v{obj.active_version.number}" if obj.active_version else "—"

    @admin.display(description="source", ordering="active_version__source")
    def active_source(self, obj: PromptTemplate) -> str:
        return obj.active_version.get_source_display() if obj.active_version else "—"

    @admin.display(description="versions", ordering="_version_count")
    def version_count(self, obj: PromptTemplate) -> int:
        return getattr(obj, "_version_count", 0)

    @admin.display(description="last change", ordering="updated_at")
    def last_change(self, obj: PromptTemplate) -> datetime:
        return obj.updated_at

    @admin.display(description="history")
    def history_link(self, obj: PromptTemplate) -> str:
        url = reverse("admin:cognition_prompttemplate_versions", args=[obj.pk])
        return format_html('<a href="{}">Versions &amp; diff</a>', url)

    # -- change form -------------------------------------------------------------------------

    def get_readonly_fields(
        self, request: HttpRequest, obj: PromptTemplate | None = None
    ) -> list[str]:
        # The name ties the template to a planner step; renaming would orphan the step.
        return ["name", "active_version_label", "updated_at"] if obj else []

    def get_fieldsets(
        self, request: HttpRequest, obj: PromptTemplate | None = None
    ) -> list[tuple[str | _StrPromise | None, _FieldOpts]]:
        text_fields: list[str | list[str] | tuple[str, ...] | tuple[()]] = ["text", "note"]
        if request.method == "POST":
            # The confirmation only matters once an edit was submitted and warned about.
            text_fields.append("confirm")
        head: list[str | list[str] | tuple[str, ...] | tuple[()]] = [
            "name",
            "description",
            "is_active",
        ]
        if obj is not None:
            head += ["active_version_label", "updated_at"]
        return [(None, {"fields": head}), ("Text", {"fields": text_fields})]

    def has_delete_permission(
        self, request: HttpRequest, obj: PromptTemplate | None = None
    ) -> bool:
        # Deleting a template would delete its immutable history; switch it off instead.
        return False

    def save_model(
        self, request: HttpRequest, obj: PromptTemplate, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        assert isinstance(form, PromptTemplateForm)
        if form.text_changed:
            version = add_template_version(
                obj,
                form.cleaned_data["text"],
                author=request.user.get_username(),
                note=form.cleaned_data.get("note", ""),
                source=PromptTemplateVersion.Source.ADMIN,
            )
            self.message_user(
                request, f"Saved the text as version {version.number} and made it active."
            )

    # -- version history, diff and rollback ---------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<int:object_id>/versions/",
                self.admin_site.admin_view(self.versions_view),
                name="cognition_prompttemplate_versions",
            ),
            path(
                "<int:object_id>/versions/<int:number>/activate/",
                self.admin_site.admin_view(require_POST(self.activate_view)),
                name="cognition_prompttemplate_activate",
            ),
        ]
        return custom + super().get_urls()

    def versions_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        template = get_object_or_404(
            PromptTemplate.objects.select_related("active_version"), pk=object_id
        )
        if not self.has_view_or_change_permission(request, template):
            raise PermissionDenied
        versions = list(template.versions.order_by("-number"))
        by_number = {v.number: v for v in versions}
        old, new = self._diff_pair(request, template, by_number)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Versions of {template.name}",
            "original": template,
            "versions": versions,
            "old": old,
            "new": new,
            "rows": diff_rows(old.text, new.text) if old and new else [],
            "can_activate": self.has_change_permission(request, template),
        }
        return TemplateResponse(request, "admin/cognition/prompttemplate/versions.html", context)

    @staticmethod
    def _diff_pair(
        request: HttpRequest,
        template: PromptTemplate,
        by_number: dict[int, PromptTemplateVersion],
    ) -> tuple[PromptTemplateVersion | None, PromptTemplateVersion | None]:
        """The versions to compare: ``?old=&new=`` numbers, else previous vs active."""
        numbers = sorted(by_number)
        if not numbers:
            return None, None
        active = template.active_version.number if template.active_version else numbers[-1]
        default_old = max((n for n in numbers if n < active), default=active)
        picked: list[int] = []
        for key, default in (("old", default_old), ("new", active)):
            raw = request.GET.get(key, "")
            try:
                number = int(raw) if raw else default
            except ValueError:
                raise Http404(f"Version {raw!r} is not a number.") from None
            if number not in by_number:
                raise Http404(f"{template.name} has no version {number}.")
            picked.append(number)
        return by_number[picked[0]], by_number[picked[1]]

    def activate_view(self, request: HttpRequest, object_id: int, number: int) -> HttpResponse:
        template = get_object_or_404(PromptTemplate, pk=object_id)
        if not self.has_change_permission(request, template):
            raise PermissionDenied
        version = get_object_or_404(PromptTemplateVersion, template=template, number=number)
        if activate_template_version(version, actor=request.user.get_username()):
            self.message_user(request, f"{template.name}: version {number} is now active.")
        else:
            self.message_user(
                request, f"{template.name}: version {number} was already active.", messages.INFO
            )
        return HttpResponseRedirect(
            reverse("admin:cognition_prompttemplate_versions", args=[template.pk])
        )


@admin.register(PromptTemplateVersion)
class PromptTemplateVersionAdmin(admin.ModelAdmin):
    """Read-only: versions are history. The one write is activating (rolling back to) one."""

    list_display = ["template", "number", "source", "author", "note", "created_at", "is_current"]
    list_select_related = ["template"]
    list_filter = ["source", "template"]
    search_fields = ["template__name", "author", "note", "text"]
    ordering = ["template__name", "-number"]
    readonly_fields = (
        "template",
        "number",
        "source",
        "author",
        "note",
        "variables",
        "created_at",
        "text",
    )
    fields = readonly_fields
    actions = ["activate_version"]

    @admin.display(description="active", boolean=True)
    def is_current(self, obj: PromptTemplateVersion) -> bool:
        return obj.template.active_version_id == obj.pk

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: PromptTemplateVersion | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: PromptTemplateVersion | None = None
    ) -> bool:
        return False

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("cognition.change_prompttemplate")

    @admin.action(
        description="Activate (roll back to) the selected version", permissions=["activate"]
    )
    def activate_version(
        self, request: HttpRequest, queryset: QuerySet[PromptTemplateVersion]
    ) -> None:
        versions = list(queryset.select_related("template")[:2])
        if len(versions) != 1:
            self.message_user(
                request, "Select exactly one version to activate.", level=messages.ERROR
            )
            return
        [version] = versions
        if activate_template_version(version, actor=request.user.get_username()):
            self.message_user(request, f"{version.template.name}: v{version.number} is now active.")
        else:
            self.message_user(
                request,
                f"{version.template.name}: v{version.number} was already active.",
                level=messages.INFO,
            )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by a management command (the secret is shown once); here they are
    listed and revoked. The stored hash is never shown."""

    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    fields = readonly_fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = revoke_api_tokens(queryset, actor=request.user.get_username())
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(AgentBackendLimit)
class AgentBackendLimitAdmin(admin.ModelAdmin):
    """The provider limits' state when it is kept in the database (a Redis broker keeps it in
    Redis instead): read only, the workers write it."""

    list_display = [
        "backend",
        "calls_in_flight",
        "requests_tat",
        "tokens_tat",
        "paused_until",
    ]
    search_fields = ["backend"]
    readonly_fields = (
        "backend",
        "leases",
        "requests_tat",
        "tokens_tat",
        "paused_until",
        "updated_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="calls in flight")
    def calls_in_flight(self, obj: AgentBackendLimit) -> int:
        now = timezone.now().timestamp()
        return sum(1 for expiry in obj.leases.values() if expiry > now)
