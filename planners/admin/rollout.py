"""Admin for rollout checklists and sign-offs.

Items are edited inline under their checklist with the same rules as the console (the form asks
``actions.item_change_problem``, the save goes through ``actions.mark_item``); a signed-off
checklist is read-only; sign-offs are never added, changed or deleted here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from planners.models.rollout import (
    CheckedVia,
    ChecklistItem,
    Environment,
    ItemStatus,
    RolloutChecklist,
    SignOff,
    done_items,
)
from planners.rollouts import actions
from planners.rollouts.watch import watch_state


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ("name", "position", "signer_group", "signer_list")
    ordering = ("position",)
    filter_horizontal = ("signers",)
    list_select_related = ("signer_group",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Environment]:
        return super().get_queryset(request).prefetch_related("signers")

    @admin.display(description="Signers")
    def signer_list(self, obj: Environment) -> str:
        names = [user.get_username() for user in obj.signers.all()]
        if not names and obj.signer_group_id is None:
            return "any staff member"
        return ", ".join(names) or "—"


class ChecklistItemForm(forms.ModelForm):
    evidence_link = forms.URLField(required=False, max_length=1000, assume_scheme="https")

    class Meta:
        model = ChecklistItem
        fields = ("status", "waiver_reason", "evidence_text", "evidence_link", "evidence_file")
        widgets = {
            "waiver_reason": forms.Textarea(attrs={"rows": 2, "cols": 30}),
            "evidence_text": forms.Textarea(attrs={"rows": 2, "cols": 40}),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is not None and self.has_changed():
            problem = actions.item_change_problem(
                self.instance,
                status=data.get("status", self.instance.status),
                current_status=self.initial.get("status", ItemStatus.PENDING),
                waiver_reason=data.get("waiver_reason") or "",
            )
            if problem:
                raise forms.ValidationError(problem)
        return data


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    form = ChecklistItemForm
    extra = 0
    can_delete = False
    max_num = 0
    fields = (
        "section",
        "title",
        "required",
        "verification",
        "status",
        "waiver_reason",
        "evidence_text",
        "evidence_link",
        "evidence_file",
        "snapshot",
        "checked",
    )
    readonly_fields = ("section", "title", "required", "verification", "snapshot", "checked")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if isinstance(obj, RolloutChecklist) and obj.is_signed_off:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="Snapshot")
    def snapshot(self, obj: ChecklistItem) -> str:
        if not obj.evidence_snapshot:
            return "—"
        return str(obj.evidence_snapshot.get("summary") or "captured")

    @admin.display(description="Checked")
    def checked(self, obj: ChecklistItem) -> str:
        if obj.checked_at is None:
            return "—"
        return f"{obj.checked_by} via {obj.checked_via}, {obj.checked_at:%Y-%m-%d %H:%M}"


@admin.register(RolloutChecklist)
class RolloutChecklistAdmin(admin.ModelAdmin):
    list_display = ("planner_slug", "environment", "required_progress", "signed_off", "updated_at")
    list_filter = ("environment", "planner_slug")
    search_fields = ("planner_slug",)
    list_select_related = ("environment", "sign_off")
    inlines = (ChecklistItemInline,)
    actions = ("verify_selected",)
    readonly_fields = (
        "imported_from",
        "created_by",
        "created_at",
        "updated_at",
        "sign_off_record",
        "watch_record",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[RolloutChecklist]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                required_total=Count("items", filter=Q(items__required=True)),
                required_done=Count(
                    "items", filter=Q(items__required=True) & done_items("items__")
                ),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["planner_slug", "environment"]
            if obj.is_signed_off:
                fields += ["files_touched", "follow_ups"]
        return fields

    def get_actions(self, request: HttpRequest) -> Any:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # a signed checklist is protected; delete one by one
        return found

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if isinstance(obj, RolloutChecklist) and obj.is_signed_off:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Required done")
    def required_progress(self, obj: RolloutChecklist) -> str:
        return f"{obj.required_done}/{obj.required_total}"  # type: ignore[attr-defined]

    @admin.display(description="Signed off", boolean=True)
    def signed_off(self, obj: RolloutChecklist) -> bool:
        return obj.is_signed_off

    @admin.display(description="Sign-off")
    def sign_off_record(self, obj: RolloutChecklist) -> str:
        if not obj.pk or not obj.is_signed_off:
            return "Not signed off (sign off from the console checklist page)."
        record = obj.sign_off
        return format_html(
            "{} on {} (deployed {}){}",
            record.owner_name,
            f"{record.signed_at:%Y-%m-%d %H:%M} UTC",
            record.deployment_date,
            f" — {record.note}" if record.note else "",
        )

    @admin.display(description="Watch")
    def watch_record(self, obj: RolloutChecklist) -> str:
        if not obj.pk:
            return "—"
        explanation = watch_state(obj).explanation
        return explanation[:1].upper() + explanation[1:] + "."

    def save_model(
        self, request: HttpRequest, obj: RolloutChecklist, form: Any, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)
        if not change:
            actions.create_runbook_items(obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not ChecklistItem:
            super().save_formset(request, form, formset, change)
            return
        # The admin's change message reads these lists, normally filled by formset.save().
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item_form in formset.forms:
            if not item_form.has_changed():
                continue
            formset.changed_objects.append((item_form.instance, item_form.changed_data))
            item: ChecklistItem = item_form.instance
            actions.mark_item(
                item,
                status=item.status,
                actor=request.user.get_username(),
                via=CheckedVia.ADMIN,
                waiver_reason=item.waiver_reason,
            )

    @admin.action(description="Verify system checks (this deployment's environment)")
    def verify_selected(self, request: HttpRequest, queryset: QuerySet[RolloutChecklist]) -> None:
        for checklist in queryset.select_related("environment"):
            try:
                run = actions.verify_checklist(
                    checklist, actor=request.user.get_username(), via=CheckedVia.ADMIN
                )
            except actions.RolloutError as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            passed = sum(1 for r in run.results.values() if r.passed)
            level = messages.SUCCESS if run.passed else messages.WARNING
            self.message_user(
                request, f"{checklist}: {passed} of {len(run.results)} checks passed.", level
            )


@admin.register(SignOff)
class SignOffAdmin(admin.ModelAdmin):
    """Sign-offs are a record: viewable only."""

    list_display = ("checklist", "owner_name", "deployment_date", "signed_at", "imported_from")
    list_filter = ("checklist__environment",)
    search_fields = ("checklist__planner_slug", "owner_name")
    list_select_related = ("checklist__environment",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
