"""``GET /api/diagnostics/planner``: the health report as JSON, for staff only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from cognition.actions import revoke_api_tokens
from cognition.api_auth import create_api_token
from cognition.models import ApiToken
from planners.models import BacklogItem, Plan, Project
from tests.factories.backlog import populate_backlog, seed_templates

pytestmark = pytest.mark.django_db

# The health report (16 queries, pinned in test_health_queries.py), the token look-up and the
# Ops alerts by state (silences in force, open alerts, resolved count).
API_QUERIES = 20

URL = "/api/diagnostics/planner"


@pytest.fixture
def token(staff_user: User) -> str:
    return create_api_token(staff_user, name="uptime monitor")[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def writes_during(callable_: Callable[[], object]) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        callable_()
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]


def test_anonymous_request_is_401_json(client: Client) -> None:
    response = client.get(URL)

    assert response.status_code == 401
    assert response.json()["error"] == "authentication_required"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_non_staff_session_is_403_json(client: Client, plain_user: User) -> None:
    client.force_login(plain_user)

    response = client.get(URL)

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_staff_session_gets_the_report(staff_client: Client) -> None:
    seed_templates()

    response = staff_client.get(URL)

    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "healthy"
    assert [a["id"] for a in data["alerts"]] == ["planner:no-executions"]
    assert {p["slug"] for p in data["planners"]} >= {"vision", "scene-weaver"}
    assert response["Cache-Control"] == "no-store"


def test_bearer_token_gets_the_report(client: Client, token: str) -> None:
    response = client.get(URL, headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["status"] in {"healthy", "degraded", "critical"}


def test_revoked_token_is_401(client: Client, token: str) -> None:
    assert client.get(URL, headers=bearer(token)).status_code == 200
    revoke_api_tokens(ApiToken.objects.all(), actor="olivia")

    response = client.get(URL, headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_unknown_or_malformed_token_is_401_even_with_a_staff_session(
    staff_client: Client,
) -> None:
    assert staff_client.get(URL, headers=bearer("pops_not-a-real-token")).status_code == 401
    assert staff_client.get(URL, headers={"Authorization": "Basic b2xpdmlhOnB3"}).status_code == 401


def test_token_of_a_user_who_lost_staff_is_403(
    client: Client, token: str, staff_user: User
) -> None:
    staff_user.is_staff = False
    staff_user.save()

    assert client.get(URL, headers=bearer(token)).status_code == 403


def test_token_of_a_deactivated_user_is_401(client: Client, token: str, staff_user: User) -> None:
    staff_user.is_active = False
    staff_user.save()

    assert client.get(URL, headers=bearer(token)).status_code == 401


def test_reading_with_a_session_writes_nothing(staff_client: Client) -> None:
    populate_backlog(10)

    assert writes_during(lambda: staff_client.get(URL)) == []


def test_bearer_reads_record_last_use_at_most_once_a_minute(client: Client, token: str) -> None:
    first = writes_during(lambda: client.get(URL, headers=bearer(token)))
    second = writes_during(lambda: client.get(URL, headers=bearer(token)))

    assert len(first) == 1
    assert "last_used_at" in first[0]
    assert second == []
    used = ApiToken.objects.get().last_used_at
    assert used is not None

    ApiToken.objects.update(last_used_at=used - timedelta(minutes=2))
    assert len(writes_during(lambda: client.get(URL, headers=bearer(token)))) == 1


def test_plan_parameter_scopes_the_report(staff_client: Client) -> None:
    plan = Plan.objects.create(
        project=Project.objects.create(title="The Salt Road"), name="The Salt Road"
    )
    BacklogItem.objects.create(plan=plan, backlog_id="vision-plan", phase="vision")

    data = staff_client.get(URL, {"plan": plan.pk}).json()

    assert data["plan_id"] == plan.pk
    assert data["backlog"]["total"] == 1


@pytest.mark.parametrize("value", ["abc", "1.5", "1e3"])
def test_non_integer_plan_is_400(staff_client: Client, value: str) -> None:
    response = staff_client.get(URL, {"plan": value})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_plan"


@pytest.mark.parametrize("value", ["999999", "-1", "0", str(2**70)])
def test_unknown_plan_is_404(staff_client: Client, value: str) -> None:
    response = staff_client.get(URL, {"plan": value})

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_plan"


def test_post_is_not_allowed(client: Client, token: str) -> None:
    assert client.post(URL, headers=bearer(token)).status_code == 405


@pytest.mark.parametrize("items", [10, 1000])
def test_api_query_count_does_not_grow_with_the_backlog(
    items: int,
    client: Client,
    token: str,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    populate_backlog(items)
    ApiToken.objects.update(last_used_at=timezone.now())  # no last-use write in this request

    with django_assert_num_queries(API_QUERIES):
        response = client.get(URL, headers=bearer(token))

    assert response.status_code == 200
