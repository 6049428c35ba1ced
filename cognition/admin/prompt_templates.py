"""Prompt templates: the list, the change form (a changed text becomes a new active version)
and the version history with its diff and rollback."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from cognition.actions import activate_template_version, add_template_version
from cognition.admin.diff import diff_rows
from cognition.admin.template_form import PromptTemplateForm
from cognition.models import PromptTemplate, PromptTemplateVersion

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts
    from django.utils.functional import _StrPromise


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
