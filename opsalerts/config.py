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

import base64
import binascii
import fnmatch
import json
import math
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from cognition.config import Problem, parse_bool
from cognition.typed_settings import SettingsModel, TypedSettings, refuse

SEVERITIES = ("info", "warning", "error")
MATCH_FORMS = "alert:<id or glob>, severity:<info|warning|error> or default"
SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES = 24
E005 = "opsalerts.E005"  # an unknown severity or match form
E009 = "opsalerts.E009"  # a value that is not a number, or out of range
REPEAT_AND_DEBOUNCE = ("OPS_ALERTING_REPEAT_SECONDS", "OPS_ALERTING_DEBOUNCE_SECONDS")

__all__ = ["OpsAlertingConfig", "Problem", "Route", "ops_alerting"]


class Route(BaseModel):
    """A routing rule; ``match`` is ``alert:<id or glob>``, ``severity:<level>`` or ``default``."""

    model_config = ConfigDict(frozen=True)

    match: str
    webhook_url: str
    routing_key: str = ""

    def matches(self, alert_id: str, severity: str) -> bool:
        if self.match == "default":
            return True
        kind, _, value = self.match.partition(":")
        if kind == "alert":
            return fnmatch.fnmatchcase(alert_id, value)
        if kind == "severity":
            return severity == value
        return False


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
        return _parse_routes(raw, info)

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
        return _parse_slo_thresholds(raw, info)

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

    @field_validator("signing_secret", mode="before")
    @classmethod
    def _signing_secret(cls, raw: Any, info: ValidationInfo) -> str:
        secret = str(raw or "").strip()
        if secret and not is_signing_secret(secret):
            refuse(
                info,
                "OPS_ALERTING_SIGNING_SECRET: not a Standard Webhooks secret "
                f"(expected {SECRET_PREFIX} followed by base64 of at least {SECRET_MIN_BYTES} "
                "random bytes).",
                "opsalerts.E010",
            )
        return secret

    @model_validator(mode="after")
    def _rules_between_settings(self, info: ValidationInfo) -> Self:
        no_url = not self.webhook_url and not _refused(info, "OPS_ALERTING_WEBHOOK_URL:")
        if self.enabled and no_url and not self.routes:
            refuse(
                info,
                "OPS_ALERTING_WEBHOOK_URL: OPS_ALERTING_ENABLED is true but no webhook URL is "
                "configured (set OPS_ALERTING_WEBHOOK_URL or a route in OPS_ALERTING_ROUTES).",
                "opsalerts.E001",
            )
        if self.enabled and self.environment != "dev" and not self.signing_secret:
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
        if self.webhook_url:
            return Route(match="", webhook_url=self.webhook_url, routing_key=self.routing_key)
        return None

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

    def describe(self) -> dict[str, Any]:
        """The resolved configuration for people, with the secret masked."""
        return {
            "enabled": self.enabled,
            "environment": self.environment,
            "source": self.source,
            "webhook_url": mask_url(self.webhook_url),
            "routing_key": self.routing_key or "(none)",
            "debounce_seconds": self.debounce_seconds,
            "repeat_seconds": self.repeat_seconds,
            "severity_filter": sorted(self.severity_filter) or "all",
            "routes": [
                {
                    "match": r.match,
                    "webhook_url": mask_url(r.webhook_url),
                    "routing_key": r.routing_key,
                }
                for r in self.routes
            ],
            "slo_thresholds": dict(self.slo_thresholds),
            "signing_secret": mask_secret(self.signing_secret),
            "timeout_seconds": self.timeout_seconds,
            "max_attempts": self.max_attempts,
            "ack_ttl_seconds": self.ack_ttl_seconds,
            "public_base_url": self.public_base_url,
        }


def mask_url(url: str) -> str:
    """A webhook URL for printing: chat webhooks carry their secret in the path or query
    (``/services/T0/B0/XXXX``), so only the host, the first path segment and the last four
    characters are shown; a password in the URL is never shown."""
    if not url:
        return "(none)"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}:****@{host}" if parts.password else f"{parts.username}@{host}"
    segments = [s for s in parts.path.split("/") if s]
    path = "/" + "/".join(segments[:1])
    rest = "/".join(segments[1:]) + (f"?{parts.query}" if parts.query else "")
    if rest:
        path += f"/…{rest[-4:]}" if len(rest) > 4 else "/…"
    return f"{parts.scheme}://{host}{path}"


