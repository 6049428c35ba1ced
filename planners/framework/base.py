"""``PlannerBase``: the class every planner derives from.

A planner overrides the hooks of ``PlannerHooks`` (``planners.framework.hooks``): *what* to ask
and how to read the answer. ``plan()`` and ``run()`` hand it to the run
(``planners.framework.run``), which owns *how* a run goes, in the order of design.md §1, so every
planner gets the same quotas, fallbacks, telemetry and records. ``FinishedRun`` and
``result_of`` are importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from planners.framework.context import PlannerContext
from planners.framework.hooks import ParamsT, PlannerHooks
from planners.framework.records import FinishedRun
from planners.framework.result import PlannerResult
from planners.framework.run import result_of, run_planner

__all__ = ["FinishedRun", "PlannerBase", "result_of"]


class PlannerBase(PlannerHooks[ParamsT]):
    """Base class of every planner: its class attributes and hooks are ``PlannerHooks``'."""

    def plan(self, context: PlannerContext, params: ParamsT | Mapping[str, Any]) -> PlannerResult:
        """Run the lifecycle and return the result; the execution row is ``result.execution``.

        Never raises for a bad run: bad params, quota breaches, template errors, validation
        failures and permanent agent errors come back as outcomes. A *transient* ``AgentError``
        is re-raised after the failed execution row is stored, so a Celery task can retry; a bug
        in a hook is re-raised the same way. A re-raised exception carries the stored run as
        ``exc.planner_result`` (see ``result_of``). Do not call this inside a transaction you
        roll back on error, or the execution row goes with it.
        """
        run = self.run(context, params)
        with transaction.atomic():
            run.save()
        run.raise_error()
        return run.result

    def run(self, context: PlannerContext, params: ParamsT | Mapping[str, Any]) -> FinishedRun:
        """Run the lifecycle without writing anything: the execution row and the telemetry
        events come back unsaved, to be stored with ``FinishedRun.save()`` in the caller's
        transaction (a pipeline phase stores them with everything else the phase writes, in
        one commit). Never raises for a bad run; an error ``plan()`` would re-raise is kept as
        ``FinishedRun.error``."""
        return run_planner(self, context, params)
