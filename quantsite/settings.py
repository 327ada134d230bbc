"""The one settings module: every value comes from the environment (or an optional .env).

With nothing set it runs embedded: SQLite under var/, Celery tasks run eagerly in-process and
events go through an in-process bus. DATABASE_URL, CELERY_BROKER_URL and REDIS_URL switch to
PostgreSQL and Redis. With DEBUG off, SECRET_KEY and ALLOWED_HOSTS must be given.
"""

from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

import environ

from quantsite.logs import configure_logging
from quantsite.schedules import BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _required_in_production(name: str) -> str:
    value = env.str(name, default="")
    if not DEBUG and not value:
        # One clear line at start, instead of a traceback deep in a request later.
        raise SystemExit(f"configuration error: {name} must be set when DEBUG is off")
    return value


SECRET_KEY = _required_in_production("SECRET_KEY") or "django-insecure-development-only-key-do-not-use"
ALLOWED_HOSTS = [h for h in _required_in_production("ALLOWED_HOSTS").split(",") if h] or [
    "127.0.0.1",
    "localhost",
    "testserver",
]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "quantsite",
    "marketdata",
    "features",
    "strategies",
    "backtests",
    "execution",
    "risk",
    "monitoring",
    "agents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files answered before the rest of the stack (sessions, auth) runs for them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "quantsite.middleware.api_nul_refusal",
    "quantsite.middleware.reads_renewed_on_write",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "quantsite.urls"
WSGI_APPLICATION = "quantsite.wsgi.application"
ASGI_APPLICATION = "quantsite.asgi.application"

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
                "quantsite.console.console",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'quant.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while an eager task writes.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, event bus ----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# No broker configured: tasks run in the calling process, so the embedded mode needs no worker.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL) or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker keeps its database connection from task to task, as a web process does from request to
# request: Django closes it when it is older than CONN_MAX_AGE or broken (quantsite.celery checks
# before every task). Celery's own default is a new connection, and a PostgreSQL backend process
# started, for every task; here it closes them after this many tasks only.
CELERY_DB_REUSE_MAX = 1000
# Redis broker: a task taken by a worker that died before acknowledging it goes back on its queue
# once it is visibility_timeout seconds old (a worker looks at start, then every 100 s or so). A
# task still running past it is delivered a second time, which the tasks take (they are idempotent).
CELERY_BROKER_TRANSPORT_OPTIONS = env.json(
    "CELERY_BROKER_TRANSPORT_OPTIONS", default={"visibility_timeout": 3600}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE

# --- artifacts ------------------------------------------------------------------------------
# Reports, model files and feature caches (quantsite.artifacts): a local folder, or an S3-compatible
# bucket (AWS S3, Cloudflare R2, MinIO) named s3://bucket/prefix, through django-storages. For a
# bucket, AWS_S3_ENDPOINT_URL names any endpoint but AWS's own and boto3 takes the keys from the
# environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), so no key is ever a setting.
ARTIFACT_STORAGE = env.str("ARTIFACT_STORAGE", default=str(VAR_DIR / "artifacts"))
_bucket = urlsplit(ARTIFACT_STORAGE)
if _bucket.scheme == "s3":
    if not _bucket.netloc:
        raise SystemExit(f"configuration error: ARTIFACT_STORAGE {ARTIFACT_STORAGE!r} names no bucket")
    ARTIFACT_STORAGE_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": _bucket.netloc, "location": _bucket.path.strip("/")},
    }
else:
    ARTIFACT_STORAGE_BACKEND = {"BACKEND": "quantsite.artifacts.ArtifactFileStorage"}
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None