def mask_secret(secret: str) -> str:
    if not secret:
        return "(not set)"
    return f"{secret[:6]}…({len(secret)} chars)" if secret.startswith("whsec_") else "****"


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def is_signing_secret(secret: str) -> bool:
    """``whsec_`` + strict base64 that decodes to at least ``SECRET_MIN_BYTES`` bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        return False
    return len(key) >= SECRET_MIN_BYTES


def _refused(info: ValidationInfo, *names: str) -> bool:
    """Whether a problem was already recorded for one of ``names`` (its value fell back to the
    default, so a rule between settings would judge the default, not what was set)."""
    problems: list[Problem] = (info.context or {}).get("problems", [])
    return any(p.message.startswith(names) for p in problems)


def _json_value(name: str, raw: Any, info: ValidationInfo) -> Any:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if not isinstance(raw, str):
        return raw  # already parsed (override_settings in tests, or a Python literal)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        refuse(
            info,
            f"{name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).",
            "opsalerts.E004",
        )
        return None


def _match_is_valid(name: str, value: Any, info: ValidationInfo) -> bool:
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


def _parse_route(where: str, entry: Any, info: ValidationInfo) -> Route | None:
    if not isinstance(entry, dict):
        message = f"{where}: expected an object with match, webhook_url and routing_key."
        refuse(info, message, "opsalerts.E004")
        return None
    valid = _match_is_valid(f"{where}.match", entry.get("match"), info)
    url = entry.get("webhook_url")
    url = url.strip() if isinstance(url, str) else ""
    if not url:
        refuse(info, f"{where}.webhook_url: empty; every route needs one.", "opsalerts.E007")
        valid = False
    elif not is_http_url(url):
        message = f"{where}.webhook_url: expected an http:// or https:// URL, got {url!r}."
        refuse(info, message, "opsalerts.E006")
        valid = False
    key = entry.get("routing_key", "")
    if key is not None and not isinstance(key, str):
        refuse(info, f"{where}.routing_key: expected a string.", "opsalerts.E004")
        valid = False
    return Route(match=entry["match"], webhook_url=url, routing_key=key or "") if valid else None


def _parse_routes(raw: Any, info: ValidationInfo) -> tuple[Route, ...]:
    name = "OPS_ALERTING_ROUTES"
    data = _json_value(name, raw, info)
    if data is None:
        return ()
    if not isinstance(data, list):
        refuse(info, f"{name}: expected a JSON list of route objects.", "opsalerts.E004")
        return ()
    routes = (_parse_route(f"{name}[{index}]", entry, info) for index, entry in enumerate(data))
    return tuple(route for route in routes if route is not None)


def _slo_key_is_valid(where: str, key: str, info: ValidationInfo) -> bool:
    kind, sep, rest = key.partition(":")
    if kind == "severity" and sep and rest not in SEVERITIES:
        refuse(
            info,
            f"{where}: unknown severity {rest!r} (expected one of {', '.join(SEVERITIES)}).",
            E005,
        )
        return False
    if not (sep and rest and kind in {"alert", "severity"}):
        message = f"{where}: unknown key form (expected alert:<id> or severity:<level>)."
        refuse(info, message, E005)
        return False
    return True


def _slo_minutes_are_valid(where: str, minutes: Any, info: ValidationInfo) -> bool:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        refuse(info, f"{where}: expected a number of minutes, got {minutes!r}.", "opsalerts.E002")
        return False
    if not math.isfinite(minutes) or minutes <= 0:
        message = f"{where}: threshold must be greater than 0 minutes, got {minutes}."
        refuse(info, message, "opsalerts.E002")
        return False
    return True


def _parse_slo_thresholds(raw: Any, info: ValidationInfo) -> dict[str, float]:
    name = "OPS_ALERTING_SLO_THRESHOLDS"
    data = _json_value(name, raw, info)
    if data is None:
        return {}
    if not isinstance(data, dict):
        message = f'{name}: expected a JSON object like {{"alert:backlog:stale": 30}}.'
        refuse(info, message, "opsalerts.E004")
        return {}
    thresholds: dict[str, float] = {}
    for key, minutes in data.items():
        where = f"{name}[{key!r}]"
        if _slo_key_is_valid(where, str(key), info) and _slo_minutes_are_valid(
            where, minutes, info
        ):
            thresholds[str(key)] = float(minutes)
    return thresholds


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
