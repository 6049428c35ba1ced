"""The pipeline admin as an operator's tool: every model listed, history read-only, the same
resume and run actions as the console, and links from backlog item to transcripts to execution."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.test import Client
from django.urls import reverse

from planners.models import (
    ActionLogEntry,
    BacklogItem,
    BacklogStatus,
    BacklogTransition,
    CastMember,
    ChapterBlueprint,
    ChapterScene,
    ChapterScroll,
    ChapterSection,
    ContractDriftEvent,
    LoreRequirement,
    PhaseCheckpoint,
    PhaseTranscript,
    Plan,
    PlannerExecution,
    PlanPass,
    Project,
    TelemetryEvent,
)
from tests.factories.console import ConsoleData, add_backlog_items, build_console_data

pytestmark = pytest.mark.django_db

PIPELINE_MODELS = (
    Project,
    Plan,
    CastMember,
    PlanPass,
    ChapterBlueprint,
    ChapterScroll,
    ChapterSection,
    ChapterScene,
    LoreRequirement,
    BacklogItem,
    BacklogTransition,
    ContractDriftEvent,
    PhaseCheckpoint,
    PhaseTranscript,
    PlannerExecution,
    TelemetryEvent,
    ActionLogEntry,
)
HISTORY_MODELS = (
    BacklogTransition,
    ContractDriftEvent,
    PhaseCheckpoint,
    PhaseTranscript,
    PlannerExecution,
    TelemetryEvent,
    ActionLogEntry,
)


@pytest.fixture
def admin_client_(django_user_model: Any) -> Client:
    user = django_user_model.objects.create_superuser(username="ada", password="admin-pass")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def data() -> ConsoleData:
    return build_console_data()


def _url(model: type[Any], view: str, *args: Any) -> str:
    return reverse(f"admin:planners_{model._meta.model_name}_{view}", args=args)


def test_every_pipeline_model_is_registered() -> None:
    missing = [m.__name__ for m in PIPELINE_MODELS if m not in site._registry]
    assert missing == []


def test_every_changelist_and_search_loads(admin_client_: Client, data: ConsoleData) -> None:
    for model in PIPELINE_MODELS:
        response = admin_client_.get(_url(model, "changelist"), {"q": "lantern"})
        assert response.status_code == 200, model.__name__


def test_history_rows_cannot_be_added_changed_or_deleted(
    admin_client_: Client, data: ConsoleData
) -> None:
    for model in HISTORY_MODELS:
        admin = site._registry[model]
        assert not admin.has_add_permission(None)  # type: ignore[arg-type]
        assert not admin.has_change_permission(None)  # type: ignore[arg-type]
        assert not admin.has_delete_permission(None)  # type: ignore[arg-type]
    transcript = data.failed_transcript
    page = admin_client_.get(_url(PhaseTranscript, "change", transcript.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert admin_client_.post(_url(PhaseTranscript, "delete", transcript.pk)).status_code == 403


def test_backlog_item_links_to_its_transcripts_and_executions(
    admin_client_: Client, data: ConsoleData
) -> None:
    content = admin_client_.get(_url(BacklogItem, "changelist")).content.decode()
    transcripts = f"{_url(PhaseTranscript, 'changelist')}?backlog_item__id__exact={data.blocked.pk}"
    assert transcripts in content
    listing = admin_client_.get(transcripts).content.decode()
    assert _url(PlannerExecution, "change", data.failed_run.pk) in listing
    assert f"iterative #{data.failed_run.pk} (blocked)" in listing


def test_admin_resume_action_uses_the_console_rules(
    admin_client_: Client, data: ConsoleData
) -> None:
    response = admin_client_.post(
        _url(BacklogItem, "changelist"),
        {"action": "resume_items", "_selected_action": [data.blocked.pk, data.vision.pk]},
        follow=True,
    )
    content = response.content.decode()
    data.blocked.refresh_from_db()
    data.vision.refresh_from_db()
    assert data.blocked.status != BacklogStatus.BLOCKED
    assert data.blocked.transitions.filter(reason="resume", actor="ada").exists()
    assert data.vision.status == BacklogStatus.COMPLETE
    assert "Resumed 1 item(s)." in content
    assert "already complete" in content


def test_backlog_status_is_read_only_in_the_form(admin_client_: Client, data: ConsoleData) -> None:
    content = admin_client_.get(_url(BacklogItem, "change", data.blocked.pk)).content.decode()
    assert 'name="status"' not in content


@pytest.mark.parametrize("extra_items", [10, 1000])
def test_backlog_changelist_query_count_is_flat(
    admin_client_: Client, data: ConsoleData, django_assert_num_queries: Any, extra_items: int
) -> None:
    add_backlog_items(data.plan, extra_items)
    with django_assert_num_queries(6):
        response = admin_client_.get(_url(BacklogItem, "changelist"))
    assert response.status_code == 200
