"""Drop the columns whose data 0007 copied to fiction's own rows (a migration of its own, so
PostgreSQL commits the copy before the tables are altered)."""

from django.db import migrations, models

PROFILE_FIELDS = (
    "logline",
    "author_persona_name",
    "author_persona_summary",
    "author_persona_memories",
    "author_world_notes",
)
VISION_FIELDS = ("author_summary", "book_goals", "open_questions", "world_seeds")
TARGETS = ("blueprint", "scroll", "section", "scene")


class Migration(migrations.Migration):

    dependencies = [
        ("planners", "0007_generic_plans"),
    ]

    operations = [
        *[
            migrations.RemoveField(model_name="project", name=name)
            for name in PROFILE_FIELDS
        ],
        *[migrations.RemoveField(model_name="plan", name=name) for name in VISION_FIELDS],
        *[migrations.RemoveField(model_name="backlogitem", name=name) for name in TARGETS],
        *[migrations.RemoveField(model_name="phasetranscript", name=name) for name in TARGETS],
        migrations.AlterField(
            model_name="backlogitem", name="phase", field=models.CharField(max_length=64)
        ),
        migrations.AlterField(
            model_name="phasecheckpoint", name="phase", field=models.CharField(max_length=64)
        ),
        migrations.AlterField(
            model_name="phasetranscript", name="phase", field=models.CharField(max_length=64)
        ),
    ]
