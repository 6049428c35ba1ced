"""Routing rules and their channels: which alerts go where, and how.

A route is ``match`` (``alert:<id or glob>``, ``severity:<level>`` or ``default``), a
``channel`` (``webhook``, ``pagerduty``, ``slack``, ``teams`` or ``alertmanager``), the URL it
posts to and a routing key. Each channel has its own rules, checked at start-up with a message
naming the route and the field (``OPS_ALERTING_ROUTES[1].routing_key: ...``).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo

from cognition.typed_settings import refuse
from opsalerts.config_formats import is_http_url

SEVERITIES = ("info", "warning", "error")
MATCH_FORMS = "alert:<id or glob>, severity:<info|warning|error> or default"
E004 = "opsalerts.E004"  # not JSON, or the wrong shape
E005 = "opsalerts.E005"  # an unknown severity or match form
E006 = "opsalerts.E006"  # a URL that is not http(s)
E007 = "opsalerts.E007"  # a required field is missing
E011 = "opsalerts.E011"  # a value the route's channel does not accept

Channel = Literal["webhook", "pagerduty", "slack", "teams", "alertmanager"]
CHANNELS: tuple[str, ...] = ("webhook", "pagerduty", "slack", "teams", "alertmanager")
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_KEY_LENGTH = 32
#: Slack incoming webhooks: https://hooks.slack.com/services/T…/B…/<token> (GovSlack: slack-gov).
SLACK_WEBHOOK_URL = r"https://hooks\.slack(-gov)?\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"
#: Office 365 connectors (incoming webhooks) that Microsoft retired in favour of Workflows.
TEAMS_CONNECTOR_HOSTS = ("webhook.office.com", "outlook.office.com", "outlook.office365.com")
#: Alertmanager forgets an alert that is not re-posted within its resolve timeout (5 min by
#: default), so firing alerts are re-posted more often than that.
ALERTMANAGER_REPOST_SECONDS = 120


class Route(BaseModel):
    """A routing rule; ``match`` is ``alert:<id or glob>``, ``severity:<level>`` or ``default``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: str
    channel: Channel = "webhook"
    webhook_url: str = ""
    routing_key: str = ""
    #: Slack only: a regular expression the URL must match instead of Slack's own form (for
    #: tests and proxies).
    webhook_url_pattern: str = ""
    #: Alertmanager only: re-post a firing alert this often.
    repost_seconds: int = ALERTMANAGER_REPOST_SECONDS

    def matches(self, alert_id: str, severity: str) -> bool:
        if self.match == "default":
            return True
        kind, _, value = self.match.partition(":")
        if kind == "alert":
            return fnmatch.fnmatchcase(alert_id, value)
        if kind == "severity":
            return severity == value
        return False

    @property
    def target_url(self) -> str:
        """Where the channel posts (PagerDuty's Events API unless a URL is set)."""
        if self.channel == "pagerduty" and not self.webhook_url:
            return PAGERDUTY_EVENTS_URL
        return self.webhook_url

    @property
    def name(self) -> str:
        """How deliveries name their route."""
        return self.match or "default webhook"


def channel_problems(route: Route) -> list[tuple[str, str]]:
    """What the route's channel refuses in it, as (field, message)."""
    problems: list[tuple[str, str]] = []
    url = route.webhook_url
    if route.channel != "pagerduty" and not url:
        problems.append(("webhook_url", "empty; every route needs one."))
    if route.channel == "pagerduty":
        problems.extend(_pagerduty_problems(route))
    elif route.channel == "slack" and url:
        problems.extend(_slack_problems(route))
    elif route.channel == "teams" and url and _is_teams_connector(url):
        problems.append(
            (
                "webhook_url",
                "Office 365 connector URLs are retired by Microsoft and no longer deliver; "
                'create a Teams Workflows webhook ("Post to a channel when a webhook request is '
                'received") and use its URL.',
            )
        )
    if route.webhook_url_pattern and route.channel != "slack":
        problems.append(("webhook_url_pattern", "only slack routes take a URL pattern."))
    if route.repost_seconds < 1:
        problems.append(("repost_seconds", f"must be at least 1, got {route.repost_seconds}."))
    return problems