# --- market data, brokers -------------------------------------------------------------------
MARKETDATA_PROVIDER = env.str("MARKETDATA_PROVIDER", default="synthetic")
ALPACA_API_KEY = env.str("ALPACA_API_KEY", default="")
ALPACA_API_SECRET = env.str("ALPACA_API_SECRET", default="")
ALPACA_DATA_URL = env.str("ALPACA_DATA_URL", default="") or None
ALPACA_DATA_FEED = env.str("ALPACA_DATA_FEED", default="iex")
# Trading keys: paper and live never share a setting, so a paper key never trades live money and
# a live key is never used for paper.
ALPACA_PAPER_API_KEY = env.str("ALPACA_PAPER_API_KEY", default="")
ALPACA_PAPER_API_SECRET = env.str("ALPACA_PAPER_API_SECRET", default="")
ALPACA_LIVE_API_KEY = env.str("ALPACA_LIVE_API_KEY", default="")
ALPACA_LIVE_API_SECRET = env.str("ALPACA_LIVE_API_SECRET", default="")
ALPACA_TRADING_URL = env.str("ALPACA_TRADING_URL", default="") or None
IB_HOST = env.str("IB_HOST", default="")
IB_PAPER_PORT = env.int("IB_PAPER_PORT", default=0)
IB_LIVE_PORT = env.int("IB_LIVE_PORT", default=0)
IB_CLIENT_ID = env.int("IB_CLIENT_ID", default=1)
LIVE_TRADING_ENABLED = env.bool("LIVE_TRADING_ENABLED", default=False)
# The sessions the schedule starts for every paper or live version: their broker per mode, and
# the cash of a new paper account.
TRADING_BROKERS = {
    "paper": env.str("PAPER_BROKER", default="simulated"),
    "live": env.str("LIVE_BROKER", default="alpaca"),
}
TRADING_CAPITAL = env.str("TRADING_CAPITAL", default="100000")
# A running session beats this often; one silent for TRADING_SESSION_LOST_SECONDS is lost.
TRADING_SESSION_BEAT_SECONDS = env.float("TRADING_SESSION_BEAT_SECONDS", default=15.0)
TRADING_SESSION_LOST_SECONDS = env.float("TRADING_SESSION_LOST_SECONDS", default=90.0)

# --- monitoring -----------------------------------------------------------------------------
# The channels each alert severity goes to (monitoring.channels: slack, webhook, email); a channel
# whose settings are empty is left out.
ALERT_CHANNELS = env.json(
    "ALERT_CHANNELS",
    default={"info": [], "warning": ["slack", "webhook"], "critical": ["slack", "webhook", "email"]},
)
SLACK_WEBHOOK_URL = env.str("SLACK_WEBHOOK_URL", default="")
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ALERT_EMAIL_FROM = env.str("ALERT_EMAIL_FROM", default="")
ALERT_CHANNEL_TIMEOUT_SECONDS = env.float("ALERT_CHANNEL_TIMEOUT_SECONDS", default=5.0)
# A channel that failed is tried again by the schedule, up to this many attempts in all.
ALERT_DELIVERY_MAX_ATTEMPTS = env.int("ALERT_DELIVERY_MAX_ATTEMPTS", default=10)
DAILY_SUMMARY_CHANNELS = env.list("DAILY_SUMMARY_CHANNELS", default=["slack", "webhook", "email"])
# Metric snapshots older than this are pruned; Sharpe and Sortino roll over this many days.
METRICS_RETENTION_DAYS = env.int("METRICS_RETENTION_DAYS", default=90)
METRICS_ROLLING_DAYS = env.int("METRICS_ROLLING_DAYS", default=90)
# After a trading session's bar with fills: a snapshot of its mode's accounts, at most this often.
METRICS_AFTER_FILLS_SECONDS = env.float("METRICS_AFTER_FILLS_SECONDS", default=60.0)
# RISK_REFUSALS_ALERT orders refused by the risk manager for one strategy version within
# RISK_REFUSALS_WINDOW_MINUTES raise an alert.
RISK_REFUSALS_ALERT = env.int("RISK_REFUSALS_ALERT", default=10)
RISK_REFUSALS_WINDOW_MINUTES = env.int("RISK_REFUSALS_WINDOW_MINUTES", default=60)
# A Celery worker silent this long is missing (an alert); beat with no schedule run this long is down.
WORKER_MISSING_SECONDS = env.float("WORKER_MISSING_SECONDS", default=300.0)
BEAT_STALE_SECONDS = env.float("BEAT_STALE_SECONDS", default=600.0)
# The health check's call to each configured broker (get_account) waits this long at most.
BROKER_HEALTH_TIMEOUT_SECONDS = env.float("BROKER_HEALTH_TIMEOUT_SECONDS", default=5.0)
# Django's mail backend (the email channel): smtp://user:password@host:587 (+tls), consolemail://...
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="quant-platform@localhost")

