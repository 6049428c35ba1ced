"""Rollout evidence carried between deployments: what an import records, and the files it
refuses (another checklist, its own environment, unsigned outside dev, altered, another key,
a waived system check), changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from planners.models import ActionLogEntry
from planners.models.rollout import (
    RolloutChecklist,
    SignOff,
)
from planners.rollouts import actions
from planners.rollouts.evidence import export_evidence
from planners.rollouts.signing import sign_evidence
from tests.factories.rollouts import EVIDENCE_KEY, OTHER_EVIDENCE_KEY, PLANNER, signed_off_dev

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(staff_user: User) -> User:
    return staff_user


@pytest.fixture(autouse=True)
def _evidence_key(settings: Any) -> None:
    settings.ROLLOUT_EVIDENCE_KEY = EVIDENCE_KEY


class _OtherDeployment(Exception):
    """Raised to roll back what "the dev deployment" wrote: its database is not ours."""


def _export_from_dev_deployment(owner: User, settings: Any) -> dict[str, Any]:
    try:
        with transaction.atomic():
            dev = signed_off_dev(owner, settings)
            dev.files_touched = "planners/fiction/vision.py"
            dev.save()
            exported = export_evidence(dev)
            raise _OtherDeployment
    except _OtherDeployment:
        pass
    assert not RolloutChecklist.objects.exists()
    settings.DEPLOY_ENVIRONMENT = "staging"
    return exported


def test_evidence_round_trip_carries_dev_sign_off_to_staging_deployment(
    owner: User,
    settings: Any,
) -> None:
    exported = _export_from_dev_deployment(owner, settings)
    assert (exported["planner"], exported["environment"]) == ("vision", "dev")
    settings.DEPLOY_ENVIRONMENT = "staging"

    imported = actions.import_evidence(exported, actor="importer")

    assert (imported.planner_slug, imported.environment.name) == ("vision", "dev")
    assert imported.imported_from == "dev"
    assert imported.files_touched == "planners/fiction/vision.py"
    record = SignOff.objects.get(checklist=imported)
    assert (record.owner, record.owner_name, record.imported_from) == (None, "olivia", "dev")
    assert record.note == "dev is good."
    docs = imported.items.get(key="docs-updated")
    assert (docs.status, docs.checked_by, docs.checked_via) == ("passed", "olivia", "import")
    assert docs.evidence_text == "Checked by hand."
    seeded = imported.items.get(key="seeder-ran")
    assert (seeded.status, seeded.checked_via) == ("passed", "import")
    assert seeded.evidence_snapshot["environment"] == "dev"
    staging, _ = actions.get_or_create_checklist(PLANNER, "staging")
    assert not any("dev must be signed off" in p for p in actions.sign_off_problems(staging, None))
    assert ActionLogEntry.objects.filter(action="rollout-import", actor="importer").exists()


def test_importing_the_same_evidence_twice_is_refused_once_signed(
    owner: User,
    settings: Any,
) -> None:
    exported = _export_from_dev_deployment(owner, settings)
    settings.DEPLOY_ENVIRONMENT = "staging"
    actions.import_evidence(exported, actor="importer")

    with pytest.raises(actions.EvidenceImportRefused, match="already signed off here"):
        actions.import_evidence(exported, actor="importer")


def test_import_into_the_wrong_checklist_is_refused(owner: User, settings: Any) -> None:
    exported = export_evidence(signed_off_dev(owner, settings))
    staging, _ = actions.get_or_create_checklist(PLANNER, "staging")
    settings.DEPLOY_ENVIRONMENT = "staging"

    with pytest.raises(actions.EvidenceImportRefused, match="cannot go into vision / staging"):
        actions.import_evidence(exported, actor="importer", into=staging)


def test_import_of_this_deployments_own_environment_is_refused(owner: User, settings: Any) -> None:
    exported = export_evidence(signed_off_dev(owner, settings))

    with pytest.raises(actions.EvidenceImportRefused, match="verified here, not imported"):
        actions.import_evidence(exported, actor="importer")


def test_import_rejects_a_file_that_is_not_evidence(settings: Any) -> None:
    settings.DEPLOY_ENVIRONMENT = "staging"
    bad = sign_evidence(
        {"format": "planner-ops.rollout-evidence", "version": 1, "planner": "vision"}
    )

    with pytest.raises(actions.EvidenceImportRefused, match="environment"):
        actions.import_evidence(bad, actor="importer")


def test_unsigned_evidence_is_refused_outside_dev(owner: User, settings: Any) -> None:
    settings.ROLLOUT_EVIDENCE_KEY = ""
    exported = _export_from_dev_deployment(owner, settings)
    assert "signature" not in exported

    with pytest.raises(actions.EvidenceImportRefused, match="Unsigned evidence file"):
        actions.import_evidence(exported, actor="importer")
    assert not RolloutChecklist.objects.exists()


def test_tampered_evidence_is_refused(owner: User, settings: Any) -> None:
    exported = _export_from_dev_deployment(owner, settings)
    exported["sign_off"]["owner_name"] = "mallory"

    with pytest.raises(actions.EvidenceImportRefused, match="Tampered evidence file"):
        actions.import_evidence(exported, actor="importer")
    assert not RolloutChecklist.objects.exists()


def test_evidence_signed_with_another_key_is_refused(owner: User, settings: Any) -> None:
    settings.ROLLOUT_EVIDENCE_KEY = OTHER_EVIDENCE_KEY
    exported = _export_from_dev_deployment(owner, settings)
    settings.ROLLOUT_EVIDENCE_KEY = EVIDENCE_KEY

    with pytest.raises(actions.EvidenceImportRefused, match="Signed with another key"):
        actions.import_evidence(exported, actor="importer")
    assert not RolloutChecklist.objects.exists()


def test_evidence_waiving_a_system_check_is_refused_even_when_signed(
    owner: User, settings: Any
) -> None:
    exported = _export_from_dev_deployment(owner, settings)
    exported.pop("signature")
    for item in exported["items"]:
        if item["key"] == "synthetic-alert":
            item.update(status="waived", waiver_reason="Pager down.")
    settings.DEPLOY_ENVIRONMENT = "dev"
    resigned = sign_evidence(exported)
    settings.DEPLOY_ENVIRONMENT = "staging"

    with pytest.raises(actions.EvidenceImportRefused, match="waives system-verified items"):
        actions.import_evidence(resigned, actor="importer")
    assert not RolloutChecklist.objects.exists()
