"""Rollout checklists: built from the runbook, item rules, sign-off rules, immutability, and
evidence carried between deployments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction

from planners.models import ActionLogEntry, PlannerExecution, PlannerOutcome
from planners.models.rollout import (
    ChecklistItem,
    Environment,
    ItemStatus,
    RolloutChecklist,
    RolloutWatch,
    SignOff,
    SignOffImmutable,
)
from planners.rollouts import actions, runbook
from planners.rollouts.watch import WatchState, record_ended_watches, watch_state
from tests.factories.rollouts import (
    EVIDENCE_KEY,
    PLANNER,
    make_live_evidence,
    pass_manual_items,
    pass_watch,
    run_vision_scripted,
    signed_off_dev,
    verified_checklist,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 26)


@pytest.fixture
def owner(staff_user: User) -> User:
    return staff_user


@pytest.fixture(autouse=True)
def _evidence_key(settings: Any) -> None:
    settings.ROLLOUT_EVIDENCE_KEY = EVIDENCE_KEY


def test_environments_run_dev_staging_production_in_order() -> None:
    assert [e.name for e in actions.ensure_environments()] == ["dev", "staging", "production"]


def test_checklist_items_come_from_the_runbook(owner: User) -> None:
    checklist, created = actions.get_or_create_checklist(PLANNER, "dev", actor="olivia")

    assert created
    items = list(checklist.items.all())
    assert [i.key for i in items] == [i.key for i in runbook.RUNBOOK_ITEMS]
    sections = {i.section for i in items}
    assert {runbook.QUICK_REFERENCE, runbook.DEPLOY, runbook.DATABASE} <= sections
    assert {runbook.CONFIGURATION, runbook.SMOKE_TESTS, runbook.OPS_VERIFICATION} <= sections
    assert runbook.SIGN_OFF in sections
    by_key = {i.key: i for i in items}
    assert by_key["seeder-ran"].verification == runbook.TEMPLATE_SEEDED
    assert by_key["synthetic-alert"].verification == runbook.SYNTHETIC_ALERT_ACKNOWLEDGED
    assert by_key["legacy-cleanup"].required is False
    assert all(i.status == ItemStatus.PENDING for i in items)
    again, created_again = actions.get_or_create_checklist(PLANNER, "dev")
    assert again.pk == checklist.pk
    assert not created_again


def test_checklist_for_unknown_planner_is_refused() -> None:
    with pytest.raises(LookupError, match="no-such-planner"):
        actions.get_or_create_checklist("no-such-planner", "dev")


def test_system_verified_item_cannot_be_passed_by_hand() -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")
    item = checklist.items.get(key="seeder-ran")

    with pytest.raises(actions.ItemChangeRefused, match="verified by the system"):
        actions.mark_item(item, status=ItemStatus.PASSED, actor="olivia")


def test_waiver_needs_a_reason_in_actions_and_in_the_database() -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")
    item = checklist.items.get(key="docs-updated")

    with pytest.raises(actions.ItemChangeRefused, match="needs a reason"):
        actions.mark_item(item, status=ItemStatus.WAIVED, actor="olivia", waiver_reason="  ")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChecklistItem.objects.filter(pk=item.pk).update(status=ItemStatus.WAIVED)

    actions.mark_item(item, status=ItemStatus.WAIVED, actor="olivia", waiver_reason="No docs.")
    item.refresh_from_db()
    assert (item.status, item.waiver_reason, item.checked_by) == ("waived", "No docs.", "olivia")
    assert item.checked_at is not None


def test_sign_off_refused_while_required_items_are_missing(owner: User) -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")
    pass_manual_items(checklist)

    with pytest.raises(actions.SignOffRefused) as refused:
        actions.sign_off(checklist, owner=owner, deployment_date=TODAY)

    message = str(refused.value)
    assert "required items not passed or waived" in message
    assert "waived: Prompt template seeded and available in tests, " in message
    assert not SignOff.objects.exists()


def test_dev_sign_off_succeeds_once_every_required_item_is_done(owner: User, settings: Any) -> None:
    make_live_evidence(settings)
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")
    pass_manual_items(checklist)
    run = actions.verify_checklist(checklist, actor="olivia")
    assert run.passed, {k: r.summary for k, r in run.results.items()}

    record = actions.sign_off(
        checklist, owner=owner, deployment_date=TODAY, note="Vision is live on dev."
    )

    assert (record.owner, record.owner_name, record.deployment_date) == (owner, "olivia", TODAY)
    sign_off_item = checklist.items.get(key=runbook.SIGN_OFF_ITEM_KEY)
    assert sign_off_item.status == ItemStatus.PASSED
    entry = ActionLogEntry.objects.get(action="sign-off")
    assert entry.actor == "olivia"
    assert entry.target == "rollout vision / dev"


def _dev_signed_and_watched(owner: User, settings: Any) -> RolloutChecklist:
    dev = signed_off_dev(owner, settings)
    pass_watch(dev)
    return dev


def test_staging_sign_off_refused_until_dev_is_signed_off_and_its_watch_passed(
    owner: User, settings: Any
) -> None:
    staging = verified_checklist(settings, "staging")
    with pytest.raises(actions.SignOffRefused, match="dev must be signed off for vision"):
        actions.sign_off(staging, owner=owner, deployment_date=TODAY)

    settings.DEPLOY_ENVIRONMENT = "dev"
    dev = signed_off_dev(owner, settings)
    settings.DEPLOY_ENVIRONMENT = "staging"
    with pytest.raises(actions.SignOffRefused, match="dev's watch has not passed for vision"):
        actions.sign_off(staging, owner=owner, deployment_date=TODAY)

    settings.DEPLOY_ENVIRONMENT = "dev"
    pass_watch(dev)
    settings.DEPLOY_ENVIRONMENT = "staging"
    record = actions.sign_off(staging, owner=owner, deployment_date=TODAY)
    assert record.checklist == staging


def test_staging_refuses_sign_off_until_its_own_items_pass(owner: User, settings: Any) -> None:
    _dev_signed_and_watched(owner, settings)
    settings.DEPLOY_ENVIRONMENT = "staging"
    staging, _ = actions.get_or_create_checklist(PLANNER, "staging")

    with pytest.raises(actions.SignOffRefused, match="required items not passed"):
        actions.sign_off(staging, owner=owner, deployment_date=TODAY)


def test_environment_is_signed_off_only_on_its_own_deployment(owner: User, settings: Any) -> None:
    dev = verified_checklist(settings, "dev")
    settings.DEPLOY_ENVIRONMENT = "staging"

    with pytest.raises(actions.SignOffRefused, match="this deployment is staging: sign off dev"):
        actions.sign_off(dev, owner=owner, deployment_date=TODAY)
    assert not SignOff.objects.exists()


def test_system_verified_item_cannot_be_waived() -> None:
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev")
    item = checklist.items.get(key="synthetic-alert")

    with pytest.raises(actions.ItemChangeRefused, match="cannot be waived or marked by hand"):
        actions.mark_item(
            item, status=ItemStatus.WAIVED, actor="olivia", waiver_reason="Pager down."
        )
    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING


def test_signer_cannot_be_the_person_who_waived_an_item(
    owner: User, settings: Any, django_user_model: Any
) -> None:
    checklist = verified_checklist(settings, "dev")
    docs = checklist.items.get(key="docs-updated")
    actions.mark_item(docs, status=ItemStatus.WAIVED, actor="olivia", waiver_reason="No docs.")

    with pytest.raises(actions.SignOffRefused, match="the signer cannot be the person who waived"):
        actions.sign_off(checklist, owner=owner, deployment_date=TODAY)

    rita = django_user_model.objects.create_user("rita", is_staff=True)
    assert actions.sign_off(checklist, owner=rita, deployment_date=TODAY).owner_name == "rita"


def test_sign_off_starts_a_watch_that_needs_enough_healthy_runs(owner: User, settings: Any) -> None:
    settings.ROLLOUT_WATCH_SECONDS = "60"
    dev = signed_off_dev(owner, settings)
    watch = RolloutWatch.objects.get(checklist=dev)
    assert (watch.ends_at - watch.started_at).total_seconds() == 60
    assert watch_state(dev).state == WatchState.WATCHING

    run_vision_scripted()
    ended = watch_state(dev, now=watch.ends_at + dt.timedelta(seconds=1))
    assert ended.state == WatchState.INCONCLUSIVE  # 1 run, 3 needed: never a pass
    assert "at least 3 runs are needed" in ended.explanation


def test_failed_run_during_the_watch_fails_it(owner: User, settings: Any) -> None:
    dev = signed_off_dev(owner, settings)
    watch = RolloutWatch.objects.get(checklist=dev)
    for _ in range(3):
        run_vision_scripted()
    PlannerExecution.objects.filter(finished_at__gte=watch.started_at).filter(
        pk=PlannerExecution.objects.latest("pk").pk
    ).update(outcome=PlannerOutcome.FAILED)

    assert record_ended_watches(now=watch.ends_at + dt.timedelta(seconds=1)) == 1
    watch.refresh_from_db()
    assert (watch.result, watch.runs, watch.failures) == ("failed", 3, 1)
    assert record_ended_watches(now=watch.ends_at + dt.timedelta(seconds=2)) == 0


def test_signer_must_be_allowed_for_the_environment(
    owner: User, settings: Any, django_user_model: Any
) -> None:
    _dev_signed_and_watched(owner, settings)
    staging = Environment.objects.get(name="staging")
    release_managers = Group.objects.create(name="release-managers")
    staging.signer_group = release_managers
    staging.save()
    checklist = verified_checklist(settings, "staging")

    with pytest.raises(actions.SignOffRefused, match="olivia is not allowed to sign off staging"):
        actions.sign_off(checklist, owner=owner, deployment_date=TODAY)

    rita = django_user_model.objects.create_user("rita", is_staff=True)
    rita.groups.add(release_managers)
    assert actions.sign_off(checklist, owner=rita, deployment_date=TODAY).owner_name == "rita"


def test_named_signers_restrict_an_environment(owner: User, django_user_model: Any) -> None:
    dev = Environment.objects.get(name="dev")
    sam = django_user_model.objects.create_user("sam", is_staff=True)
    dev.signers.add(sam)

    assert dev.allows_signer(sam)
    assert not dev.allows_signer(owner)


def test_sign_offs_are_immutable(owner: User, settings: Any) -> None:
    checklist = signed_off_dev(owner, settings)
    record = SignOff.objects.get(checklist=checklist)

    record.note = "rewritten history"
    with pytest.raises(SignOffImmutable):
        record.save()
    with pytest.raises(SignOffImmutable):
        record.delete()
    with pytest.raises(SignOffImmutable):
        SignOff.objects.filter(pk=record.pk).update(note="rewritten")
    with pytest.raises(SignOffImmutable):
        SignOff.objects.all().delete()
    assert SignOff.objects.get(pk=record.pk).note == "dev is good."


def test_signed_off_checklist_no_longer_changes(owner: User, settings: Any) -> None:
    checklist = signed_off_dev(owner, settings)
    item = checklist.items.get(key="docs-updated")

    with pytest.raises(actions.ChecklistLocked):
        actions.mark_item(item, status=ItemStatus.FAILED, actor="olivia")
    with pytest.raises(actions.SignOffRefused, match="already signed off"):
        actions.sign_off(checklist, owner=owner, deployment_date=TODAY)
