"""Settings for the planner operations console, read from the environment.

Every variable is listed with its default in README.md ("Configuration"). Every bad value is
collected and start-up stops with one line per problem, naming the variable (``cognition.config``).
The settings blocks that are JSON or depend on each other (Ops alerting, critique budgets, quotas,
rollouts) are read raw here and parsed by their typed block (``cognition.typed_settings``).

One module on purpose, a little over 300 lines: every setting Django, Celery and the apps read is
found in this one place.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext

from cognition.config import Environment

# Lets generic Django classes be subscripted at run time (ModelAdmin[Alert], QuerySet[Plan]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
env = Environment()
VAR_DIR = Path(env.text("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEPLOY_ENVIRONMENTS = ("dev", "staging", "production")
DEPLOY_ENVIRONMENT = env.choice("DEPLOY_ENVIRONMENT", "dev", DEPLOY_ENVIRONMENTS)
DEBUG = env.flag("DEBUG", default=DEPLOY_ENVIRONMENT == "dev")
# The build id shown with the package version (console footer, /healthz, rollout evidence).
APP_BUILD = env.text("APP_BUILD").strip()

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = env.text("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        env.refuse("SECRET_KEY: required when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.items("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.items("CSRF_TRUSTED_ORIGINS", [])
# The port `manage.py runconsole` (`make run`) serves on; absolute links follow it unless set.
PORT = env.whole_number("PORT", 8000, minimum=1, maximum=65535)
PUBLIC_BASE_URL = env.url("PUBLIC_BASE_URL", f"http://127.0.0.1:{PORT}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    # {% partialdef %}: a card's pieces live in its template and a view can render one alone.
    "template_partials",
    "cognition",
    "planners",
    "opsalerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the console's CSS and the admin's assets from STATIC_ROOT when DEBUG is off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "cognition.urls"
WSGI_APPLICATION = "cognition.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cognition.context_processors.console",
            ],
            "builtins": ["planners.console.template_filters"],
        },
    },
]

DATABASES = {
    "default": env.database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault(
    "CONN_MAX_AGE", env.whole_number("DATABASE_CONN_MAX_AGE", 60, minimum=0)
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while the other writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    # Write transactions take the write lock when they begin: with many phases in flight (a
    # threads pool) a read transaction upgrading to a write could otherwise fail at once with
    # "database is locked" instead of waiting out the timeout.
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's JIT compiles a plan once its estimated cost is high; the health report's
    # token anti-join (estimated from JSON functions' default row counts) spent ~0.8 s compiling
    # to run ~0.4 s. Short reporting queries gain nothing from it.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")
    # Each process keeps a pool of open connections: a phase gives its connection back while
    # the model thinks and takes one again to record, and a new PostgreSQL connection costs a
    # server process (a fork and its start-up) every time. 0 turns the pool off.
    pool_size = env.whole_number("DATABASE_POOL_SIZE", 16, minimum=0)
    if pool_size:
        DATABASES["default"]["OPTIONS"].setdefault("pool", {"min_size": 1, "max_size": pool_size})
        DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"  # filled by `collectstatic` (runconsole does it when DEBUG is off)
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"

if not DEBUG:
    SESSION_COOKIE_SECURE = env.flag("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env.flag("CSRF_COOKIE_SECURE", True)

LOG_LEVEL = env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "cognition": {"level": LOG_LEVEL},
        "planners": {"level": LOG_LEVEL},
        "opsalerts": {"level": LOG_LEVEL},
    },
}

# --- Celery -----------------------------------------------------------------------------------
# Default: kombu's filesystem transport under var/, so a laptop needs no broker server.
# Redis (redis://...) or RabbitMQ (amqp://...) URLs work unchanged. The filesystem broker's
# address is its folders below; the URL names a host only because kombu warns on every publish
# without one ("No hostname was supplied").
CELERY_BROKER_URL = env.text("CELERY_BROKER_URL", "filesystem://localhost/")
if CELERY_BROKER_URL.split("://", 1)[0] not in {"filesystem", "redis", "rediss", "amqp", "pyamqp"}:
    env.refuse(
        "CELERY_BROKER_URL: expected filesystem://, redis://, rediss:// or amqp://, "
        f"got {CELERY_BROKER_URL!r}."
    )
CELERY_FILESYSTEM_BROKER_DIR = Path(
    env.text("CELERY_FILESYSTEM_BROKER_DIR", str(VAR_DIR / "broker"))
)
# How long a worker on the filesystem broker waits before looking at its folder again once it
# found nothing: each phase handed to the next waits up to this long. kombu's own 1 s made a
# plan's hand-offs the slowest part of a short run; listing a folder ten times a second is cheap.
CELERY_FILESYSTEM_BROKER_POLL_SECONDS = env.number(
    "CELERY_FILESYSTEM_BROKER_POLL_SECONDS", 0.1, minimum=0.01
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_FILESYSTEM_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    # kombu's own, except that a worker never reads a message before it is written in full.
    CELERY_BROKER_TRANSPORT = "cognition.filesystem_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": CELERY_FILESYSTEM_BROKER_POLL_SECONDS,
    }
CELERY_TASK_ALWAYS_EAGER = env.flag("CELERY_TASK_ALWAYS_EAGER", False)
#: Phases wait on the model for seconds to minutes: they run on their own queue, consumed by a
#: worker with a threads pool (many calls in flight per process); everything else (alert
#: evaluation and delivery, sweeps, roll-ups) stays on the default queue's prefork pool.
PHASES_QUEUE = "phases"
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"planners.tasks.run_backlog_item_task": {"queue": PHASES_QUEUE}}
PHASE_WORKER_PROCESSES = env.whole_number("PHASE_WORKER_PROCESSES", 2, minimum=1)
PHASE_WORKER_CONCURRENCY = env.whole_number("PHASE_WORKER_CONCURRENCY", 32, minimum=1)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Workers and beat record that they are alive this often (cognition.liveness); one missed
# for three periods reads as down. Beat wakes at least this often so its record stays fresh.
LIVENESS_INTERVAL_SECONDS = env.whole_number("LIVENESS_INTERVAL_SECONDS", 15, minimum=1)
CELERY_BEAT_SCHEDULER = "cognition.liveness_recording:RecordingScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = LIVENESS_INTERVAL_SECONDS

# --- Agent (LLM) service ----------------------------------------------------------------------
AGENT_BACKEND = env.choice("AGENT_BACKEND", "scripted", ("scripted", "openai"))
OPENAI_BASE_URL = env.url("OPENAI_BASE_URL", "https://api.openai.com/v1")
OPENAI_API_KEY = env.text("OPENAI_API_KEY")
AGENT_MODEL = env.text("AGENT_MODEL", "gpt-4o-mini")
AGENT_TIMEOUT_SECONDS = env.number("AGENT_TIMEOUT_SECONDS", 60.0, minimum=0.1)
AGENT_RETRY_BACKOFF_SECONDS = env.number("AGENT_RETRY_BACKOFF_SECONDS", 1.0, minimum=0)
# Provider limits per agent backend, shared by every worker (cognition.agents.limits): calls in
# flight at once, and requests and tokens per minute (unset: unlimited).
AGENT_MAX_CONCURRENCY = env.whole_number("AGENT_MAX_CONCURRENCY", 64, minimum=1)
AGENT_REQUESTS_PER_MINUTE = env.optional_whole_number("AGENT_REQUESTS_PER_MINUTE", minimum=1)
AGENT_TOKENS_PER_MINUTE = env.optional_whole_number("AGENT_TOKENS_PER_MINUTE", minimum=1)
# Seconds the scripted agent waits before each reply: makes a phase slow enough to watch or to
# kill a worker in the middle of it (tests); 0 in normal use.
SCRIPTED_AGENT_DELAY_SECONDS = env.number("SCRIPTED_AGENT_DELAY_SECONDS", 0.0, minimum=0)
if AGENT_BACKEND == "openai" and not OPENAI_BASE_URL:
    env.refuse("OPENAI_BASE_URL: required when AGENT_BACKEND=openai.")

# --- Planner framework ------------------------------------------------------------------------
# JSON objects: {"default": {...}, "<planner slug>": {...}}; unset keys mean unlimited.
# Critique: {"enabled": bool, "max_total": int, "max_per_step": int, "max_tokens": int}
# Quotas:   {"max_iterations": int, "max_queued_jobs": int, "max_tokens": int}
# Read raw: parsed and validated by planners.framework.limits (a JSON string or a dict).
PLANNER_CRITIQUE = env.text("PLANNER_CRITIQUE", '{"default": {"enabled": false}}')
PLANNER_QUOTAS = env.text("PLANNER_QUOTAS", '{"default": {}}')

# --- Pipeline ---------------------------------------------------------------------------------
PIPELINE_PHASE_TIME_LIMIT_SECONDS = env.whole_number(
    "PIPELINE_PHASE_TIME_LIMIT_SECONDS", 600, minimum=1
)
PIPELINE_HEARTBEAT_SECONDS = env.whole_number("PIPELINE_HEARTBEAT_SECONDS", 15, minimum=1)
# A running phase beats every PIPELINE_HEARTBEAT_SECONDS; four missed beats in a row mean its
# worker is gone, and the sweep (every 30 s) gives the item to another.
BACKLOG_STALE_AFTER_SECONDS = env.whole_number(
    "BACKLOG_STALE_AFTER_SECONDS", 4 * PIPELINE_HEARTBEAT_SECONDS, minimum=1
)
if BACKLOG_STALE_AFTER_SECONDS < 2 * PIPELINE_HEARTBEAT_SECONDS:
    # One late beat would hand a live phase to a second worker.
    env.refuse(
        "BACKLOG_STALE_AFTER_SECONDS: must be at least twice PIPELINE_HEARTBEAT_SECONDS "
        f"({2 * PIPELINE_HEARTBEAT_SECONDS}), got {BACKLOG_STALE_AFTER_SECONDS}."
    )
BACKLOG_SWEEP_INTERVAL_SECONDS = env.whole_number("BACKLOG_SWEEP_INTERVAL_SECONDS", 30, minimum=1)
PIPELINE_MAX_RETRIES = env.whole_number("PIPELINE_MAX_RETRIES", 5, minimum=0)
SCENE_COVERAGE_RATIO = env.number("SCENE_COVERAGE_RATIO", 0.6, minimum=0.0)
# The Scene Weaver's accepted length of a draft, in words (the prompt asks for 900 to 1300).
SCENE_MIN_WORDS = env.whole_number("SCENE_MIN_WORDS", 100, minimum=1)
SCENE_MAX_WORDS = env.whole_number("SCENE_MAX_WORDS", 3000, minimum=1)
if SCENE_MAX_WORDS < SCENE_MIN_WORDS:
    # An empty range would refuse every draft and block every scene.
    env.refuse(
        f"SCENE_MAX_WORDS: must be at least SCENE_MIN_WORDS ({SCENE_MIN_WORDS}), "
        f"got {SCENE_MAX_WORDS}."
    )

# --- Health report ----------------------------------------------------------------------------
HEALTH_STALE_BACKLOG_SECONDS = env.whole_number("HEALTH_STALE_BACKLOG_SECONDS", 7200, minimum=1)
HEALTH_FAILURE_WINDOW_SECONDS = env.whole_number("HEALTH_FAILURE_WINDOW_SECONDS", 86400, minimum=1)
HEALTH_FLAPPING_TRANSITIONS = env.whole_number("HEALTH_FLAPPING_TRANSITIONS", 3, minimum=1)
HEALTH_FLAPPING_WINDOW_SECONDS = env.whole_number(
    "HEALTH_FLAPPING_WINDOW_SECONDS", 86400, minimum=1
)
HEALTH_CONTRACT_DRIFT_WINDOW_SECONDS = env.whole_number(
    "HEALTH_CONTRACT_DRIFT_WINDOW_SECONDS", 86400, minimum=1
)
HEALTH_EVALUATION_INTERVAL_SECONDS = env.whole_number(
    "HEALTH_EVALUATION_INTERVAL_SECONDS", 60, minimum=1
)

# --- Ops alerting (parsed by opsalerts.config) ------------------------------------------------
# Read raw here: the typed block reports every problem at once, with the cross-field rules.
OPS_ALERTING_ENABLED = env.text("OPS_ALERTING_ENABLED", "false")
OPS_ALERTING_WEBHOOK_URL = env.text("OPS_ALERTING_WEBHOOK_URL")
OPS_ALERTING_ROUTING_KEY = env.text("OPS_ALERTING_ROUTING_KEY")
OPS_ALERTING_SOURCE = env.text("OPS_ALERTING_SOURCE", "planner-ops")
OPS_ALERTING_DEBOUNCE_SECONDS = env.text("OPS_ALERTING_DEBOUNCE_SECONDS", "300")
OPS_ALERTING_REPEAT_SECONDS = env.text("OPS_ALERTING_REPEAT_SECONDS", "14400")
OPS_ALERTING_SEVERITY_FILTER = env.text("OPS_ALERTING_SEVERITY_FILTER")
OPS_ALERTING_ROUTES = env.text("OPS_ALERTING_ROUTES")
OPS_ALERTING_SLO_THRESHOLDS = env.text("OPS_ALERTING_SLO_THRESHOLDS")
OPS_ALERTING_SIGNING_SECRET = env.text("OPS_ALERTING_SIGNING_SECRET")
OPS_ALERTING_TIMEOUT_SECONDS = env.text("OPS_ALERTING_TIMEOUT_SECONDS", "10")
OPS_ALERTING_MAX_ATTEMPTS = env.text("OPS_ALERTING_MAX_ATTEMPTS", "5")
OPS_ALERTING_ACK_TTL_SECONDS = env.text("OPS_ALERTING_ACK_TTL_SECONDS", str(7 * 86400))
OPS_ALERTING_CHANNEL = env.text("OPS_ALERTING_CHANNEL", "webhook")
PAGERDUTY_WEBHOOK_SECRET = env.text("PAGERDUTY_WEBHOOK_SECRET")
SLACK_SIGNING_SECRET = env.text("SLACK_SIGNING_SECRET")

# --- Console and rollouts ---------------------------------------------------------------------
CONSOLE_REFRESH_SECONDS = env.whole_number("CONSOLE_REFRESH_SECONDS", 15, minimum=1)
CONSOLE_PAGE_SIZE = env.whole_number("CONSOLE_PAGE_SIZE", 25, minimum=1)
# Parsed by planners.rollouts.config.
ROLLOUT_ACK_EVIDENCE_MAX_AGE_SECONDS = env.text("ROLLOUT_ACK_EVIDENCE_MAX_AGE_SECONDS", "86400")
ROLLOUT_WATCH_SECONDS = env.text("ROLLOUT_WATCH_SECONDS", "86400")
ROLLOUT_WATCH_MIN_RUNS = env.text("ROLLOUT_WATCH_MIN_RUNS", "3")
ROLLOUT_EVIDENCE_KEY = env.text("ROLLOUT_EVIDENCE_KEY")
ROLLOUT_WATCH_RECORD_INTERVAL_SECONDS = 60.0

# --- Bounded history (planners.retention, manage.py prune_history) ---------------------------
# Days each kind of history row is kept; rows still needed (an unfinished plan's, an open
# rollout checklist's evidence, a firing alert's) are kept whatever their age.
RETAIN_TRANSCRIPTS_DAYS = env.whole_number("RETAIN_TRANSCRIPTS_DAYS", 90, minimum=1)
RETAIN_EXECUTIONS_DAYS = env.whole_number("RETAIN_EXECUTIONS_DAYS", 90, minimum=1)
RETAIN_TELEMETRY_EVENTS_DAYS = env.whole_number("RETAIN_TELEMETRY_EVENTS_DAYS", 90, minimum=1)
RETAIN_TRANSITIONS_DAYS = env.whole_number("RETAIN_TRANSITIONS_DAYS", 180, minimum=1)
RETAIN_ALERT_EVENTS_DAYS = env.whole_number("RETAIN_ALERT_EVENTS_DAYS", 180, minimum=1)
RETAIN_DELIVERY_ATTEMPTS_DAYS = env.whole_number("RETAIN_DELIVERY_ATTEMPTS_DAYS", 90, minimum=1)
# Rows per DELETE, and DELETEs per kind per run: a run's work is bounded; the rest waits a day.
RETAIN_BATCH_SIZE = env.whole_number("RETAIN_BATCH_SIZE", 1000, minimum=1)
RETAIN_MAX_BATCHES = env.whole_number("RETAIN_MAX_BATCHES", 1000, minimum=1)

CELERY_BEAT_SCHEDULE = {
    "evaluate-planner-health": {
        "task": "opsalerts.tasks.evaluate_alerts",
        "schedule": float(HEALTH_EVALUATION_INTERVAL_SECONDS),
    },
    "sweep-stale-backlog": {
        "task": "planners.tasks.sweep_stale_backlog",
        "schedule": float(BACKLOG_SWEEP_INTERVAL_SECONDS),
    },
    "deliver-pending-alerts": {
        "task": "opsalerts.tasks.deliver_due_deliveries",
        "schedule": 30.0,
    },
    # Keeps the health report's all-time run totals a read of a small table.
    "roll-up-planner-executions": {
        "task": "planners.tasks.roll_up_executions",
        "schedule": 600.0,
    },
    # Records each ended watch's result; the gate computes it on read too, so it never waits.
    "record-rollout-watches": {
        "task": "planners.rollouts.tasks.record_ended_watches",
        "schedule": ROLLOUT_WATCH_RECORD_INTERVAL_SECONDS,
    },
    "prune-history": {
        "task": "planners.rollouts.tasks.prune_history",
        "schedule": 86400.0,
    },
}

# Every problem above at once, each naming its variable.
env.stop_if_invalid()
