from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planners.rollouts import checklist_views, item_views, views

app_name = "rollouts"

_checklist = "rollouts/<slug:planner>/<slug:environment>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("rollouts/", views.matrix, name="matrix"),
    path("rollouts/runbook.md", views.runbook_document, name="runbook"),
    path(_checklist, views.checklist, name="checklist"),
    path(f"{_checklist}gate/", views.gate, name="gate"),
    path(f"{_checklist}start/", checklist_views.start, name="start"),
    path(f"{_checklist}verify/", checklist_views.verify, name="verify"),
    path(f"{_checklist}sign-off/", checklist_views.sign_off, name="sign-off"),
    path(f"{_checklist}synthetic-alert/", checklist_views.synthetic_alert, name="synthetic-alert"),
    path(f"{_checklist}notes/", checklist_views.step_notes, name="notes"),
    path(f"{_checklist}step-note.md", views.step_note, name="step-note"),
    path(f"{_checklist}items/<slug:key>/mark/", item_views.mark, name="mark"),
    path(f"{_checklist}items/<slug:key>/evidence/", item_views.attach, name="attach"),
    path(f"{_checklist}items/<slug:key>/file/", views.evidence_file, name="evidence-file"),
]
