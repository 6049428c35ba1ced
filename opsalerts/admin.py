"""Admin: alerts with their events and deliveries, the outbox read-only, silences editable.

Every action calls ``opsalerts.actions``, the same functions the console, API and commands use.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from opsalerts.actions import (
    OpsAlertingError,
    SyntheticResult,
    acknowledge_alert,
    record_silence,
    resolve_synthetic_alert,
    silence_alerts,
    trigger_synthetic_alert,
)
from opsalerts.models import Alert, AlertEvent, Delivery, DeliveryAttempt, Silence
from planners.framework.catalog import catalog


class ReadOnlyMixin:
    """Immutable history: viewable, never added, edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AlertEventInline(ReadOnlyMixin, admin.TabularInline):
    model = AlertEvent
    fields = ("created_at", "kind", "actor", "channel", "detail")
    readonly_fields = fields
    extra = 0
    ordering = ("-created_at", "-id")
    show_change_link = False


class AlertDeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = Delivery.alerts.through
    verbose_name = "delivery"
    verbose_name_plural = "deliveries"
    fields = ("delivery_link", "status", "routing_key", "attempts", "response_code", "created")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("delivery")

    @admin.display(description="delivery")
    def delivery_link(self, obj: Any) -> str:
        url = reverse("admin:opsalerts_delivery_change", args=[obj.delivery_id])
        return format_html('<a href="{}">{}</a>', url, obj.delivery.webhook_id)

    @admin.display(description="status")
    def status(self, obj: Any) -> str:
        return str(obj.delivery.status)

    @admin.display(description="routing key")
    def routing_key(self, obj: Any) -> str:
        return str(obj.delivery.routing_key)

    @admin.display(description="attempts")
    def attempts(self, obj: Any) -> int:
        return int(obj.delivery.attempts)

    @admin.display(description="response")
    def response_code(self, obj: Any) -> Any:
        return obj.delivery.response_code

    @admin.display(description="created")
    def created(self, obj: Any) -> Any:
        return obj.delivery.created_at


