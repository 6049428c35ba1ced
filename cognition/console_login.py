"""The staff login that ``runconsole`` prints on start-up.

Taken from DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD when set; otherwise an ``admin``
user is created once with a random password, kept in ``var/console-login.txt`` (mode 0600) so it
can be shown again on the next start.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model


@dataclass(frozen=True)
class ConsoleLogin:
    username: str
    password: str | None  # None when the user existed and its password is not ours to show
    created: bool


def _credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "console-login.txt"


def ensure_console_login() -> ConsoleLogin:
    user_model = get_user_model()
    username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip() or "admin"
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
    user = user_model.objects.filter(username=username).first()
    if user is None:
        password = password or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        if "DJANGO_SUPERUSER_PASSWORD" not in os.environ:
            path = _credentials_file()
            path.write_text(f"{username}\n{password}\n")
            path.chmod(0o600)
        return ConsoleLogin(username, password, created=True)
    if password:
        return ConsoleLogin(username, password, created=False)
    path = _credentials_file()
    if path.exists():
        saved_user, _, saved_password = path.read_text().partition("\n")
        if saved_user == username:
            return ConsoleLogin(username, saved_password.strip(), created=False)
    return ConsoleLogin(username, None, created=False)
