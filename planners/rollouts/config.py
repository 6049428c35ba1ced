"""The rollouts settings block: how recent rollout evidence must be."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from cognition.typed_settings import SettingsModel, TypedSettings, refuse

ROLLOUTS_PROBLEM = "planners.E003"


class RolloutSettings(SettingsModel):
    """``ROLLOUT_*``, typed."""

    ack_evidence_max_age_seconds: int = Field(86400, alias="ROLLOUT_ACK_EVIDENCE_MAX_AGE_SECONDS")

    @field_validator("ack_evidence_max_age_seconds", mode="before")
    @classmethod
    def _seconds(cls, raw: Any, info: ValidationInfo) -> int:
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


rollout_settings = TypedSettings(RolloutSettings, code=ROLLOUTS_PROBLEM)
