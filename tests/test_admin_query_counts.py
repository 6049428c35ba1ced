"""Every admin changelist costs the same number of queries with a few rows of its kind as with
ten more: a list that loaded a relation per row would grow by ten."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories.admin_records import add_listed_records
from tests.factories.console import build_console_data

pytestmark = pytest.mark.django_db

# Queries per changelist page as a superuser: session and user, the list's count(s), the rows
# (relations joined in), then the filters' and date hierarchy's own look-ups.
CHANGELIST_QUERIES = {
    "cognition.PromptTemplate": 5,
    "cognition.PromptTemplateVersion": 6,
    "cognition.ApiToken": 5,
    "cognition.AgentBackendLimit": 5,
    "cognition.ProcessHeartbeat": 5,
    "planners.Project": 7,
    "planners.Plan": 8,
    "planners.FictionVision": 5,
    "planners.FictionItemTarget": 5,
    "planners.CastMember": 5,
    "planners.PlanPass": 5,
    "planners.ChapterBlueprint": 5,
    "planners.ChapterScroll": 5,
    "planners.ChapterSection": 5,
    "planners.ChapterScene": 5,
    "planners.LoreRequirement": 5,
    "planners.BacklogItem": 6,
    "planners.BacklogTransition": 8,
    "planners.ContractDriftEvent": 7,
    "planners.PhaseCheckpoint": 5,
    "planners.PhaseTranscript": 7,
    "planners.PlannerExecution": 11,
    "planners.TelemetryEvent": 10,
    "planners.ActionLogEntry": 9,
    "planners.Environment": 6,
    "planners.RolloutChecklist": 7,
    "planners.SignOff": 6,
    "opsalerts.Alert": 8,
    "opsalerts.AlertEvent": 9,
    "opsalerts.Delivery": 8,
    "opsalerts.DeliveryAttempt": 6,
    "opsalerts.Silence": 7,
}


def changelist_url(label: str) -> str:
    app_label, model = label.lower().split(".")
    return reverse(f"admin:{app_label}_{model}_changelist")


def changelist_queries(client: Client) -> dict[str, int]:
    counts = {}
    for label in CHANGELIST_QUERIES:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(changelist_url(label))
        assert response.status_code == 200, label
        counts[label] = len(queries.captured_queries)
    return counts


def test_every_changelist_outside_auth_has_a_pinned_query_count() -> None:
    registered = {model._meta.label for model in site._registry}
    assert registered - {"auth.User", "auth.Group"} == set(CHANGELIST_QUERIES)


def test_every_changelist_costs_the_same_queries_at_any_size(admin_client: Client) -> None:
    build_console_data()
    add_listed_records(0, 2)
    changelist_queries(admin_client)  # warm per-process caches (content types)

    assert changelist_queries(admin_client) == CHANGELIST_QUERIES

    add_listed_records(2, 10)

    assert changelist_queries(admin_client) == CHANGELIST_QUERIES
