"""The rollouts settings block: how recent rollout evidence must be, how long a sign-off is
watched, and the key that signs exported evidence."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from cognition.typed_settings import SettingsModel, TypedSettings, refuse

ROLLOUTS_PROBLEM = "planners.E003"
#: HMAC-SHA256 wants a key at least as long as its output (RFC 2104): 32 bytes.
EVIDENCE_KEY_MIN_CHARS = 32


class RolloutSettings(SettingsModel):
    """``ROLLOUT_*``, typed."""

    ack_evidence_max_age_seconds: int = Field(86400, alias="ROLLOUT_ACK_EVIDENCE_MAX_AGE_SECONDS")
    watch_seconds: int = Field(86400, alias="ROLLOUT_WATCH_SECONDS")
    watch_min_runs: int = Field(3, alias="ROLLOUT_WATCH_MIN_RUNS")
    evidence_key: str = Field("", alias="ROLLOUT_EVIDENCE_KEY", repr=False)

    @field_validator(
        "ack_evidence_max_age_seconds", "watch_seconds", "watch_min_runs", mode="before"
    )
    @classmethod
    def _positive_whole_number(cls, raw: Any, info: ValidationInfo) -> int:
        name = cls.setting_name(str(info.field_name))
        default = cls.model_fields[str(info.field_name)].default
        text = str(raw).strip() if raw is not None else ""
        if text == "":
            return int(default)
        try:
            value = int(text)
        except ValueError:
            refuse(info, f"{name}: expected a whole number, got {text!r}.", ROLLOUTS_PROBLEM)
            return int(default)
        if value < 1:
            refuse(info, f"{name}: must be at least 1, got {value}.", ROLLOUTS_PROBLEM)
            return int(default)
        return value

    @field_validator("evidence_key", mode="before")
    @classmethod
    def _evidence_key(cls, raw: Any, info: ValidationInfo) -> str:
        text = str(raw).strip() if raw is not None else ""
        if text and len(text) < EVIDENCE_KEY_MIN_CHARS:
            refuse(
                info,
                f"ROLLOUT_EVIDENCE_KEY: must be at least {EVIDENCE_KEY_MIN_CHARS} characters, "
                f'got {len(text)} (make one with: python -c "import secrets; '
                'print(secrets.token_urlsafe(32))").',
                ROLLOUTS_PROBLEM,
            )
            return ""
        return text


rollout_settings = TypedSettings(RolloutSettings, code=ROLLOUTS_PROBLEM)
