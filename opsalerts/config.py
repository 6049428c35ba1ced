"""The Ops alerting configuration: one typed settings block, parsed once and validated.

``cognition/settings.py`` reads the raw ``OPS_ALERTING_*`` strings, so that this block can report
*every* problem at once (a deploy that fails on the first of five mistakes costs five deploys).
The same problems feed the system check (``cognition.checks``), the start-up guard of every entry
point (``cognition.startup``) and ``manage.py check_ops_alerting``.

Signing secret format: the Standard Webhooks form, ``whsec_`` followed by base64 of at least 24
random bytes (e.g. ``whsec_`` + ``base64(os.urandom(32))``). Receivers verify with
``standardwebhooks.Webhook(secret).verify(body, headers)`` using the same string.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from cognition.config import Problem, parse_bool
from cognition.typed_settings import SettingsModel, TypedSettings, refuse
from opsalerts.config_formats import (
    SECRETS,
    is_http_url,
)
from opsalerts.config_json import parse_routes, parse_slo_thresholds
from opsalerts.routes import (
    CHANNELS,
    SEVERITIES,
    Channel,
    Route,
    default_route_problems,
)

E005 = "opsalerts.E005"  # an unknown severity or match form
E009 = "opsalerts.E009"  # a value that is not a number, or out of range
E011 = "opsalerts.E011"  # a value the channel does not accept
REPEAT_AND_DEBOUNCE = ("OPS_ALERTING_REPEAT_SECONDS", "OPS_ALERTING_DEBOUNCE_SECONDS")

__all__ = ["OpsAlertingConfig", "Problem", "Route", "ops_alerting"]


#: Whole-number settings: default, minimum, and the check id of a value below the minimum.
_WHOLE_NUMBERS = {
    "debounce_seconds": (300, 0, "opsalerts.E003"),
    "repeat_seconds": (14400, 0, "opsalerts.E003"),
    "max_attempts": (5, 1, "opsalerts.E009"),
    "ack_ttl_seconds": (7 * 86400, 60, "opsalerts.E009"),
}


class OpsAlertingConfig(SettingsModel):
    """``OPS_ALERTING_*`` (and ``DEPLOY_ENVIRONMENT``, ``PUBLIC_BASE_URL``), typed."""

    enabled: bool = Field(False, alias="OPS_ALERTING_ENABLED")
    environment: str = Field("dev", alias="DEPLOY_ENVIRONMENT")
    source: str = Field("planner-ops", alias="OPS_ALERTING_SOURCE")
    webhook_url: str = Field("", alias="OPS_ALERTING_WEBHOOK_URL")
    routing_key: str = Field("", alias="OPS_ALERTING_ROUTING_KEY")
    channel: Channel = Field("webhook", alias="OPS_ALERTING_CHANNEL")
    routes: tuple[Route, ...] = Field((), alias="OPS_ALERTING_ROUTES")
    debounce_seconds: int = Field(300, alias="OPS_ALERTING_DEBOUNCE_SECONDS")
    repeat_seconds: int = Field(14400, alias="OPS_ALERTING_REPEAT_SECONDS")
    severity_filter: frozenset[str] = Field(frozenset(), alias="OPS_ALERTING_SEVERITY_FILTER")
    slo_thresholds: dict[str, float] = Field(
        default_factory=dict, alias="OPS_ALERTING_SLO_THRESHOLDS"
    )
    timeout_seconds: float = Field(10.0, alias="OPS_ALERTING_TIMEOUT_SECONDS")
    max_attempts: int = Field(5, alias="OPS_ALERTING_MAX_ATTEMPTS")
    signing_secret: str = Field("", alias="OPS_ALERTING_SIGNING_SECRET")
    ack_ttl_seconds: int = Field(7 * 86400, alias="OPS_ALERTING_ACK_TTL_SECONDS")
    public_base_url: str = Field("", alias="PUBLIC_BASE_URL")
    pagerduty_webhook_secret: str = Field("", alias="PAGERDUTY_WEBHOOK_SECRET")
    slack_signing_secret: str = Field("", alias="SLACK_SIGNING_SECRET")

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled(cls, raw: Any, info: ValidationInfo) -> bool:
        if isinstance(raw, bool):
            return raw
        parsed = parse_bool(str(raw or ""))
        if parsed is None:
            refuse(info, f"OPS_ALERTING_ENABLED: expected true or false, got {raw!r}.", E009)
            return False
        return parsed

    @field_validator("environment", "source", "routing_key", mode="before")
    @classmethod
    def _text(cls, raw: Any, info: ValidationInfo) -> str:
        default = cls.model_fields[str(info.field_name)].default
        return str(raw or "").strip() or default

    @field_validator("public_base_url", mode="before")
    @classmethod
    def _base_url(cls, raw: Any) -> str:
        return str(raw or "").rstrip("/")

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, raw: Any, info: ValidationInfo) -> str:
        url = str(raw or "").strip()
        if url and not is_http_url(url):
            message = f"OPS_ALERTING_WEBHOOK_URL: expected an http:// or https:// URL, got {url!r}."
            refuse(info, message, "opsalerts.E006")
            return ""
        return url

    @field_validator("routes", mode="before")
    @classmethod
    def _routes(cls, raw: Any, info: ValidationInfo) -> tuple[Route, ...]:
        return parse_routes(raw, info)

    @field_validator(*_WHOLE_NUMBERS, mode="before")
    @classmethod
    def _whole_number(cls, raw: Any, info: ValidationInfo) -> int:
        default, minimum, code = _WHOLE_NUMBERS[str(info.field_name)]
        name = cls.setting_name(str(info.field_name))
        text = str(raw).strip() if raw is not None else ""
        if text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            refuse(info, f"{name}: expected a whole number, got {text!r}.", E009)
            return default
        if value < minimum:
            what = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            refuse(info, f"{name}: {what}, got {value}.", code)
            return default
        return value

    @field_validator("severity_filter", mode="before")
    @classmethod
    def _severity_filter(cls, raw: Any, info: ValidationInfo) -> frozenset[str]:
        if isinstance(raw, list | tuple | set | frozenset):
            parts = [str(p).strip().lower() for p in raw]
        else:
            parts = [p.strip().lower() for p in str(raw or "").split(",")]
        parts = [p for p in parts if p]
        unknown = [p for p in parts if p not in SEVERITIES]
        if unknown:
            refuse(
                info,
                f"OPS_ALERTING_SEVERITY_FILTER: unknown severity "
                f"{', '.join(repr(u) for u in unknown)} "
                f"(expected a comma list of {', '.join(SEVERITIES)}).",
                "opsalerts.E005",
            )
        return frozenset(p for p in parts if p in SEVERITIES)

    @field_validator("slo_thresholds", mode="before")
    @classmethod
    def _slo_thresholds(cls, raw: Any, info: ValidationInfo) -> dict[str, float]:
        return parse_slo_thresholds(raw, info)

    @field_validator("timeout_seconds", mode="before")
    @classmethod
    def _timeout(cls, raw: Any, info: ValidationInfo) -> float:
        name = "OPS_ALERTING_TIMEOUT_SECONDS"
        text = str(raw).strip() if raw is not None else ""
        if text == "":
            return 10.0
        try:
            value = float(text)
        except ValueError:
            refuse(info, f"{name}: expected a number of seconds, got {text!r}.", E009)
            return 10.0
        if not math.isfinite(value) or value <= 0:
            refuse(info, f"{name}: must be greater than 0, got {text}.", E009)
            return 10.0
        return value

    @field_validator(*SECRETS, mode="before")
    @classmethod
    def _secret(cls, raw: Any, info: ValidationInfo) -> str:
        secret = str(raw or "").strip()
        is_valid, expected = SECRETS[str(info.field_name)]
        if secret and not is_valid(secret):
            name = cls.setting_name(str(info.field_name))
            refuse(info, f"{name}: {expected}", "opsalerts.E010")
        return secret

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, raw: Any, info: ValidationInfo) -> str:
        channel = str(raw or "").strip().lower() or "webhook"
        if channel not in CHANNELS:
            refuse(
                info,
                f"OPS_ALERTING_CHANNEL: unknown channel {channel!r} "
                f"(expected one of {', '.join(CHANNELS)}).",
                "opsalerts.E011",
            )
            return "webhook"
        return channel

    @model_validator(mode="after")
    def _rules_between_settings(self, info: ValidationInfo) -> Self:
        default = self.default_route()
        if default is not None:
            for name, message in default_route_problems(default):
                refuse(info, f"{name}: {message} (OPS_ALERTING_CHANNEL={self.channel})", E011)
        no_url = default is None and not _refused(info, "OPS_ALERTING_WEBHOOK_URL:")
        no_routes = not self.routes and not _refused(info, "OPS_ALERTING_ROUTES[")
        if self.enabled and no_url and no_routes:
            refuse(
                info,
                "OPS_ALERTING_WEBHOOK_URL: OPS_ALERTING_ENABLED is true but no webhook URL is "
                "configured (set OPS_ALERTING_WEBHOOK_URL or a route in OPS_ALERTING_ROUTES).",
                "opsalerts.E001",
            )
        # Only the generic webhook is signed with it; the other channels carry their own keys.
        channels = {r.channel for r in (*self.routes, *filter(None, [default]))}
        signed = not channels or "webhook" in channels
        if self.enabled and self.environment != "dev" and signed and not self.signing_secret:
            refuse(
                info,
                "OPS_ALERTING_SIGNING_SECRET: required when OPS_ALERTING_ENABLED is true "
                f"outside dev (DEPLOY_ENVIRONMENT={self.environment}).",
                "opsalerts.E008",
            )
        repeat, debounce = self.repeat_seconds, self.debounce_seconds
        # 0 turns repeats off; otherwise a repeat inside the debounce window could never be sent.
        if 0 < repeat < debounce and not _refused(info, *REPEAT_AND_DEBOUNCE):
            refuse(
                info,
                "OPS_ALERTING_REPEAT_SECONDS: must be at least OPS_ALERTING_DEBOUNCE_SECONDS "
                f"({debounce}), got {repeat} (0 turns repeats off).",
                "opsalerts.E003",
            )
        return self

    def route_for(self, alert_id: str, severity: str) -> Route | None:
        """First matching rule wins; without one, the default webhook URL (if any)."""
        for route in self.routes:
            if route.matches(alert_id, severity):
                return route
        return self.default_route()

    def default_route(self) -> Route | None:
        """``OPS_ALERTING_WEBHOOK_URL`` (or, for PagerDuty, its routing key alone), if set."""
        if not self.webhook_url and not (self.channel == "pagerduty" and self.routing_key):
            return None
        url, key = self.webhook_url, self.routing_key
        return Route(match="", channel=self.channel, webhook_url=url, routing_key=key)

    def delivers_severity(self, severity: str) -> bool:
        return not self.severity_filter or severity in self.severity_filter

    def slo_minutes_for(self, alert_id: str, severity: str) -> float | None:
        """An ``alert:<id>`` threshold (exact id, or a glob) beats a ``severity:<level>`` one."""
        exact = self.slo_thresholds.get(f"alert:{alert_id}")
        if exact is not None:
            return exact
        for key, minutes in self.slo_thresholds.items():
            kind, _, value = key.partition(":")
            if kind == "alert" and fnmatch.fnmatchcase(alert_id, value):
                return minutes
        return self.slo_thresholds.get(f"severity:{severity}")


def _refused(info: ValidationInfo, *names: str) -> bool:
    """Whether a problem was already recorded for one of ``names`` (its value fell back to the
    default, so a rule between settings would judge the default, not what was set)."""
    problems: list[Problem] = (info.context or {}).get("problems", [])
    return any(p.message.startswith(names) for p in problems)


ops_alerting = TypedSettings(OpsAlertingConfig, code="opsalerts.E009")


def parse_ops_alerting() -> tuple[OpsAlertingConfig, list[Problem]]:
    """The typed configuration (bad values fall back to defaults) and every problem.

    Parsed once and cached until a setting changes."""
    parsed = ops_alerting.parse()
    return parsed.value, list(parsed.problems)


def load_ops_alerting_config() -> OpsAlertingConfig:
    """The typed configuration; check ``validate_ops_alerting()`` for problems."""
    return parse_ops_alerting()[0]


def validate_ops_alerting() -> list[str]:
    """Every problem with the Ops alerting settings, as messages naming the variable."""
    return [problem.message for problem in parse_ops_alerting()[1]]
