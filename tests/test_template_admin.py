"""Prompt templates in the admin: versioned edits, history with diff, rollback, immutability,
bad input and the removed-variable warning; and API token revocation."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pydantic import BaseModel

from cognition.actions import add_template_version
from cognition.admin.diff import diff_rows
from cognition.admin.template_form import PromptTemplateForm
from cognition.models import ApiToken, PromptTemplate
from planners.framework.base import PlannerBase
from planners.framework.catalog import catalog
from planners.framework.context import PlannerContext
from planners.framework.metadata import PlannerMetadata, PlannerStep

pytestmark = pytest.mark.django_db

HARBOUR = "planner.toy.harbour"
SEEDED_TEXT = "Map the harbour of {{title}}.\nMention {{season}} tides.\nKeep it short."


class HarbourParams(BaseModel):
    title: str = "Vesper Reach"
    season: str = "spring"


class HarbourPlanner(PlannerBase[HarbourParams]):
    metadata = PlannerMetadata(
        name="Harbour Planner",
        slug="toy-harbour",
        description="Maps harbours for tests.",
        capabilities=("testing",),
        steps=(
            PlannerStep("harbour-map", "Map", "Map the harbour.", HARBOUR, ("title", "season")),
        ),
    )
    params_model = HarbourParams

    def default_prompt(self, step: PlannerStep) -> str:
        return SEEDED_TEXT

    def template_variables(
        self, step: PlannerStep, params: HarbourParams, context: PlannerContext
    ) -> dict[str, str]:
        return {"title": params.title, "season": params.season}


@pytest.fixture
def harbour_planner() -> Iterator[None]:
    with catalog.registered(HarbourPlanner):
        yield


@pytest.fixture
def harbour() -> PromptTemplate:
    template = PromptTemplate.objects.create(name=HARBOUR, description="Map the harbour.")
    add_template_version(template, SEEDED_TEXT, author="seed", note="seeded", source="seeded")
    return template


def change_url(template: PromptTemplate) -> str:
    return reverse("admin:cognition_prompttemplate_change", args=[template.pk])


def versions_url(template: PromptTemplate) -> str:
    return reverse("admin:cognition_prompttemplate_versions", args=[template.pk])


def edit(client: Client, template: PromptTemplate, text: str, **extra: Any) -> Any:
    data = {"description": template.description, "is_active": "on", "text": text, "note": ""}
    data.update(extra)
    return client.post(change_url(template), data)


def versions_of(template: PromptTemplate) -> list[tuple[int, str, str]]:
    return list(template.versions.order_by("number").values_list("number", "source", "author"))


def active_number(template: PromptTemplate) -> int | None:
    template.refresh_from_db()
    return template.active_version.number if template.active_version else None


# -- change list --------------------------------------------------------------------------------


def test_change_list_shows_name_active_version_source_and_last_change(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    response = admin_client.get(reverse("admin:cognition_prompttemplate_changelist"))

    html = response.content.decode()
    assert response.status_code == 200
    assert HARBOUR in html
    assert "v1" in html
    assert "Seeded" in html
    assert "column-last_change" in html
    assert versions_url(harbour) in html


def test_change_list_query_count_does_not_grow_with_templates(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    def make(count: int, start: int) -> None:
        for i in range(start, start + count):
            t = PromptTemplate.objects.create(name=f"planner.toy.t{i}")
            add_template_version(t, f"Prompt {i}", author="seed", source="seeded")

    url = reverse("admin:cognition_prompttemplate_changelist")
    make(2, 0)
    admin_client.get(url)  # warm the session and content types
    with django_assert_max_num_queries(8) as small:
        admin_client.get(url)
    make(6, 2)
    with django_assert_max_num_queries(8) as large:
        admin_client.get(url)
    assert len(small.captured_queries) == len(large.captured_queries)


# -- editing adds versions ----------------------------------------------------------------------


def test_editing_text_adds_an_admin_version_and_activates_it(
    admin_client: Client, harbour: PromptTemplate, harbour_planner: None
) -> None:
    new_text = "Chart the harbour of {{title}} in {{season}}."

    response = edit(admin_client, harbour, new_text, note="tighter wording")

    assert response.status_code == 302
    assert versions_of(harbour) == [(1, "seeded", "seed"), (2, "admin", "admin")]
    v2 = harbour.versions.get(number=2)
    assert (v2.text, v2.note, v2.variables) == (new_text, "tighter wording", ["title", "season"])
    assert active_number(harbour) == 2
    assert harbour.versions.get(number=1).text == SEEDED_TEXT


def test_browser_line_endings_do_not_count_as_an_edit(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    response = edit(
        admin_client, harbour, SEEDED_TEXT.replace("\n", "\r\n"), description="New description"
    )

    assert response.status_code == 302
    assert versions_of(harbour) == [(1, "seeded", "seed")]
    harbour.refresh_from_db()
    assert harbour.description == "New description"


def test_adding_a_template_in_the_admin_creates_version_one(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:cognition_prompttemplate_add"),
        {"name": "planner.toy.new", "description": "", "is_active": "on", "text": "Hello {{x}}"},
    )

    assert response.status_code == 302
    template = PromptTemplate.objects.get(name="planner.toy.new")
    assert versions_of(template) == [(1, "admin", "admin")]
    assert active_number(template) == 1


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   \n  ", "Template text is empty"),
        ("Map {{title}}\x00", "Null characters are not allowed"),
        ("Map {{title}} and {{ season", "malformed placeholder"),
        ("Map {{}} now", "malformed placeholder"),
    ],
)
def test_bad_text_is_a_form_error_and_nothing_is_saved(
    admin_client: Client, harbour: PromptTemplate, text: str, message: str
) -> None:
    response = edit(admin_client, harbour, text)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert versions_of(harbour) == [(1, "seeded", "seed")]


def test_text_that_was_not_utf8_is_refused(admin_client: Client, harbour: PromptTemplate) -> None:
    # A raw body with an encoded lone surrogate, as a misbehaving client could send it.
    body = "description=&is_active=on&note=&text=Map+%7B%7Btitle%7D%7D+%ED%A0%80"
    response = admin_client.post(
        change_url(harbour), body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert "not valid UTF-8" in response.content.decode()
    assert versions_of(harbour) == [(1, "seeded", "seed")]


def test_lone_surrogate_text_is_refused_by_the_form(harbour: PromptTemplate) -> None:
    form = PromptTemplateForm(
        data={"description": "", "is_active": "on", "text": "Map \ud800 {{title}}", "note": ""},
        instance=harbour,
    )

    assert not form.is_valid()
    assert "lone surrogate" in str(form.errors["text"])


def test_unknown_placeholder_is_refused_naming_it_and_the_known_ones(
    admin_client: Client, harbour: PromptTemplate, harbour_planner: None
) -> None:
    response = edit(admin_client, harbour, "Map {{title}} with {{weather}} and {{season}}.")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Unknown placeholder(s) {{weather}}" in html
    assert "{{title}}, {{season}}" in html
    assert versions_of(harbour) == [(1, "seeded", "seed")]


# -- removed-variable warning -------------------------------------------------------------------


def test_removing_a_needed_variable_warns_and_saves_nothing(
    admin_client: Client, harbour: PromptTemplate, harbour_planner: None
) -> None:
    response = edit(admin_client, harbour, "Map the harbour of {{title}}.")

    html = response.content.decode()
    assert response.status_code == 200
    assert "This edit removes {{season}}" in html
    assert "Harbour Planner step harbour-map" in html
    assert 'name="confirm"' in html
    assert versions_of(harbour) == [(1, "seeded", "seed")]


def test_confirmed_removal_of_a_variable_is_saved(
    admin_client: Client, harbour: PromptTemplate, harbour_planner: None
) -> None:
    response = edit(admin_client, harbour, "Map the harbour of {{title}}.", confirm="on")

    assert response.status_code == 302
    assert active_number(harbour) == 2
    assert harbour.versions.get(number=2).variables == ["title"]


# -- history, diff, rollback --------------------------------------------------------------------


def test_version_history_shows_every_version_and_a_diff_of_the_chosen_pair(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    add_template_version(harbour, "Map {{title}}.\nMention {{season}} tides.", author="olivia")
    add_template_version(harbour, "Map {{title}} at dusk.", author="olivia", note="dusk")

    response = admin_client.get(versions_url(harbour), {"old": 1, "new": 2})

    html = response.content.decode()
    assert response.status_code == 200
    for number in (1, 2, 3):
        assert f"v{number}" in html
    assert "(active)" in html
    assert "Comparing v1 → v2" in html
    assert '<tr class="changed">' in html
    assert "Map the harbour of {{title}}." in html
    assert '<tr class="deleted">' in html  # "Keep it short." went away


def test_version_history_defaults_to_previous_versus_active(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    add_template_version(harbour, "Map {{title}}.", author="olivia")

    response = admin_client.get(versions_url(harbour))

    assert "Comparing v1 → v2" in response.content.decode()


def test_version_history_query_count_does_not_grow_with_versions(
    admin_client: Client, harbour: PromptTemplate, django_assert_max_num_queries: Any
) -> None:
    admin_client.get(versions_url(harbour))
    with django_assert_max_num_queries(8) as small:
        admin_client.get(versions_url(harbour))
    for i in range(5):
        add_template_version(harbour, f"Map {{{{title}}}} take {i}.", author="olivia")
    with django_assert_max_num_queries(8) as large:
        admin_client.get(versions_url(harbour))
    assert len(small.captured_queries) == len(large.captured_queries)


def test_diff_of_an_unknown_version_is_not_found(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    assert admin_client.get(versions_url(harbour), {"old": 7}).status_code == 404
    assert admin_client.get(versions_url(harbour), {"old": "x"}).status_code == 404


def test_rollback_activates_an_older_version_without_copying_it(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    add_template_version(harbour, "Map {{title}} at dusk.", author="olivia")
    url = reverse("admin:cognition_prompttemplate_activate", args=[harbour.pk, 1])

    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url)

    assert response.status_code == 302
    assert active_number(harbour) == 1
    assert harbour.versions.count() == 2


def test_staff_without_change_permission_cannot_roll_back(
    client: Client, staff_user: Any, harbour: PromptTemplate
) -> None:
    add_template_version(harbour, "Map {{title}} at dusk.", author="olivia")
    staff_user.user_permissions.add(Permission.objects.get(codename="view_prompttemplate"))
    client.force_login(staff_user)

    assert client.get(versions_url(harbour)).status_code == 200
    url = reverse("admin:cognition_prompttemplate_activate", args=[harbour.pk, 1])
    assert client.post(url).status_code == 403
    assert active_number(harbour) == 2


def test_activate_action_on_the_version_list_rolls_back(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    add_template_version(harbour, "Map {{title}} at dusk.", author="olivia")
    v1 = harbour.versions.get(number=1)

    response = admin_client.post(
        reverse("admin:cognition_prompttemplateversion_changelist"),
        {"action": "activate_version", "_selected_action": [v1.pk]},
    )

    assert response.status_code == 302
    assert active_number(harbour) == 1


# -- immutability -------------------------------------------------------------------------------


def test_versions_cannot_be_changed_added_or_deleted_in_the_admin(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    v1 = harbour.versions.get(number=1)
    change = reverse("admin:cognition_prompttemplateversion_change", args=[v1.pk])

    view = admin_client.get(change)
    post = admin_client.post(change, {"text": "Overwritten"})
    delete = admin_client.post(
        reverse("admin:cognition_prompttemplateversion_delete", args=[v1.pk]), {"post": "yes"}
    )
    add = admin_client.get(reverse("admin:cognition_prompttemplateversion_add"))

    assert view.status_code == 200
    assert 'name="text"' not in view.content.decode()
    assert (post.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    v1.refresh_from_db()
    assert v1.text == SEEDED_TEXT


def test_templates_cannot_be_deleted_in_the_admin(
    admin_client: Client, harbour: PromptTemplate
) -> None:
    url = reverse("admin:cognition_prompttemplate_delete", args=[harbour.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert PromptTemplate.objects.filter(pk=harbour.pk).exists()


def test_diff_rows_pair_changed_lines_and_mark_inserts_and_deletes() -> None:
    rows = diff_rows("a\nb\nc", "a\nB\nc\nd")

    assert [(r.kind, r.old_number, r.new_number) for r in rows] == [
        ("equal", 1, 1),
        ("changed", 2, 2),
        ("equal", 3, 3),
        ("inserted", None, 4),
    ]


# -- API tokens ---------------------------------------------------------------------------------


@pytest.fixture
def tokens(staff_user: Any) -> list[ApiToken]:
    return [
        ApiToken.objects.create(
            user=staff_user, name="ci", prefix="pk_ci01", token_hash=ApiToken.hash_token("ci")
        ),
        ApiToken.objects.create(
            user=staff_user, name="pager", prefix="pk_pg02", token_hash=ApiToken.hash_token("pg")
        ),
    ]


def test_token_list_shows_user_prefix_and_dates_but_not_the_hash(
    admin_client: Client, tokens: list[ApiToken]
) -> None:
    response = admin_client.get(reverse("admin:cognition_apitoken_changelist"))

    html = response.content.decode()
    assert "pk_ci01" in html
    assert "olivia" in html
    assert "column-last_used_at" in html
    assert tokens[0].token_hash not in html


def test_revoke_action_revokes_selected_tokens_once(
    admin_client: Client, tokens: list[ApiToken]
) -> None:
    earlier = timezone.now()
    ApiToken.objects.filter(pk=tokens[1].pk).update(revoked_at=earlier)

    admin_client.post(
        reverse("admin:cognition_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [t.pk for t in tokens]},
    )

    tokens[0].refresh_from_db()
    tokens[1].refresh_from_db()
    assert tokens[0].revoked_at is not None
    assert tokens[1].revoked_at == earlier


@pytest.mark.parametrize(
    "changelist", ["cognition_prompttemplateversion_changelist", "cognition_apitoken_changelist"]
)
def test_version_and_token_lists_take_the_same_queries_at_any_size(
    admin_client: Client,
    staff_user: Any,
    django_assert_max_num_queries: Any,
    changelist: str,
) -> None:
    def grow(start: int, count: int) -> None:
        for i in range(start, start + count):
            t = PromptTemplate.objects.create(name=f"planner.toy.q{i}")
            add_template_version(t, f"Prompt {i}", author="seed", source="seeded")
            add_template_version(t, f"Prompt {i} again", author="olivia")
            ApiToken.objects.create(
                user=staff_user, prefix=f"pk_q{i}", token_hash=ApiToken.hash_token(f"q{i}")
            )

    url = reverse(f"admin:{changelist}")
    grow(0, 1)
    admin_client.get(url)
    with django_assert_max_num_queries(10) as small:
        assert admin_client.get(url).status_code == 200
    grow(1, 5)
    with django_assert_max_num_queries(10) as large:
        admin_client.get(url)
    assert len(small.captured_queries) == len(large.captured_queries)


def test_tokens_cannot_be_created_in_the_admin(admin_client: Client) -> None:
    assert admin_client.get(reverse("admin:cognition_apitoken_add")).status_code == 403


def test_removing_logline_from_the_vision_template_warns(admin_client: Client) -> None:
    from django.core.management import call_command

    call_command("seed_planner_templates", stdout=StringIO())
    vision = PromptTemplate.objects.select_related("active_version").get(
        name="planner.fiction.vision"
    )
    assert vision.active_version is not None
    text = vision.active_version.text.replace("{{logline}}", "")

    response = edit(admin_client, vision, text)

    html = response.content.decode()
    assert response.status_code == 200
    assert "This edit removes {{logline}}" in html
    assert "Vision Planner step vision-plan" in html
    assert vision.versions.count() == 1