# --- research -------------------------------------------------------------------------------
# The feature sets that can be named (a name is configs/features/<name>.yaml).
FEATURE_SETS_DIR = Path(env.str("FEATURE_SETS_DIR", default=str(BASE_DIR / "configs" / "features")))
# Parameter sets per walk-forward job (one Celery task): a window's sets are split into jobs of
# this many, and so are the whole span's. Smaller jobs spread wider over the workers and lose less
# to a dead one; each job costs a task and a transaction (tens of milliseconds, about what a
# hundred sets of daily bars take on the compiled path).
WALK_FORWARD_CHUNK_SIZE = env.int("WALK_FORWARD_CHUNK_SIZE", default=200)
# A running walk-forward with no job done for this long has its missing jobs sent again.
WALK_FORWARD_STALL_SECONDS = env.int("WALK_FORWARD_STALL_SECONDS", default=900)

# --- agents --------------------------------------------------------------------------------
# Each entry of an agent's memory (agents.memory: Redis when REDIS_URL is set) lives this long.
AGENT_MEMORY_TTL_SECONDS = env.int("AGENT_MEMORY_TTL_SECONDS", default=86400)

# --- auth, API ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    # Token first: an unauthenticated request then gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # JSON in: a request body is a JSON document (the browsable API still renders for a browser).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # By role (quantsite.roles): reading needs viewer, writing operator; views that need more say so.
    "DEFAULT_PERMISSION_CLASSES": ["quantsite.permissions.OperatorWrites"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "quantsite.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    # Writes per user and unauthenticated requests per address; authenticated reads are never
    # throttled. "60/min", "1000/hour", ...
    "DEFAULT_THROTTLE_CLASSES": [
        "quantsite.throttles.WriteRateThrottle",
        "quantsite.throttles.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "writes": env.str("API_THROTTLE_WRITES", default="60/min"),
        "anon": env.str("API_THROTTLE_ANON", default="30/min"),
        # Agent tool calls per user and agent (agents.throttles), through the API and the MCP server.
        "agent_tools": env.str("AGENT_TOOLS_THROTTLE", default="120/min"),
    },
    # The proxies in front of the web tier: the client's address is that many from the end of
    # X-Forwarded-For (0: the connection's own address, which a client cannot forge).
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
    "DEFAULT_SCHEMA_CLASS": "quantsite.schema.QuantAutoSchema",
    "EXCEPTION_HANDLER": "quantsite.errors.api_exception_handler",
}
# The polled reads (metrics summary, positions) answered from a shared cache for this long; a
# write through the web tier renews them at once (quantsite.read_cache; 0: off).
API_READ_CACHE_SECONDS = env.float("API_READ_CACHE_SECONDS", default=1.0)
SPECTACULAR_SETTINGS = {
    "TITLE": "Quant platform API",
    "DESCRIPTION": "Market data, research runs, strategies, risk controls and execution.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["quantsite.permissions.ViewerReads"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Operations are tagged by the path's first part after it: strategies, positions, controls, ...
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Choice sets whose field name ("status") other components use with other values.
    "ENUM_NAME_OVERRIDES": {
        "RunKindEnum": "backtests.choices.RunKind",
        "ApprovalKindEnum": "strategies.choices.ApprovalKind",
        "TradingStateEnum": "risk.models.TRADING_STATE_CHOICES",
        "RiskPolicySourceEnum": ["version", "global", "default"],
        "RunSourceEnum": "backtests.choices.DataSource",
        "BacktestRunStatusEnum": "backtests.choices.RunStatus",
        "ModelStatusEnum": "strategies.choices.ModelStatus",
        "HealthStatusEnum": "monitoring.choices.HealthStatus",
    },
}

# --- i18n, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # With DEBUG off, static files get content-hashed names and gzip copies (collectstatic makes them:
    # the Dockerfile and `make up` run it) and whitenoise serves them with far-future cache headers;
    # while developing they are served as they are, straight from the apps and STATICFILES_DIRS.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
    "artifacts": ARTIFACT_STORAGE_BACKEND,
}
# The console's own files, and plotly.js as the plotly package ships it (no CDN).
STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(find_spec("plotly").origin).parent / "package_data")]

# --- security (production values whenever DEBUG is off) -------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Liveness probes (a container's healthcheck, a load balancer) ask over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- logging --------------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = configure_logging(fmt=LOG_FORMAT, level=LOG_LEVEL)
