"""The JSON-valued Ops alerting settings: ``OPS_ALERTING_ROUTES`` and
``OPS_ALERTING_SLO_THRESHOLDS``. Each entry is judged on its own, so one parse names every bad
entry (``OPS_ALERTING_ROUTES[2].routing_key: ...``)."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import ValidationInfo

from cognition.typed_settings import refuse
from opsalerts.routes import E005, SEVERITIES, Route, parse_route


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


def parse_routes(raw: Any, info: ValidationInfo) -> tuple[Route, ...]:
    name = "OPS_ALERTING_ROUTES"
    data = _json_value(name, raw, info)
    if data is None:
        return ()
    if not isinstance(data, list):
        refuse(info, f"{name}: expected a JSON list of route objects.", "opsalerts.E004")
        return ()
    routes = (parse_route(f"{name}[{index}]", entry, info) for index, entry in enumerate(data))
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


def parse_slo_thresholds(raw: Any, info: ValidationInfo) -> dict[str, float]:
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
