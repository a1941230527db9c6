"""Slidecast settings. Every value comes from the environment; see README.md for the list."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from project.database import database_config
from project.env import env_bool, env_float, env_frame_rate, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("SLIDECAST_DATA_DIR", BASE_DIR / "var")

DEBUG = env_bool("SLIDECAST_DEBUG", False)
# "production" requires a secret key and turns on HTTPS-only cookies and HSTS.
ENVIRONMENT = env_str("SLIDECAST_ENV", "development")
if ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured(
        f"SLIDECAST_ENV must be development or production, not {ENVIRONMENT!r}"
    )
PRODUCTION = ENVIRONMENT == "production"


def _secret_key() -> str:
    key = env_str("SLIDECAST_SECRET_KEY")
    if key:
        return key
    if PRODUCTION or env_bool("SLIDECAST_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured(
            "Production needs a secret key: set SLIDECAST_SECRET_KEY (or "
            "SLIDECAST_SECRET_KEY_FILE) to a long random string."
        )
    # A local install gets a random key of its own, kept out of the repository in the data folder.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# The local names stay allowed so container and host healthchecks can reach the app.
ALLOWED_HOSTS = [
    *env_list("SLIDECAST_ALLOWED_HOSTS", []),
    "localhost",
    "127.0.0.1",
    "[::1]",
]
CSRF_TRUSTED_ORIGINS = env_list("SLIDECAST_CSRF_TRUSTED_ORIGINS", [])

# Behind TLS (a proxy that sets X-Forwarded-Proto): secure cookies, redirects, HSTS.
HTTPS = env_bool("SLIDECAST_HTTPS", PRODUCTION)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SLIDECAST_SSL_REDIRECT", True)
    # Health checks come over plain HTTP from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SLIDECAST_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SLIDECAST_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SLIDECAST_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list cannot be undone quickly: the operator decides.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "procrastinate.contrib.django",
    # Serves Swagger UI for /api/docs from its own static files instead of a CDN.
    "ninja",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "jobs.api.envelope.ApiErrorEnvelopeMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": database_config(data_dir=DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "jobs:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# The admin's CSS is served by the app itself, without a collectstatic step on small installs.
WHITENOISE_USE_FINDERS = True

# Files. MEDIA_ROOT is never served by URL: every file goes through a view that checks its owner.
MEDIA_ROOT = env_path("SLIDECAST_MEDIA_ROOT", DATA_DIR / "media")
STORAGE_BACKEND = env_str("SLIDECAST_STORAGE_BACKEND", "filesystem")
if STORAGE_BACKEND == "filesystem":
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
elif STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "jobs.storage_backends.SlidecastS3Storage",
        "OPTIONS": {
            "bucket_name": env_str("SLIDECAST_S3_BUCKET"),
            "endpoint_url": env_str("SLIDECAST_S3_ENDPOINT_URL"),
            "public_endpoint_url": env_str("SLIDECAST_S3_PUBLIC_ENDPOINT_URL"),
            "region_name": env_str("SLIDECAST_S3_REGION"),
            "access_key": env_str("SLIDECAST_S3_ACCESS_KEY_ID"),
            "secret_key": env_str("SLIDECAST_S3_SECRET_ACCESS_KEY"),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env_int("SLIDECAST_S3_URL_EXPIRY_SECONDS", 300, minimum=1),
            "file_overwrite": True,
            "signature_version": "s3v4",
        },
    }
    if not _default_storage["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("SLIDECAST_STORAGE_BACKEND=s3 needs SLIDECAST_S3_BUCKET.")
else:
    raise ImproperlyConfigured(
        f"SLIDECAST_STORAGE_BACKEND must be 'filesystem' or 's3', not {STORAGE_BACKEND!r}"
    )
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

MAX_UPLOAD_MB = env_int("SLIDECAST_MAX_UPLOAD_MB", 100, minimum=1)
# Django spools larger uploads to disk instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# The pipeline (see jobs/pipeline_config.py for how these become media_pipeline options).
SLIDECAST = {
    "MAX_UPLOAD_BYTES": MAX_UPLOAD_MB * 1024 * 1024,
    "MAX_UNCOMPRESSED_BYTES": env_int("SLIDECAST_MAX_UNCOMPRESSED_MB", 500, minimum=1) * 1024**2,
    "MAX_SLIDES": env_int("SLIDECAST_MAX_SLIDES", 200, minimum=1),
    "MAX_ZIP_ENTRIES": env_int("SLIDECAST_MAX_ZIP_ENTRIES", 10_000, minimum=1),
    "MAX_NOTES_CHARS_PER_SLIDE": env_int("SLIDECAST_MAX_NOTES_CHARS_PER_SLIDE", 5_000, minimum=1),
    "MAX_NOTES_CHARS_PER_DECK": env_int("SLIDECAST_MAX_NOTES_CHARS_PER_DECK", 100_000, minimum=1),
    "MAX_NOTES_WORD_CHARS": env_int("SLIDECAST_MAX_NOTES_WORD_CHARS", 100, minimum=1),
    "MAX_IMAGE_MEGAPIXELS": env_int("SLIDECAST_MAX_IMAGE_MEGAPIXELS", 100, minimum=1),
    "MAX_JOB_TEMP_BYTES": env_int("SLIDECAST_MAX_JOB_TEMP_MB", 4096, minimum=1) * 1024**2,
    "RENDER_SANDBOX": env_str("SLIDECAST_RENDER_SANDBOX", "auto"),
    "RENDER_MEMORY_BYTES": env_int("SLIDECAST_RENDER_MEMORY_MB", 2048, minimum=256) * 1024**2,
    "PARTIAL_RESULTS": env_bool("SLIDECAST_PARTIAL_RESULTS", True),
    # Reuse each owner's slide audio, images and keyframes (jobs/narration/content_cache.py).
    "CONTENT_CACHE": env_bool("SLIDECAST_CONTENT_CACHE", True),
    "RENDER_TIMEOUT_SECONDS": env_int("SLIDECAST_RENDER_TIMEOUT_SECONDS", 300, minimum=1),
    "FFMPEG_TIMEOUT_SECONDS": env_int("SLIDECAST_FFMPEG_TIMEOUT_SECONDS", 900, minimum=1),
    # x264 preset of the slides' keyframes, each encoded once (slower: smaller files).
    "X264_PRESET": env_str("SLIDECAST_X264_PRESET", "veryfast"),
    "VIDEO_FPS": env_frame_rate("SLIDECAST_VIDEO_FPS", 25),
    "PIPER_VOICE_DIR": env_str("SLIDECAST_PIPER_VOICE_DIR"),
    # XTTS v2's files (config.json, model.pth, vocab.json), on gpu workers only.
    "XTTS_MODEL_DIR": env_str("SLIDECAST_XTTS_MODEL_DIR"),
    "XTTS_DEVICE": env_str("SLIDECAST_XTTS_DEVICE", "cuda"),
    "WHISPER_MODEL_DIR": env_str("SLIDECAST_WHISPER_MODEL_DIR"),
    # The sentence-embedding model of persona knowledge: a folder holding WordLlama's
    # weights (*.safetensors) and tokenizer (*tokenizer_config.json); empty: the model
    # the `wordllama` package ships.
    "EMBEDDING_MODEL_DIR": env_str("SLIDECAST_EMBEDDING_MODEL_DIR"),
    "KNOWLEDGE_MAX_DOCUMENT_MB": env_int("SLIDECAST_KNOWLEDGE_MAX_DOCUMENT_MB", 25, minimum=1),
    "KNOWLEDGE_MAX_DOCUMENTS": env_int("SLIDECAST_KNOWLEDGE_MAX_DOCUMENTS", 500, minimum=1),
    "KNOWLEDGE_MAX_TEXT_CHARS": env_int(
        "SLIDECAST_KNOWLEDGE_MAX_TEXT_CHARS", 12_000_000, minimum=1
    ),
    "FFMPEG_BINARY": env_str("SLIDECAST_FFMPEG_BINARY"),
    # Media jobs (transcription, previews, transcodes): what an uploaded file may be.
    "MEDIA_MAX_BYTES": env_int("SLIDECAST_MEDIA_MAX_MB", 2048, minimum=1) * 1024**2,
    "MEDIA_MAX_DURATION_SECONDS": env_int(
        "SLIDECAST_MEDIA_MAX_DURATION_SECONDS", 4 * 3600, minimum=1
    ),
    "MEDIA_TIMEOUT_SECONDS": env_int("SLIDECAST_MEDIA_TIMEOUT_SECONDS", 3 * 3600, minimum=1),
    # Transcription: compute type on CPU workers (int8) and on GPU workers (float16).
    "WHISPER_CPU_COMPUTE_TYPE": env_str("SLIDECAST_WHISPER_CPU_COMPUTE_TYPE", "int8"),
    "WHISPER_GPU_COMPUTE_TYPE": env_str("SLIDECAST_WHISPER_GPU_COMPUTE_TYPE", "float16"),
    # GPU work (transcription, encoding) goes to the cpu queue when no worker has served
    # `gpu` for this long; off: it waits for a GPU worker.
    "MEDIA_GPU_FALLBACK": env_bool("SLIDECAST_MEDIA_GPU_FALLBACK", True),
    "MEDIA_GPU_FALLBACK_SECONDS": env_int("SLIDECAST_MEDIA_GPU_FALLBACK_SECONDS", 120, minimum=5),
    # Every finished narration gets a poster, an animated preview and a storyboard.
    "AUTO_PREVIEW": env_bool("SLIDECAST_AUTO_PREVIEW", True),
    "SOFFICE_BINARY": env_str("SLIDECAST_SOFFICE_BINARY", "soffice"),
    "PDFTOPPM_BINARY": env_str("SLIDECAST_PDFTOPPM_BINARY", "pdftoppm"),
    "WORK_DIR": env_str("SLIDECAST_WORK_DIR"),
    "TASK_MAX_ATTEMPTS": env_int("SLIDECAST_TASK_MAX_ATTEMPTS", 3, minimum=1),
    "TASK_RETRY_BASE_SECONDS": env_int("SLIDECAST_TASK_RETRY_BASE_SECONDS", 2, minimum=1),
    "DEFAULT_PADDING_SECONDS": env_float("SLIDECAST_DEFAULT_PADDING_SECONDS", 0.5),
    "DEFAULT_EMPTY_SLIDE_SECONDS": env_float("SLIDECAST_DEFAULT_EMPTY_SLIDE_SECONDS", 3.0),
}

PROCRASTINATE_WORKER_DEFAULTS = {
    "concurrency": env_int("SLIDECAST_WORKER_CONCURRENCY", 2, minimum=1),
    # On SIGTERM, running tasks get this long to finish; past it the worker stops anyway
    # and the stalled-job rescue hands their jobs to another worker.
    "shutdown_graceful_timeout": env_float("SLIDECAST_WORKER_SHUTDOWN_GRACE_SECONDS", 240),
}
WORKER_LIMITS = {
    "MAX_TASKS": env_int("SLIDECAST_WORKER_MAX_TASKS", 0),
    "MAX_MEMORY_MB": env_int("SLIDECAST_WORKER_MAX_MEMORY_MB", 0),
    "TASK_TIME_LIMIT_SECONDS": env_int("SLIDECAST_TASK_TIME_LIMIT_SECONDS", 3600, minimum=1),
    # A task is told this long before its hard limit, so it can stop and clean up itself.
    "TASK_SOFT_LIMIT_MARGIN_SECONDS": env_float(
        "SLIDECAST_TASK_SOFT_LIMIT_MARGIN_SECONDS", 30, minimum=0
    ),
}

# Per task family (jobs.queueing.TASK_FAMILIES): how many of its tasks may run at once on one
# host (SLIDECAST_LIMIT_<FAMILY>_HOST) and across every host (SLIDECAST_LIMIT_<FAMILY>_CLUSTER),
# and after how many of its tasks (SLIDECAST_RECYCLE_<FAMILY>_TASKS) or past how many MB of
# memory after one of them (SLIDECAST_RECYCLE_<FAMILY>_MB) a worker process is replaced.
# 0 means no limit. Recycling is off by default: a worker started by hand would simply end;
# under a supervisor that restarts it (compose.yaml) set the old system's 10 renders / 50
# previews. A task past a full limit waits in its worker, holding one of the worker's
# concurrency places, so a limit only bites below SLIDECAST_WORKER_CONCURRENCY.
_TASK_LIMIT_DEFAULTS = {  # family: (per host, cluster, recycle after tasks)
    # LibreOffice takes a core and hundreds of MB per deck, and its processes grow: the
    # system Slidecast replaced ran 2 at a time and a fresh worker after 10.
    "rendering": (2, 0, 0),
    # Piper is light, and XTTS is bounded by the gpu queue's own workers.
    "narration": (0, 0, 0),
    # ffmpeg muxing a whole deck's video: CPU and disk heavy.
    "assembly": (2, 0, 0),
    # Whisper uses every core for one file: a second at once only takes turns with it.
    "transcription": (1, 0, 0),
    # Short ffmpeg runs (posters, storyboards); the old system recycled after 50 of them.
    "preview": (4, 0, 0),
    # An encoder uses every core it is given: two at once already fill a host.
    "transcode": (2, 0, 0),
    # Parsing documents and embedding their passages: memory grows with the file.
    "ingestion": (2, 0, 0),
}
TASK_LIMITS = {
    family: {
        "HOST": env_int(f"SLIDECAST_LIMIT_{family.upper()}_HOST", host, minimum=0),
        "CLUSTER": env_int(f"SLIDECAST_LIMIT_{family.upper()}_CLUSTER", cluster, minimum=0),
        "RECYCLE_TASKS": env_int(f"SLIDECAST_RECYCLE_{family.upper()}_TASKS", tasks, minimum=0),
        "RECYCLE_MB": env_int(f"SLIDECAST_RECYCLE_{family.upper()}_MB", 0, minimum=0),
    }
    for family, (host, cluster, tasks) in _TASK_LIMIT_DEFAULTS.items()
}

LOG_LEVEL = env_str("SLIDECAST_LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("SLIDECAST_LOG_FORMAT", "json")
PROCRASTINATE_LOG_LEVEL = env_str("SLIDECAST_PROCRASTINATE_LOG_LEVEL", "WARNING")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"SLIDECAST_LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"task_context": {"()": "jobs.log_context.TaskContextFilter"}},
    "formatters": {
        "json": {"()": "jobs.log_context.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["task_context"],
        },
        "procrastinate_console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["task_context"],
            "level": PROCRASTINATE_LOG_LEVEL,
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "slidecast": {"level": LOG_LEVEL},
        "media_pipeline": {"level": LOG_LEVEL},
        "procrastinate": {"level": PROCRASTINATE_LOG_LEVEL},
        # The worker announces its id and queues in an INFO record; the registry listens
        # for it whatever level the console shows.
        "procrastinate.worker": {
            "level": "INFO",
            "handlers": ["procrastinate_console"],
            "propagate": False,
        },
    },
}

# Oversight: the queues workers are expected on, retention, alerts and monitoring.
SLIDECAST_QUEUES = env_list("SLIDECAST_QUEUES", ["cpu", "gpu"])
OVERSIGHT = {
    "STALLED_WORKER_SECONDS": env_int("SLIDECAST_STALLED_WORKER_SECONDS", 60, minimum=5),
    "RESOURCE_SAMPLE_RETENTION_DAYS": env_int("SLIDECAST_RESOURCE_RETENTION_DAYS", 7, minimum=1),
    "QUEUE_RETENTION_DAYS": env_int("SLIDECAST_QUEUE_RETENTION_DAYS", 14, minimum=1),
    "OUTPUT_RETENTION_DAYS": env_int("SLIDECAST_OUTPUT_RETENTION_DAYS", 30, minimum=1),
    "TEMP_MAX_AGE_HOURS": env_int("SLIDECAST_TEMP_MAX_AGE_HOURS", 24, minimum=1),
    "ALERT_LATENCY_SECONDS": env_int("SLIDECAST_ALERT_LATENCY_SECONDS", 300, minimum=1),
    "ALERT_FAILURE_RATE": env_float("SLIDECAST_ALERT_FAILURE_RATE", 0.25),
    "ALERT_MIN_FINISHED": env_int("SLIDECAST_ALERT_MIN_FINISHED", 4, minimum=1),
    "ALERT_WINDOW_MINUTES": env_int("SLIDECAST_ALERT_WINDOW_MINUTES", 15, minimum=1),
    "MONITORING_TOKEN": env_str("SLIDECAST_MONITORING_TOKEN"),
}


def _networks(name: str, default: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(item, strict=False) for item in env_list(name, default)]
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{name} must be comma-separated networks such as 10.0.0.0/8,::1/128: {exc}"
        ) from exc


# Prometheus /metrics (docs/metrics.md): a bearer token, or a request from these networks.
METRICS = {
    "TOKEN": env_str("SLIDECAST_METRICS_TOKEN"),
    "ALLOWED_NETWORKS": _networks(
        "SLIDECAST_METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"]
    ),
}
PROCRASTINATE_ON_APP_READY = "jobs.worker.middleware.install"
# Each domain keeps its tasks in its own package; procrastinate imports them from here.
PROCRASTINATE_IMPORT_PATHS = [
    "jobs.narration.tasks",
    "jobs.integrations.tasks",
    "jobs.operations.tasks",
    "jobs.personas.tasks",
    "jobs.media.tasks",
    "jobs.ads.tasks",
]

# Ads analytics (docs/ads.md explains each threshold).
ADS = {
    # Fatigue: CUSUM on daily rates against the ad's own first days.
    "FATIGUE_MIN_DAY_IMPRESSIONS": env_int("SLIDECAST_FATIGUE_MIN_DAY_IMPRESSIONS", 200, minimum=1),
    "FATIGUE_BASELINE_DAYS": env_int("SLIDECAST_FATIGUE_BASELINE_DAYS", 7, minimum=3),
    "FATIGUE_MIN_DAYS": env_int("SLIDECAST_FATIGUE_MIN_DAYS", 10, minimum=4),
    "FATIGUE_RECENT_DAYS": env_int("SLIDECAST_FATIGUE_RECENT_DAYS", 7, minimum=2),
    "FATIGUE_CUSUM_ALLOWANCE": env_float("SLIDECAST_FATIGUE_CUSUM_K", 0.5),
    "FATIGUE_CUSUM_THRESHOLD": env_float("SLIDECAST_FATIGUE_CUSUM_H", 5.0),
    "FATIGUE_MIN_DROP": env_float("SLIDECAST_FATIGUE_MIN_DROP", 0.15),
    "FATIGUE_MIN_BASELINE_CONVERSIONS": env_int("SLIDECAST_FATIGUE_MIN_CONVERSIONS", 30),
    # Winners: posterior probability of beating the campaign median, with a minimum sample.
    "WINNER_PROBABILITY": env_float("SLIDECAST_WINNER_PROBABILITY", 0.95),
    "WINNER_MIN_IMPRESSIONS": env_int("SLIDECAST_WINNER_MIN_IMPRESSIONS", 1000, minimum=1),
    "WINNER_MIN_CONVERSIONS": env_int("SLIDECAST_WINNER_MIN_CONVERSIONS", 20, minimum=1),
    "WINNER_WINDOW_DAYS": env_int("SLIDECAST_WINNER_WINDOW_DAYS", 30, minimum=1),
    # Budget suggestions: floors and the largest change a day.
    "BUDGET_WINDOW_DAYS": env_int("SLIDECAST_BUDGET_WINDOW_DAYS", 14, minimum=1),
    "BUDGET_FLOOR_SHARE": env_float("SLIDECAST_BUDGET_FLOOR_SHARE", 0.05),
    "BUDGET_MAX_DAILY_CHANGE": env_float("SLIDECAST_BUDGET_MAX_DAILY_CHANGE", 0.2),
    "BUDGET_SAMPLES": env_int("SLIDECAST_BUDGET_SAMPLES", 4000, minimum=100),
    # Snapshot uploads.
    "CSV_MAX_BYTES": env_int("SLIDECAST_ADS_CSV_MAX_MB", 50, minimum=1) * 1024 * 1024,
    "CSV_MAX_ROWS": env_int("SLIDECAST_ADS_CSV_MAX_ROWS", 1_000_000, minimum=1),
    "INGEST_MAX_ROWS": env_int("SLIDECAST_ADS_INGEST_MAX_ROWS", 20_000, minimum=1),
}

# REST API and webhooks.
API = {
    "RATE_LIMIT_PER_MINUTE": env_int("SLIDECAST_API_RATE_LIMIT_PER_MINUTE", 120, minimum=1),
    "PAGE_SIZE_MAX": 100,
}
WEBHOOKS = {
    "ALLOW_PRIVATE_ADDRESSES": env_bool("SLIDECAST_WEBHOOK_ALLOW_PRIVATE", False),
    "TIMEOUT_SECONDS": env_int("SLIDECAST_WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1),
    "MAX_ATTEMPTS": env_int("SLIDECAST_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1),
    "RETRY_BASE_SECONDS": env_int("SLIDECAST_WEBHOOK_RETRY_BASE_SECONDS", 4, minimum=1),
    "TOLERANCE_SECONDS": 300,
    # Per source: "hubspot=secret,crm2=other" (or SLIDECAST_INBOUND_WEBHOOK_SECRETS_FILE).
    "INBOUND_SECRETS": dict(
        item.split("=", 1)
        for item in (env_str("SLIDECAST_INBOUND_WEBHOOK_SECRETS", "") or "").split(",")
        if "=" in item
    ),
}

# Mail for alerts: ADMINS as "Name <address>, …"; SMTP when a host is given.
ADMINS = [
    (entry.split("<")[0].strip() or entry, entry.split("<")[-1].rstrip(">").strip())
    for entry in env_list("SLIDECAST_ADMINS", [])
]
SERVER_EMAIL = env_str("SLIDECAST_SERVER_EMAIL", "slidecast@localhost")
EMAIL_HOST = env_str("SLIDECAST_EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_PORT = env_int("SLIDECAST_EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("SLIDECAST_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = env_str("SLIDECAST_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("SLIDECAST_EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
