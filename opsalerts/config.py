"""The Ops alerting configuration: parsed from settings into one typed object, and validated.

``cognition/settings.py`` reads the raw ``OPS_ALERTING_*`` strings leniently, so that this module
can report *every* problem at once (a deploy that fails on the first of five mistakes costs five
deploys). The same problem list feeds the system check (``opsalerts.checks``), the Celery worker
and beat start-up guard (``opsalerts.signals``) and ``manage.py check_ops_alerting``.

Signing secret format: the Standard Webhooks form, ``whsec_`` followed by base64 of random bytes
(e.g. ``whsec_`` + ``base64(os.urandom(32))``). Receivers verify with
``standardwebhooks.Webhook(secret).verify(body, headers)`` using the same string.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from standardwebhooks import Webhook

SEVERITIES = ("info", "warning", "error")
MATCH_FORMS = "alert:<id or glob>, severity:<info|warning|error> or default"


@dataclass(frozen=True)
class Problem:
    """One configuration mistake: a system-check id and a message naming the variable."""

    code: str
    message: str


@dataclass(frozen=True)
class Route:
    """A routing rule; ``match`` is ``alert:<id or glob>``, ``severity:<level>`` or ``default``."""

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


@dataclass(frozen=True)
class OpsAlertingConfig:
    enabled: bool
    environment: str
    source: str
    webhook_url: str
    routing_key: str
    debounce_seconds: int
    repeat_seconds: int
    severity_filter: frozenset[str]
    routes: tuple[Route, ...]
    slo_thresholds: dict[str, float] = field(default_factory=dict)
    signing_secret: str = ""
    timeout_seconds: float = 10.0
    max_attempts: int = 5
    ack_ttl_seconds: int = 7 * 86400
    public_base_url: str = ""

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


class _Parser:
    """Collects problems while turning raw setting values into typed ones."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, code: str, message: str) -> None:
        self.problems.append(Problem(code, message))

    def integer(self, name: str, raw: Any, default: int, *, minimum: int, code: str) -> int:
        text = str(raw).strip() if raw is not None else ""
        if text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            self.add("opsalerts.E009", f"{name}: expected a whole number, got {text!r}.")
            return default
        if value < minimum:
            what = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            self.add(code, f"{name}: {what}, got {value}.")
            return default
        return value

    def number(self, name: str, raw: Any, default: float) -> float:
        text = str(raw).strip() if raw is not None else ""
        if text == "":
            return default
        try:
            value = float(text)
        except ValueError:
            self.add("opsalerts.E009", f"{name}: expected a number of seconds, got {text!r}.")
            return default
        if not math.isfinite(value) or value <= 0:
            self.add("opsalerts.E009", f"{name}: must be greater than 0, got {text}.")
            return default
        return value

    def json_value(self, name: str, raw: Any) -> Any:
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            return None
        if not isinstance(raw, str):
            return raw  # already parsed (override_settings in tests, or a Python literal)
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            self.add(
                "opsalerts.E004",
                f"{name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).",
            )
            return None

    def url(self, name: str, value: str) -> str:
        if value and not is_http_url(value):
            self.add(
                "opsalerts.E006", f"{name}: expected an http:// or https:// URL, got {value!r}."
            )
        return value

    def severity_filter(self, raw: Any) -> frozenset[str]:
        name = "OPS_ALERTING_SEVERITY_FILTER"
        if isinstance(raw, list | tuple | set | frozenset):
            parts = [str(p).strip().lower() for p in raw]
        else:
            parts = [p.strip().lower() for p in str(raw or "").split(",")]
        parts = [p for p in parts if p]
        unknown = [p for p in parts if p not in SEVERITIES]
        if unknown:
            self.add(
                "opsalerts.E005",
                f"{name}: unknown severity {', '.join(repr(u) for u in unknown)} "
                f"(expected a comma list of {', '.join(SEVERITIES)}).",
            )
        return frozenset(p for p in parts if p in SEVERITIES)

    def match(self, name: str, value: Any) -> bool:
        if not isinstance(value, str) or not value.strip():
            self.add(
                "opsalerts.E005", f'{name}: missing or empty "match" (expected {MATCH_FORMS}).'
            )
            return False
        if value == "default":
            return True
        kind, sep, rest = value.partition(":")
        if kind == "alert" and sep and rest:
            return True
        if kind == "severity" and sep:
            if rest in SEVERITIES:
                return True
            self.add(
                "opsalerts.E005",
                f"{name}: unknown severity {rest!r} in {value!r} "
                f"(expected one of {', '.join(SEVERITIES)}).",
            )
            return False
        self.add(
            "opsalerts.E005", f"{name}: unknown match form {value!r} (expected {MATCH_FORMS})."
        )
        return False

    def routes(self, raw: Any) -> tuple[Route, ...]:
        name = "OPS_ALERTING_ROUTES"
        data = self.json_value(name, raw)
        if data is None:
            return ()
        if not isinstance(data, list):
            self.add("opsalerts.E004", f"{name}: expected a JSON list of route objects.")
            return ()
        routes: list[Route] = []
        for index, entry in enumerate(data):
            where = f"{name}[{index}]"
            if not isinstance(entry, dict):
                self.add(
                    "opsalerts.E004",
                    f"{where}: expected an object with match, webhook_url and routing_key.",
                )
                continue
            valid = self.match(f"{where}.match", entry.get("match"))
            url = entry.get("webhook_url")
            url = url.strip() if isinstance(url, str) else ""
            if not url:
                self.add("opsalerts.E007", f"{where}.webhook_url: empty; every route needs one.")
                valid = False
            elif not is_http_url(url):
                self.add(
                    "opsalerts.E006",
                    f"{where}.webhook_url: expected an http:// or https:// URL, got {url!r}.",
                )
                valid = False
            key = entry.get("routing_key", "")
            if key is not None and not isinstance(key, str):
                self.add("opsalerts.E004", f"{where}.routing_key: expected a string.")
                valid = False
            if valid:
                routes.append(Route(match=entry["match"], webhook_url=url, routing_key=key or ""))
        return tuple(routes)

    def slo_thresholds(self, raw: Any) -> dict[str, float]:
        name = "OPS_ALERTING_SLO_THRESHOLDS"
        data = self.json_value(name, raw)
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.add(
                "opsalerts.E004",
                f'{name}: expected a JSON object like {{"alert:backlog:stale": 30}}.',
            )
            return {}
        thresholds: dict[str, float] = {}
        for key, minutes in data.items():
            where = f"{name}[{key!r}]"
            kind, sep, rest = str(key).partition(":")
            if kind == "severity" and sep and rest not in SEVERITIES:
                self.add(
                    "opsalerts.E005",
                    f"{where}: unknown severity {rest!r} "
                    f"(expected one of {', '.join(SEVERITIES)}).",
                )
                continue
            if not (sep and rest and kind in {"alert", "severity"}):
                self.add(
                    "opsalerts.E005",
                    f"{where}: unknown key form (expected alert:<id> or severity:<level>).",
                )
                continue
            if isinstance(minutes, bool) or not isinstance(minutes, int | float):
                self.add(
                    "opsalerts.E002", f"{where}: expected a number of minutes, got {minutes!r}."
                )
                continue
            if not math.isfinite(minutes) or minutes <= 0:
                self.add(
                    "opsalerts.E002",
                    f"{where}: threshold must be greater than 0 minutes, got {minutes}.",
                )
                continue
            thresholds[str(key)] = float(minutes)
        return thresholds