class SyntheticAlertForm(forms.Form):
    planner = forms.ChoiceField(help_text="The planner whose backlog gets a stale synthetic entry.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        planner_field = self.fields["planner"]
        assert isinstance(planner_field, forms.ChoiceField)
        planner_field.choices = [
            (p.metadata.slug, f"{p.metadata.name} ({p.metadata.slug})") for p in catalog.all()
        ]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "alert_id",
        "status",
        "severity",
        "environment",
        "synthetic",
        "planner_slug",
        "occurrences",
        "first_seen",
        "last_seen",
        "acknowledged_by",
        "last_delivered_at",
    )
    list_filter = ("status", "severity", "environment", "synthetic")
    search_fields = ("dedup_key", "alert_id", "title", "planner_slug", "backlog_id")
    date_hierarchy = "last_seen"
    readonly_fields = [f.name for f in Alert._meta.fields]
    inlines = (AlertEventInline, AlertDeliveryInline)
    actions = ("acknowledge", "silence_one_hour", "retrigger_synthetic", "resolve_synthetic")
    change_list_template = "opsalerts/admin/alert_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "trigger-synthetic/",
                self.admin_site.admin_view(self.trigger_synthetic_view),
                name="opsalerts_alert_trigger_synthetic",
            )
        ]
        return extra + super().get_urls()

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        actor = request.user.get_username()
        done = sum(
            acknowledge_alert(alert, actor=actor, channel=Alert.Channel.ADMIN) for alert in queryset
        )
        skipped = queryset.count() - done
        self.message_user(
            request,
            f"Acknowledged {done} alert(s)" + (f"; {skipped} were not firing." if skipped else "."),
            messages.SUCCESS if done else messages.WARNING,
        )

    @admin.action(description="Silence selected alert ids for 1 hour")
    def silence_one_hour(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        patterns = sorted(set(queryset.values_list("alert_id", flat=True)))
        for pattern in patterns:
            silence_alerts(
                pattern,
                minutes=60,
                author=request.user.get_username(),
                reason="silenced from the admin for 1 hour",
            )
        self.message_user(request, f"Silenced for 1 hour: {', '.join(patterns)}.")

    @admin.action(description="Trigger the synthetic alert again for the selected planners")
    def retrigger_synthetic(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        slugs = sorted(set(queryset.filter(synthetic=True).values_list("planner_slug", flat=True)))
        if not slugs:
            self.message_user(
                request,
                "Select synthetic alerts, or use “Trigger synthetic alert” above the list.",
                messages.WARNING,
            )
        for slug in slugs:
            self._run_synthetic(request, slug, resolve=False)

    @admin.action(description="Resolve the selected synthetic alerts")
    def resolve_synthetic(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        slugs = sorted(set(queryset.filter(synthetic=True).values_list("planner_slug", flat=True)))
        if not slugs:
            self.message_user(request, "No synthetic alerts were selected.", messages.WARNING)
        for slug in slugs:
            self._run_synthetic(request, slug, resolve=True)

    def trigger_synthetic_view(self, request: HttpRequest) -> HttpResponse:
        form = SyntheticAlertForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            result = self._run_synthetic(request, form.cleaned_data["planner"], resolve=False)
            if result is not None and result.alert is not None:
                return HttpResponseRedirect(
                    reverse("admin:opsalerts_alert_change", args=[result.alert.pk])
                )
            return HttpResponseRedirect(reverse("admin:opsalerts_alert_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Trigger synthetic alert",
        }
        return TemplateResponse(request, "opsalerts/admin/trigger_synthetic.html", context)

    def _run_synthetic(
        self, request: HttpRequest, slug: str, *, resolve: bool
    ) -> SyntheticResult | None:
        actor = request.user.get_username()
        try:
            if resolve:
                result = resolve_synthetic_alert(slug, actor=actor)
            else:
                result = trigger_synthetic_alert(slug, actor=actor)
        except OpsAlertingError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        delivery = result.delivery
        if delivery is None:
            summary = f"not delivered ({result.skipped_reason})"
        else:
            summary = f"delivery {delivery.status}, HTTP {delivery.response_code or '-'}"
            if delivery.last_error:
                summary += f": {delivery.last_error[:200]}"
        level = messages.SUCCESS if delivery and delivery.status == "sent" else messages.WARNING
        alert = result.alert
        what = f"{alert.dedup_key} ({alert.status})" if alert else "no alert"
        self.message_user(request, f"Synthetic alert for {slug}: {what}; {summary}.", level)
        return result


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "alert", "kind", "actor", "channel")
    list_filter = ("kind", "channel")
    search_fields = ("alert__dedup_key", "actor")
    list_select_related = ("alert",)
    date_hierarchy = "created_at"


class DeliveryAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "created_at", "response_code", "duration_ms", "error")
    readonly_fields = fields
    extra = 0


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "status",
        "route",
        "channel",
        "webhook_url",
        "routing_key",
        "attempts",
        "response_code",
        "created_at",
        "sent_at",
        "next_attempt_at",
    )
    list_filter = ("status", "channel", "routing_key")
    search_fields = ("webhook_id", "webhook_url", "routing_key", "alerts__dedup_key")
    date_hierarchy = "created_at"
    inlines = (DeliveryAttemptInline,)
    exclude = ("alerts",)
    readonly_fields = ("alert_list",)

    @admin.display(description="alerts")
    def alert_list(self, obj: Delivery) -> str:
        return ", ".join(a.dedup_key for a in obj.alerts.all())


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("delivery", "number", "created_at", "response_code", "duration_ms", "error")
    list_filter = ("response_code",)
    search_fields = ("delivery__webhook_id", "error")
    list_select_related = ("delivery",)


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ("pattern", "starts_at", "ends_at", "author", "reason", "created_at")
    search_fields = ("pattern", "author", "reason")
    date_hierarchy = "starts_at"

    def save_model(self, request: HttpRequest, obj: Silence, form: Any, change: bool) -> None:
        if not obj.author:
            obj.author = request.user.get_username()
        super().save_model(request, obj, form, change)
        if not change:
            record_silence(obj, actor=request.user.get_username())
