"""Acknowledgement endpoints: the signed link (no login) and the staff API."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from cognition.api_auth import staff_api_view
from opsalerts.ack import AckLinkError, read_ack_token
from opsalerts.actions import acknowledge_alert
from opsalerts.models import Alert

ACK_NAME_MAX = 100


@never_cache
@require_http_methods(["GET", "POST"])
def ack_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the alert and a confirm button; POST acknowledges (channel ``link``).

    GET never acknowledges: link scanners and chat previews fetch URLs on their own.
    """
    try:
        link = read_ack_token(token)
    except AckLinkError as exc:
        return render(
            request,
            "opsalerts/ack_refused.html",
            {"reason": exc.reason, "message": exc.message},
            status=403,
        )
    alert = link.alert
    state = _ack_state(alert, stale_episode=link.stale_episode)
    acknowledged_now = False
    if request.method == "POST" and state == "open":
        name = request.POST.get("name", "").strip()[:ACK_NAME_MAX]
        actor = f"{name or 'someone'} (ack link)"
        acknowledged_now = acknowledge_alert(
            alert,
            actor=actor,
            channel=Alert.Channel.LINK,
            note=request.POST.get("note", ""),
        )
        alert.refresh_from_db()
        state = "acknowledged-now" if acknowledged_now else _ack_state(alert, stale_episode=False)
    return render(request, "opsalerts/ack.html", {"alert": alert, "state": state})


def _ack_state(alert: Alert, *, stale_episode: bool) -> str:
    if stale_episode:
        return "stale"
    if alert.status == Alert.Status.ACKNOWLEDGED:
        return "already-acknowledged"
    if alert.status == Alert.Status.RESOLVED:
        return "resolved"
    return "open"


@require_POST
@staff_api_view
def api_ack(request: HttpRequest, dedup_key: str) -> JsonResponse:
    """``POST /api/alerts/<dedup_key>/ack`` with a staff Bearer token: channel ``api``; an
    optional form field ``note`` says why the alert can wait."""
    alert = Alert.objects.filter(dedup_key=dedup_key).first()
    if alert is None:
        return JsonResponse({"error": f"no alert with dedup_key {dedup_key!r}"}, status=404)
    changed = acknowledge_alert(
        alert,
        actor=request.user.get_username(),
        channel=Alert.Channel.API,
        note=request.POST.get("note", ""),
    )
    if not changed and alert.status == Alert.Status.RESOLVED:
        return JsonResponse(
            {"error": "alert is resolved", "dedup_key": alert.dedup_key, "status": alert.status},
            status=409,
        )
    return JsonResponse(
        {
            "dedup_key": alert.dedup_key,
            "status": alert.status,
            "acknowledged": changed,
            "already_acknowledged": not changed,
            "acknowledged_by": alert.acknowledged_by,
            "acknowledged_via": alert.acknowledged_via,
            "acknowledged_at": alert.acknowledged_at.isoformat().replace("+00:00", "Z")
            if alert.acknowledged_at
            else None,
        }
    )
