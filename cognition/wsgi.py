"""The WSGI application; it refuses to start on any configuration problem (exit 1)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from cognition.startup import start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognition.settings")

start()
application = get_wsgi_application()
