"""API tokens: created once by a command, stored hashed, refused to non-staff users."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from cognition.models import ApiToken

pytestmark = pytest.mark.django_db


def test_create_api_token_prints_the_token_once_and_stores_only_its_hash(
    staff_user: User,
) -> None:
    out, err = StringIO(), StringIO()

    call_command("create_api_token", "olivia", "--name", "uptime monitor", stdout=out, stderr=err)

    raw = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert token.user == staff_user
    assert token.name == "uptime monitor"
    assert token.token_hash == ApiToken.hash_token(raw)
    assert raw.startswith(token.prefix)
    assert len(token.prefix) <= 12
    assert raw not in {token.token_hash, token.prefix, token.name}
    assert "shown only now" in err.getvalue()
    assert raw not in err.getvalue()


def test_each_token_is_different(staff_user: User) -> None:
    first, second = StringIO(), StringIO()
    call_command("create_api_token", "olivia", stdout=first, stderr=StringIO())
    call_command("create_api_token", "olivia", stdout=second, stderr=StringIO())

    assert first.getvalue() != second.getvalue()
    assert ApiToken.objects.count() == 2


def test_create_api_token_refuses_a_non_staff_user(plain_user: User) -> None:
    with pytest.raises(CommandError, match="'paul' is not an active staff user"):
        call_command("create_api_token", "paul", stdout=StringIO(), stderr=StringIO())

    assert not ApiToken.objects.exists()


def test_create_api_token_names_an_unknown_user() -> None:
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody", stdout=StringIO(), stderr=StringIO())