def parse_ops_alerting() -> tuple[OpsAlertingConfig, list[Problem]]:
    """The typed configuration (best effort: bad values fall back to defaults) and every problem."""
    p = _Parser()
    enabled = bool(getattr(settings, "OPS_ALERTING_ENABLED", False))
    environment = str(getattr(settings, "DEPLOY_ENVIRONMENT", "dev"))
    webhook_url = p.url(
        "OPS_ALERTING_WEBHOOK_URL", str(getattr(settings, "OPS_ALERTING_WEBHOOK_URL", "")).strip()
    )
    routes = p.routes(getattr(settings, "OPS_ALERTING_ROUTES", ""))
    secret = str(getattr(settings, "OPS_ALERTING_SIGNING_SECRET", "") or "").strip()
    config = OpsAlertingConfig(
        enabled=enabled,
        environment=environment,
        source=str(getattr(settings, "OPS_ALERTING_SOURCE", "") or "planner-ops"),
        webhook_url=webhook_url if is_http_url(webhook_url) else "",
        routing_key=str(getattr(settings, "OPS_ALERTING_ROUTING_KEY", "") or ""),
        debounce_seconds=p.integer(
            "OPS_ALERTING_DEBOUNCE_SECONDS",
            getattr(settings, "OPS_ALERTING_DEBOUNCE_SECONDS", "300"),
            300,
            minimum=0,
            code="opsalerts.E003",
        ),
        repeat_seconds=p.integer(
            "OPS_ALERTING_REPEAT_SECONDS",
            getattr(settings, "OPS_ALERTING_REPEAT_SECONDS", "14400"),
            14400,
            minimum=0,
            code="opsalerts.E003",
        ),
        severity_filter=p.severity_filter(getattr(settings, "OPS_ALERTING_SEVERITY_FILTER", "")),
        routes=routes,
        slo_thresholds=p.slo_thresholds(getattr(settings, "OPS_ALERTING_SLO_THRESHOLDS", "")),
        signing_secret=secret,
        timeout_seconds=p.number(
            "OPS_ALERTING_TIMEOUT_SECONDS",
            getattr(settings, "OPS_ALERTING_TIMEOUT_SECONDS", "10"),
            10.0,
        ),
        max_attempts=p.integer(
            "OPS_ALERTING_MAX_ATTEMPTS",
            getattr(settings, "OPS_ALERTING_MAX_ATTEMPTS", "5"),
            5,
            minimum=1,
            code="opsalerts.E009",
        ),
        ack_ttl_seconds=int(getattr(settings, "OPS_ALERTING_ACK_TTL_SECONDS", 7 * 86400)),
        public_base_url=str(getattr(settings, "PUBLIC_BASE_URL", "")).rstrip("/"),
    )
    if secret:
        try:
            Webhook(secret)
        except Exception:  # binascii.Error, EmptyWebhookSecretError, ...
            p.add(
                "opsalerts.E010",
                "OPS_ALERTING_SIGNING_SECRET: not a Standard Webhooks secret "
                "(expected whsec_ followed by base64 of at least 24 random bytes).",
            )
    if enabled:
        if not webhook_url and not any(r.webhook_url for r in routes):
            p.add(
                "opsalerts.E001",
                "OPS_ALERTING_WEBHOOK_URL: OPS_ALERTING_ENABLED is true but no webhook URL is "
                "configured (set OPS_ALERTING_WEBHOOK_URL or a route in OPS_ALERTING_ROUTES).",
            )
        if environment != "dev" and not secret:
            p.add(
                "opsalerts.E008",
                "OPS_ALERTING_SIGNING_SECRET: required when OPS_ALERTING_ENABLED is true "
                f"outside dev (DEPLOY_ENVIRONMENT={environment}).",
            )
    return config, p.problems


def load_ops_alerting_config() -> OpsAlertingConfig:
    """The typed configuration; check ``validate_ops_alerting()`` for problems."""
    return parse_ops_alerting()[0]


def validate_ops_alerting() -> list[str]:
    """Every problem with the Ops alerting settings, as messages naming the variable."""
    return [problem.message for problem in parse_ops_alerting()[1]]
