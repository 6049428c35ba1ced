"""Shared pieces of the browser tests: Chromium launched the same way everywhere, a page logged
in as staff, a live server that a test can stop and start again, and axe-core's verdict."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from axe_playwright_python.base import AXE_SCRIPT
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import sync_playwright

from tests.worker import ROOT, database_url, wait_until

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 20_000
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SERIOUS = ("serious", "critical")


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
    )


@contextmanager
def running_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, for as long as the block runs (a test module's browser)."""
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def session_cookie(user: User, base_url: str) -> dict[str, str]:
    """A logged-in session for ``user``, as the browser cookie for ``base_url``."""
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": base_url}


@contextmanager
def logged_in_page(
    browser: Any,
    base_url: str,
    user: User,
    viewport: dict[str, int] = DESKTOP,
    *,
    with_axe: bool = False,
) -> Iterator[Any]:
    """A page at ``viewport`` with ``user``'s session; fails the test on any script error.
    ``with_axe``: axe-core is in every document the page opens, for ``serious_violations``."""
    context = browser.new_context(viewport=viewport, base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([session_cookie(user, base_url)])
    if with_axe:
        # Sent to the browser once, and run before each document's own scripts, rather than
        # evaluated (all 570 kB of it) into every page after it loads.
        context.add_init_script(script=AXE_SCRIPT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert errors == [], f"the page raised script errors: {errors}"
    finally:
        context.close()


# axe-core reports a violation at its rule's declared impact (its finalizeRuleResult gives each
# check of such a rule the rule's impact), so a rule declared minor or moderate can never report a
# serious or critical violation: it is switched off instead of run and filtered out. Every other
# rule runs as axe.run runs it by default.
AXE_RUN = """impacts => {
  if (typeof axe === "undefined") throw new Error("no axe-core: open the page with_axe=True");
  const ignored = {};
  for (const rule of axe._audit.rules) {
    if (rule.impact && !impacts.includes(rule.impact)) ignored[rule.id] = { enabled: false };
  }
  return axe.run(document, { resultTypes: ["violations"], rules: ignored });
}"""


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands, one line each (the
    page comes from ``logged_in_page(..., with_axe=True)``)."""
    response = page.evaluate(AXE_RUN, list(SERIOUS))
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in response["violations"]
        if v["impact"] in SERIOUS
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ``manage.py runserver`` started ahead of time: the process imports Django, the project and its
# URLconf, then waits for a line on stdin before manage.py runs (and only then opens the port).
RUNSERVER_ON_A_LINE = """
import sys

import django
from django.urls import get_resolver

import manage

django.setup()
get_resolver().url_patterns
sys.stdin.readline()
sys.argv = ["manage.py", "runserver", "--noreload", sys.argv[1]]
manage.main()
"""


class StoppableServer:
    """The console served by ``manage.py runserver`` on 127.0.0.1:<port>, over the test's
    database, in a process of its own: ``stop()`` kills it (its open connections die with it,
    as with a crashed or restarting server) and ``start()`` brings it back on the same port.

    While the server is down, the process that will serve next is already importing the
    project (a second or two on a busy box), so ``start()`` waits only for runserver itself;
    the port stays closed until then, as with any restart. ``close()`` ends both."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / "runserver.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.next_process: subprocess.Popen[bytes] | None = None
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))},
            "DJANGO_SETTINGS_MODULE": "cognition.settings",
            "DATABASE_URL": database_url(),
            "DEBUG": "true",  # runserver serves the static files itself
            "SECRET_KEY": settings.SECRET_KEY,  # the test's session cookie stays valid
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DEMO": "0",
            "PYTHONUNBUFFERED": "1",
        }

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-c", RUNSERVER_ON_A_LINE, f"127.0.0.1:{self.port}"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start(self) -> None:
        assert self.process is None, "the server is already running"
        self.process = self.next_process or self._spawn()
        self.next_process = None
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"serve\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # it has exited already: _ready says why
        wait_until(self._ready, timeout=60, interval=0.2, what="runserver to listen")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"runserver exited: {self.log_path.read_text(errors='replace')}")
        return _port_open(self.port)

    def stop(self) -> None:
        if self.process is None:
            return
        _kill(self.process)
        self.process = None
        self.next_process = self._spawn()

    def close(self) -> None:
        for process in (self.process, self.next_process):
            if process is not None:
                _kill(process)
        self.process = self.next_process = None


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait(timeout=30)
