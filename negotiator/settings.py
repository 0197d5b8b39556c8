"""Negotiator settings: one module, driven by environment variables.

Unset variables fall back to safe development defaults: a SQLite file and a
filesystem message broker under ``var/`` (the embedded default, no server
needed). A malformed value stops start-up with ImproperlyConfigured naming the
variable, so a typo in production never silently falls back to a default.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# Runtime files of the embedded default (SQLite database, broker folders,
# beat schedule). Tests point this elsewhere to get a clean embedded setup.
VAR_DIR = Path(env_str("NEGOTIATOR_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", True)

_DEV_SECRET = "dev-insecure-0123456789-change-me-with-SECRET_KEY-env-abcdefghijklmnop"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("SECRET_KEY is the development default; set a real secret.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entry {_origin!r} must start with http:// or https://."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "pgtrigger",
    "axes",
    "csp",
    "negotiator",
    "negotiator.a2a",
    "negotiator.llm",
    "approvals",
    "ninja",  # the REST API's OpenAPI docs page serves Swagger UI from static files
    "api",
    "analytics",
    "tenders",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "negotiator.site_pages.ErrorPagesMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "negotiator.urls"
WSGI_APPLICATION = "negotiator.wsgi.application"

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
                "negotiator.context_processors.navigation",
                "approvals.context_processors.inbox",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for bad URLs
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if _db.get("ENGINE") not in {
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    }:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {urlparse(DATABASE_URL).scheme!r} is not supported; "
            "use postgres:// (production) or sqlite:// (embedded)."
        )
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # Statements run this many times on a connection are prepared by the
        # server. Only server-side-binding cursors prepare (the round's reads
        # and writes, negotiator/round_store.py); Django's own cursors bind on
        # the client and never do. 0 turns preparing off (PgBouncer < 1.21 in
        # transaction pooling mode).
        _prepare = env_int("DATABASE_PREPARE_THRESHOLD", 2, minimum=0)
        _db.setdefault("OPTIONS", {})["prepare_threshold"] = _prepare or None
    DATABASES = {"default": _db}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "negotiator.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while the worker writes; the
                # busy timeout and IMMEDIATE transactions make writers queue
                # instead of failing with "database is locked".
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    # First: refuses every attempt while a username + address is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Login throttling (django-axes) --------------------------------------
# LOGIN_FAILURE_LIMIT wrong passwords for one username from one address lock
# that pair out for LOGIN_LOCKOUT_MINUTES; a correct password is refused too
# while locked. Admins unlock in admin (Axes → Access attempts, delete) or with
# `manage.py axes_reset_username <name>`. A successful login resets the count.
AXES_ENABLED = env_bool("LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
NEGOTIATOR_LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=NEGOTIATOR_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "negotiator.views.login_locked_out"
# Behind N reverse proxies the client's address is the Nth from the right of
# X-Forwarded-For; with 0 only REMOTE_ADDR is trusted (otherwise a client could
# claim a new address per attempt).
NEGOTIATOR_LOGIN_PROXY_COUNT = env_int("LOGIN_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "negotiator.views.login_client_address"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production values come from env; see README) --------------
SECURE_HTTPS = env_bool("SECURE_HTTPS", False)
SECURE_SSL_REDIRECT = SECURE_HTTPS
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if SECURE_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HTTPS)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): nothing inline, nothing evaluated, no
# other origin. Scripts are static files (htmx from django-htmx, static/js/app.js);
# colours and progress bars are classes and SVG attributes, not style="…".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Email (console by default; SMTP when EMAIL_URL-style vars are set) ----
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "negotiator@localhost")

# Where people reach this instance (https://negotiator.example.com): links in
# mails sent by workers (approval notices, an outside person's turn notices) are
# built on it. Empty: a link made in a request uses that request's host.
NEGOTIATOR_BASE_URL = env_str("NEGOTIATOR_BASE_URL", "").strip().rstrip("/")
if NEGOTIATOR_BASE_URL and not NEGOTIATOR_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"NEGOTIATOR_BASE_URL={NEGOTIATOR_BASE_URL!r} must start with http:// or https://."
    )

# --- The portal (an outside person's invite link) ------------------------
# Requests a minute one address may make to the portal (wrong links count), and
# one invite link may make; how long a new invite link stays valid.
PORTAL_RATE_PER_ADDRESS = env_int("PORTAL_RATE_PER_ADDRESS", 60, minimum=1)
PORTAL_RATE_PER_LINK = env_int("PORTAL_RATE_PER_LINK", 30, minimum=1)
PORTAL_INVITE_DAYS = env_int("PORTAL_INVITE_DAYS", 30, minimum=1)
if PORTAL_INVITE_DAYS > 366:
    raise ImproperlyConfigured(f"PORTAL_INVITE_DAYS={PORTAL_INVITE_DAYS} must be at most 366.")

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "").strip()
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}

# Hard limit on any task's run time, and the longest countdown any task is
# enqueued with (round pacing). The Redis visibility timeout must exceed both
# together, or Redis redelivers a message that is merely waiting its turn.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90, minimum=1)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT must be larger than CELERY_TASK_SOFT_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT} <= {CELERY_TASK_SOFT_TIME_LIMIT})."
    )
NEGOTIATOR_MAX_COUNTDOWN = 600  # seconds; playbook pace is validated against it
CELERY_VISIBILITY_TIMEOUT = CELERY_TASK_TIME_LIMIT + NEGOTIATOR_MAX_COUNTDOWN + 300

if not CELERY_BROKER_URL:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's exchange tables; its default is "control" in the working
        # directory, which put a control/ folder in the repository root.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    _scheme = urlparse(CELERY_BROKER_URL).scheme
    if _scheme not in {"redis", "rediss", "amqp", "amqps", "pyamqp", "filesystem"}:
        raise ImproperlyConfigured(
            f"CELERY_BROKER_URL scheme {_scheme!r} is not supported; use redis:// or amqp://."
        )
    if _scheme.startswith("redis"):
        CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # tasks write their results to the database
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each
# task unless this is set: a new PostgreSQL connection per round (a backend
# fork, authentication, statements prepared again) doubled a round's time.
# Connections are kept for this many tasks; negotiator.celery closes unusable or
# expired ones around each task, as Django does around each request.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A running negotiation with no progress for this long (beyond its pace) is
# re-enqueued by the sweeper: the cure for lost messages and killed workers.
NEGOTIATOR_SWEEP_AFTER_SECONDS = env_int("NEGOTIATOR_SWEEP_AFTER_SECONDS", 60, minimum=1)
NEGOTIATOR_SWEEP_EVERY_SECONDS = env_int("NEGOTIATOR_SWEEP_EVERY_SECONDS", 30, minimum=1)
# Beat asks a worker to record a heartbeat this often; /healthz reports the
# worker stale (and the instance degraded, 503) when the newest is older than
# the max age (default three periods, so one late beat is not an alarm).
NEGOTIATOR_HEARTBEAT_EVERY_SECONDS = env_int("NEGOTIATOR_HEARTBEAT_EVERY_SECONDS", 30, minimum=1)
NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS = env_int(
    "NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS", 3 * NEGOTIATOR_HEARTBEAT_EVERY_SECONDS, minimum=1
)
if NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS <= NEGOTIATOR_HEARTBEAT_EVERY_SECONDS:
    raise ImproperlyConfigured(
        "NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS must be larger than "
        f"NEGOTIATOR_HEARTBEAT_EVERY_SECONDS ({NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS} <= "
        f"{NEGOTIATOR_HEARTBEAT_EVERY_SECONDS}), or every healthy worker reads as stale."
    )
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "worker-heartbeat": {
        "task": "negotiator.tasks.record_heartbeat",
        "schedule": float(NEGOTIATOR_HEARTBEAT_EVERY_SECONDS),
    },
    "sweep-negotiations": {
        "task": "negotiator.tasks.sweep_negotiations",
        "schedule": float(NEGOTIATOR_SWEEP_EVERY_SECONDS),
    },
    "approvals-process-due": {
        "task": "approvals.tasks.process_due",
        "schedule": 60.0,
    },
    "sweep-tenders": {
        "task": "tenders.tasks.sweep_tenders",
        "schedule": float(NEGOTIATOR_SWEEP_EVERY_SECONDS),
    },
}

# --- A2A: outside agents (negotiator/a2a/) ---------------------------------
# Requests a minute one seat credential may make; more get HTTP 429.
A2A_RATE_PER_MINUTE = env_int("A2A_RATE_PER_MINUTE", 60, minimum=1)
# Hostile until validated: the largest body read, and parts per message.
A2A_MAX_BODY_BYTES = env_int("A2A_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
A2A_MAX_PARTS = env_int("A2A_MAX_PARTS", 4, minimum=1)
# Calling a supplier's agent: one HTTP call's timeout, and how long its card is kept.
A2A_CLIENT_TIMEOUT_SECONDS = env_int("A2A_CLIENT_TIMEOUT_SECONDS", 10, minimum=1)
A2A_CARD_CACHE_SECONDS = env_int("A2A_CARD_CACHE_SECONDS", 300, minimum=0)
# The rate counters and cached cards live in the shared cache (CACHES below,
# under this alias), so every web process and worker sees the same counts.
A2A_CACHE_ALIAS = "a2a"

# --- Language model (negotiator/llm/) -------------------------------------
# An OpenAI-compatible chat-completions endpoint (hosted, or a local llama.cpp
# server, vLLM or Ollama). Without LLM_BASE_URL the LLM-assisted strategy and
# the portal's free-text reading are hidden and nothing calls out.
LLM_BASE_URL = env_str("LLM_BASE_URL", "").strip().rstrip("/")
LLM_MODEL = env_str("LLM_MODEL", "").strip()
LLM_API_KEY = env_str("LLM_API_KEY", "").strip()
if LLM_BASE_URL and not LLM_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"LLM_BASE_URL={LLM_BASE_URL!r} must start with http:// or https:// "
        "(e.g. https://api.openai.com/v1 or http://127.0.0.1:8080/v1)."
    )
if LLM_BASE_URL and not LLM_MODEL:
    raise ImproperlyConfigured("LLM_BASE_URL is set but LLM_MODEL is empty; name the model.")
# One HTTP call's timeout, and how many times a failed call is tried again.
LLM_TIMEOUT_SECONDS = env_int("LLM_TIMEOUT_SECONDS", 20, minimum=1)
LLM_RETRIES = env_int("LLM_RETRIES", 1, minimum=0)
# Tokens (prompt + completion) one negotiation may spend; past it, seats play
# their deterministic moves.
LLM_TOKEN_BUDGET = env_int("LLM_TOKEN_BUDGET", 50_000, minimum=0)
# Full prompts and replies are kept this long for review, then purged (the
# audit trail keeps their hashes).
LLM_RETENTION_DAYS = env_int("LLM_RETENTION_DAYS", 30, minimum=1)
CELERY_BEAT_SCHEDULE["llm-exchanges-purge"] = {
    "task": "negotiator.llm.tasks.exchanges_purge",
    "schedule": 3600.0,
}

# --- Logging --------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not a logging level.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# --- Audit checkpoints (tamper evidence beyond the database) ---------------
# A signed checkpoint records every audit chain's head; it is written outside
# the database so that whoever controls the database cannot cut or rewrite a
# chain unnoticed. The key is an Ed25519 private key (PEM, or base64 of its
# 32-byte seed), inline or in a file; keep it off the database host. Without a
# key, events carry no authentication code and no checkpoints are written (the
# audit pages and `verify_audit` say so; a system check warns when DEBUG=0).
AUDIT_CHECKPOINT_KEY = env_str("AUDIT_CHECKPOINT_KEY", "").strip()
AUDIT_CHECKPOINT_KEY_FILE = env_str("AUDIT_CHECKPOINT_KEY_FILE", "").strip()
if AUDIT_CHECKPOINT_KEY and AUDIT_CHECKPOINT_KEY_FILE:
    raise ImproperlyConfigured("Set AUDIT_CHECKPOINT_KEY or AUDIT_CHECKPOINT_KEY_FILE, not both.")
# One JSON file per checkpoint plus latest.json; put it on storage the database
# administrator cannot write (another host, a WORM bucket mount).
AUDIT_CHECKPOINT_DIR = Path(env_str("AUDIT_CHECKPOINT_DIR", str(VAR_DIR / "checkpoints"))).resolve()
AUDIT_CHECKPOINT_EVERY_SECONDS = env_int("AUDIT_CHECKPOINT_EVERY_SECONDS", 300, minimum=10)
if AUDIT_CHECKPOINT_KEY or AUDIT_CHECKPOINT_KEY_FILE:
    CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
        "task": "negotiator.tasks.audit_checkpoint",
        "schedule": float(AUDIT_CHECKPOINT_EVERY_SECONDS),
    }
# Two database roles (README, "Two database roles"): DATABASE_URL is the
# application's role, which may insert audit events but never update or delete
# them; `manage.py migrate` connects with DATABASE_MIGRATE_URL (the owner of the
# tables) and then grants the application's role what it needs.
DATABASE_MIGRATE_URL = os.environ.get("DATABASE_MIGRATE_URL", "").strip()
if DATABASE_MIGRATE_URL:
    try:
        _migrate_db = dj_database_url.parse(DATABASE_MIGRATE_URL)
    except Exception as exc:
        raise ImproperlyConfigured(f"DATABASE_MIGRATE_URL is not a valid URL: {exc}") from None
    if not IS_POSTGRES or _migrate_db.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_MIGRATE_URL needs PostgreSQL in both DATABASE_URL and DATABASE_MIGRATE_URL."
        )

# --- REST API and webhooks (the api app) -----------------------------------
# Per-token rate limit: at most API_RATE_LIMIT requests in each window of
# API_RATE_WINDOW_SECONDS; over it the API answers 429 with Retry-After. The
# counters live in the cache below, shared by every web process.
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 120, minimum=1)
API_RATE_WINDOW_SECONDS = env_int("API_RATE_WINDOW_SECONDS", 60, minimum=1)
# A shared cache (the outside doors count requests in it for their rate limits):
# CACHE_URL (redis://…), else the Redis broker's server, else (the embedded
# default, no Redis) files under var/cache, which one host's processes share.
CACHE_URL = env_str("CACHE_URL", "").strip()
if not CACHE_URL and urlparse(CELERY_BROKER_URL).scheme.startswith("redis"):
    CACHE_URL = CELERY_BROKER_URL
if CACHE_URL:
    if not urlparse(CACHE_URL).scheme.startswith("redis"):
        raise ImproperlyConfigured(
            f"CACHE_URL scheme {urlparse(CACHE_URL).scheme!r}: use redis://."
        )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "negotiator",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
CACHES[A2A_CACHE_ALIAS] = dict(CACHES["default"])
# Webhooks: deliveries go only to https:// URLs on public addresses unless these
# allow otherwise (a test receiver on 127.0.0.1; never in production: an address
# inside the network would let anyone who may add an endpoint probe it).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# Attempt n+1 waits WEBHOOK_RETRY_BASE_SECONDS * 2**(n-1), at most
# WEBHOOK_RETRY_MAX_SECONDS; after WEBHOOK_MAX_ATTEMPTS the event is failed.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=1)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600, minimum=1)
# Signing secrets are stored encrypted (Fernet) under a key derived from this
# (default: SECRET_KEY); changing it makes stored secrets unreadable, and their
# endpoints fail closed until an admin rotates their secret.
WEBHOOK_SECRET_KEY = env_str("WEBHOOK_SECRET_KEY", "") or SECRET_KEY
CELERY_BEAT_SCHEDULE["webhooks-due"] = {"task": "api.tasks.webhooks_due", "schedule": 30.0}
