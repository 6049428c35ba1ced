"""``manage.py create_api_token USERNAME [--name NAME]``: issue a bearer token for a staff user.

The token is printed once; only its SHA-256 and a short prefix are stored. Revoke it in the
admin (API tokens → "Revoke").
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cognition.api_auth import TokenRefused, create_api_token


class Command(BaseCommand):
    help = "Create an API token for a staff user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The staff user the token acts as.")
        parser.add_argument(
            "--name", default="", help="What the token is for (shown in the admin)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        try:
            token, raw = create_api_token(user, name=options["name"])
        except TokenRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(raw)
        self.stderr.write(
            f"Token {token.prefix}… created for {username}"
            + (f" ({token.name})" if token.name else "")
            + ". It is shown only now; store it somewhere safe. "
            "Use it as: Authorization: Bearer <token>."
        )
