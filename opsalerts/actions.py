"""The writes of the Ops alerting app, as the edges call them.

Admin actions, views, commands, the console and the rollout checks stay thin and call these;
each lives with its job: ``sync`` (evaluation and the outbox), ``acknowledgement``,
``silences`` and ``drill`` (the synthetic alert). Each is atomic; the outbox rows (``Delivery``)
are written in the same transaction as the alert change that caused them, and the task that
drains the outbox is enqueued only after commit.
"""

from __future__ import annotations

from opsalerts.acknowledgement import acknowledge_alert
from opsalerts.drill import SyntheticResult, resolve_synthetic_alert, trigger_synthetic_alert
from opsalerts.errors import OpsAlertingError
from opsalerts.silences import record_silence, silence_alerts
from opsalerts.sync import evaluate_and_sync

__all__ = [
    "OpsAlertingError",
    "SyntheticResult",
    "acknowledge_alert",
    "evaluate_and_sync",
    "record_silence",
    "resolve_synthetic_alert",
    "silence_alerts",
    "trigger_synthetic_alert",
]