def _pagerduty_problems(route: Route) -> list[tuple[str, str]]:
    key = route.routing_key
    if not key:
        return [("routing_key", "empty; a pagerduty route needs the service's integration key.")]
    if len(key) != PAGERDUTY_KEY_LENGTH or not key.isalnum():
        return [
            (
                "routing_key",
                f"not a PagerDuty integration key (expected {PAGERDUTY_KEY_LENGTH} letters and "
                f"digits, got {len(key)} characters).",
            )
        ]
    return []


def _slack_problems(route: Route) -> list[tuple[str, str]]:
    pattern = route.webhook_url_pattern or SLACK_WEBHOOK_URL
    try:
        matched = re.fullmatch(pattern, route.webhook_url) is not None
    except re.error as exc:
        return [("webhook_url_pattern", f"not a regular expression ({exc}).")]
    if matched:
        return []
    expected = (
        f"the pattern {route.webhook_url_pattern!r}"
        if route.webhook_url_pattern
        else "https://hooks.slack.com/services/T…/B…/…"
    )
    return [("webhook_url", f"not a Slack incoming-webhook URL (expected {expected}).")]


def _is_teams_connector(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith(f".{h}") for h in TEAMS_CONNECTOR_HOSTS)


def match_is_valid(name: str, value: Any, info: ValidationInfo) -> bool:
    if not isinstance(value, str) or not value.strip():
        refuse(info, f'{name}: missing or empty "match" (expected {MATCH_FORMS}).', E005)
        return False
    if value == "default":
        return True
    kind, sep, rest = value.partition(":")
    if kind == "alert" and sep and rest:
        return True
    if kind == "severity" and sep:
        if rest in SEVERITIES:
            return True
        refuse(
            info,
            f"{name}: unknown severity {rest!r} in {value!r} "
            f"(expected one of {', '.join(SEVERITIES)}).",
            E005,
        )
        return False
    refuse(info, f"{name}: unknown match form {value!r} (expected {MATCH_FORMS}).", E005)
    return False


def parse_route(where: str, entry: Any, info: ValidationInfo) -> Route | None:
    """One entry of ``OPS_ALERTING_ROUTES``; every problem is refused naming ``where.field``."""
    if not isinstance(entry, dict):
        message = f"{where}: expected an object with match, webhook_url and routing_key."
        refuse(info, message, E004)
        return None
    valid = match_is_valid(f"{where}.match", entry.get("match"), info)
    url = entry.get("webhook_url", "")
    url = url.strip() if isinstance(url, str) else url
    if isinstance(url, str) and url and not is_http_url(url):
        message = f"{where}.webhook_url: expected an http:// or https:// URL, got {url!r}."
        refuse(info, message, E006)
        return None
    try:
        route = Route.model_validate({**entry, "webhook_url": url})
    except ValidationError as error:
        for detail in error.errors():
            field = ".".join(str(part) for part in detail["loc"]) or "route"
            refuse(info, f"{where}.{field}: {_pydantic_message(detail)}.", E004)
        return None
    for field, message in channel_problems(route):
        code = E007 if message.startswith("empty") else E011
        refuse(info, f"{where}.{field}: {message}", code)
        valid = False
    return route if valid else None


def _pydantic_message(detail: Any) -> str:
    if detail["type"] == "extra_forbidden":
        return "unknown field (expected match, channel, webhook_url, routing_key, ...)"
    if detail["type"] == "literal_error":
        return f"unknown channel {detail['input']!r} (expected one of {', '.join(CHANNELS)})"
    return str(detail["msg"]).rstrip(".")


def default_route_problems(route: Route) -> list[tuple[str, str]]:
    """The default route's channel problems, named by the variables that set it."""
    names = {"webhook_url": "OPS_ALERTING_WEBHOOK_URL", "routing_key": "OPS_ALERTING_ROUTING_KEY"}
    return [(names.get(field, field), message) for field, message in channel_problems(route)]
