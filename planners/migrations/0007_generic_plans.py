"""Plans and projects belong to the engine, not to fiction.

* ``FictionProject`` → ``Project`` and ``FictionPlan`` → ``Plan`` (tables renamed, rows kept);
  every plan gets ``pipeline = "fiction"``, the only family there was.
* What only fiction reads moves to fiction's own rows, copied before the old columns go:
  the project's logline and author persona to ``FictionProfile``, the plan's vision fields to
  ``FictionVision``, a backlog item's blueprint/scroll/section/scene to ``FictionItemTarget``.
* A transcript's blueprint/scroll/section/scene links were always also in its metadata
  (``blueprintId``, ``sceneSlug``...); rows that lack them get them before the columns go.
* ``phase`` columns lose their fiction choices: a phase is any registered pipeline's.
"""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 1000
PROFILE_FIELDS = (
    "logline",
    "author_persona_name",
    "author_persona_summary",
    "author_persona_memories",
    "author_world_notes",
)
VISION_FIELDS = ("author_summary", "book_goals", "open_questions", "world_seeds")
TARGETS = ("blueprint", "scroll", "section", "scene")
SLUG_FIELDS = {
    "blueprint": "slug",
    "scroll": "scroll_slug",
    "section": "section_slug",
    "scene": "scene_slug",
}


def _has_any(row, fields):
    return any(getattr(row, name) not in ("", None, [], {}) for name in fields)


def copy_to_family_rows(apps, schema_editor):
    Project = apps.get_model("planners", "Project")
    Plan = apps.get_model("planners", "Plan")
    BacklogItem = apps.get_model("planners", "BacklogItem")
    PhaseTranscript = apps.get_model("planners", "PhaseTranscript")
    FictionProfile = apps.get_model("planners", "FictionProfile")
    FictionVision = apps.get_model("planners", "FictionVision")
    FictionItemTarget = apps.get_model("planners", "FictionItemTarget")

    FictionProfile.objects.bulk_create(
        [
            FictionProfile(project_id=p.pk, **{f: getattr(p, f) for f in PROFILE_FIELDS})
            for p in Project.objects.iterator(chunk_size=BATCH)
            if _has_any(p, PROFILE_FIELDS)
        ],
        batch_size=BATCH,
    )
    FictionVision.objects.bulk_create(
        [
            FictionVision(plan_id=p.pk, **{f: getattr(p, f) for f in VISION_FIELDS})
            for p in Plan.objects.iterator(chunk_size=BATCH)
            if _has_any(p, VISION_FIELDS)
        ],
        batch_size=BATCH,
    )
    targeted = models.Q()
    for name in TARGETS:
        targeted |= models.Q(**{f"{name}__isnull": False})
    FictionItemTarget.objects.bulk_create(
        [
            FictionItemTarget(item_id=i.pk, **{f"{n}_id": getattr(i, f"{n}_id") for n in TARGETS})
            for i in BacklogItem.objects.filter(targeted).iterator(chunk_size=BATCH)
        ],
        batch_size=BATCH,
    )
    changed = []
    for transcript in (
        PhaseTranscript.objects.filter(targeted)
        .select_related(*TARGETS)
        .iterator(chunk_size=BATCH)
    ):
        metadata = dict(transcript.metadata or {})
        for name in TARGETS:
            row = getattr(transcript, name)
            if row is not None and f"{name}Id" not in metadata:
                metadata[f"{name}Id"] = row.pk
                metadata[f"{name}Slug"] = getattr(row, SLUG_FIELDS[name])
        if metadata != transcript.metadata:
            transcript.metadata = metadata
            changed.append(transcript)
        if len(changed) >= BATCH:
            PhaseTranscript.objects.bulk_update(changed, ["metadata"])
            changed = []
    if changed:
        PhaseTranscript.objects.bulk_update(changed, ["metadata"])


def copy_back(apps, schema_editor):
    Project = apps.get_model("planners", "Project")
    Plan = apps.get_model("planners", "Plan")
    BacklogItem = apps.get_model("planners", "BacklogItem")
    FictionProfile = apps.get_model("planners", "FictionProfile")
    FictionVision = apps.get_model("planners", "FictionVision")
    FictionItemTarget = apps.get_model("planners", "FictionItemTarget")
    for profile in FictionProfile.objects.iterator(chunk_size=BATCH):
        Project.objects.filter(pk=profile.project_id).update(
            **{f: getattr(profile, f) for f in PROFILE_FIELDS}
        )
    for vision in FictionVision.objects.iterator(chunk_size=BATCH):
        Plan.objects.filter(pk=vision.plan_id).update(
            **{f: getattr(vision, f) for f in VISION_FIELDS}
        )
    for target in FictionItemTarget.objects.iterator(chunk_size=BATCH):
        BacklogItem.objects.filter(pk=target.item_id).update(
            **{f"{n}_id": getattr(target, f"{n}_id") for n in TARGETS}
        )


class Migration(migrations.Migration):

    dependencies = [
        ("planners", "0006_backlog_counts_index"),
    ]

    operations = [
        migrations.RenameModel("FictionProject", "Project"),
        migrations.RenameModel("FictionPlan", "Plan"),
        migrations.AddField(
            model_name="plan",
            name="pipeline",
            field=models.CharField(default="fiction", max_length=100),
        ),
        migrations.RemoveConstraint(model_name="plan", name="unique_plan_branch"),
        migrations.AddConstraint(
            model_name="plan",
            constraint=models.UniqueConstraint(
                fields=("project", "pipeline", "branch"), name="unique_plan_pipeline_branch"
            ),
        ),
        migrations.CreateModel(
            name="FictionProfile",
            fields=[
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="fiction_profile",
                        serialize=False,
                        to="planners.project",
                    ),
                ),
                ("logline", models.TextField(blank=True)),
                ("author_persona_name", models.CharField(blank=True, max_length=200)),
                ("author_persona_summary", models.TextField(blank=True)),
                ("author_persona_memories", models.TextField(blank=True)),
                ("author_world_notes", models.TextField(blank=True)),
            ],
        ),
        migrations.CreateModel(
            name="FictionVision",
            fields=[
                (
                    "plan",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="fiction_vision",
                        serialize=False,
                        to="planners.plan",
                    ),
                ),
                ("author_summary", models.TextField(blank=True)),
                ("book_goals", models.JSONField(blank=True, default=list)),
                ("open_questions", models.JSONField(blank=True, default=list)),
                ("world_seeds", models.JSONField(blank=True, default=list)),
            ],
        ),
        migrations.CreateModel(
            name="FictionItemTarget",
            fields=[
                (
                    "item",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="fiction_target",
                        serialize=False,
                        to="planners.backlogitem",
                    ),
                ),
                (
                    "blueprint",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="item_targets",
                        to="planners.chapterblueprint",
                    ),
                ),
                (
                    "scroll",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="item_targets",
                        to="planners.chapterscroll",
                    ),
                ),
                (
                    "section",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="item_targets",
                        to="planners.chaptersection",
                    ),
                ),
                (
                    "scene",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="item_targets",
                        to="planners.chapterscene",
                    ),
                ),
            ],
        ),
        migrations.RunPython(copy_to_family_rows, copy_back, elidable=False),
    ]
