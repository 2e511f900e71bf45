"""Settings shared by every deployment.

The embedded default needs nothing but this file: SQLite, media on local disk and
the database task backend. ``DATABASE_URL=postgres://…`` moves the same code to
PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded deployment keeps its database, media and private evidence.
HOME_DIR = Path(os.environ.get("CIVICLOOP_HOME", Path.cwd() / "var")).resolve()

SECRET_KEY = os.environ.get("CIVICLOOP_SECRET_KEY", "insecure-development-key-change-me")
DEBUG = os.environ.get("CIVICLOOP_DEBUG", "0") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("CIVICLOOP_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "rest_framework",
    "drf_spectacular",
    "civicloop.core",
    "civicloop.places",
    "civicloop.org",
    "civicloop.cases",
    "civicloop.notifications",
    "civicloop.moderation",
    "civicloop.api",
    "civicloop.webhooks",
    "civicloop.ledger",
    "civicloop.inspections",
    "civicloop.lifecircle",
    "civicloop.web",
    "civicloop.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "civicloop.urls"
WSGI_APPLICATION = "civicloop.wsgi.application"
AUTH_USER_MODEL = "org.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "civicloop.web.context.shell",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{HOME_DIR / 'civicloop.sqlite3'}"),
        conn_max_age=int(os.environ.get("CIVICLOOP_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent readers next to the single writer; wait instead of failing on a lock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": os.environ.get("CIVICLOOP_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("CIVICLOOP_TIME_ZONE", "Asia/Shanghai")

STATIC_URL = "/static/"
STATIC_ROOT = HOME_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = HOME_DIR / "media"
# Original uploads with their EXIF live outside MEDIA_ROOT and are never served.
PRIVATE_MEDIA_ROOT = HOME_DIR / "private"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/me/"
LOGOUT_REDIRECT_URL = "/"

# ---- maps (Leaflet) -----------------------------------------------------------------------
# The base map is optional: boundaries, pins and clusters are drawn from our own data and
# work with no tiles at all (offline intranets, and every test). CIVICLOOP_MAP_TILES picks a
# preset ("osm", "tianditu", "amap", "none") or CIVICLOOP_MAP_TILE_URL gives any XYZ URL.
# Amap tiles are drawn in GCJ-02: the map shifts our WGS-84 data onto them, and pins placed
# on them are sent back as GCJ-02 for the server to convert.
MAP_TILE_PRESETS = {
    "osm": {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "© OpenStreetMap contributors",
        "crs": "wgs84",
        "max_zoom": 19,
        "subdomains": "",
    },
    "tianditu": {
        # Tianditu needs a key (tk); tiles are WGS-84 (CGCS2000, close enough for maps).
        "url": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + os.environ.get("CIVICLOOP_TIANDITU_KEY", ""),
        "attribution": "© 天地图",
        "crs": "wgs84",
        "max_zoom": 18,
        "subdomains": "01234567",
    },
    "amap": {
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attribution": "© 高德地图",
        "crs": "gcj02",
        "max_zoom": 18,
        "subdomains": "1234",
    },
    "none": {"url": "", "attribution": "", "crs": "wgs84", "max_zoom": 19, "subdomains": ""},
}
MAP_TILES = {
    **MAP_TILE_PRESETS.get(os.environ.get("CIVICLOOP_MAP_TILES", "osm"), MAP_TILE_PRESETS["osm"]),
    **({"url": os.environ["CIVICLOOP_MAP_TILE_URL"]} if os.environ.get("CIVICLOOP_MAP_TILE_URL") else {}),
    **({"crs": os.environ["CIVICLOOP_MAP_TILE_CRS"]} if os.environ.get("CIVICLOOP_MAP_TILE_CRS") else {}),
}

# ---- civicloop domain settings (operators tune these; defaults follow common practice) ----
CIVICLOOP = {
    # Photos: largest accepted upload, in bytes, and the accepted formats (checked by content).
    "MAX_PHOTO_BYTES": int(os.environ.get("CIVICLOOP_MAX_PHOTO_BYTES", 10 * 1024 * 1024)),
    "PHOTO_FORMATS": ("JPEG", "PNG", "WEBP"),
    # Largest accepted picture, in pixels (refused from the header, before decoding).
    "MAX_PHOTO_PIXELS": int(os.environ.get("CIVICLOOP_MAX_PHOTO_PIXELS", 1 << 26)),
    # Duplicate detection: same category, within this radius and time window of an open case.
    "DUPLICATE_RADIUS_M": 50.0,
    "DUPLICATE_WINDOW_HOURS": 72,
    # Days after closing when the look-back (回头看) falls due.
    "LOOKBACK_DAYS": 7,
    # Office hours for "working hours" time limits (local time).
    "WORKDAY_HOURS": (("09:00", "12:00"), ("13:30", "17:30")),
    # Escalation (督办) after a case has been overdue this many hours, one level per period.
    "ESCALATE_AFTER_OVERDUE_HOURS": 48,
    # Remind the unit when this share of the time limit is left.
    "REMIND_AT_REMAINING_FRACTION": 0.2,
    "DEFAULT_DIVISION_CODE": "650100",
}

# ---- notifications: in-app notices, e-mail, SMS / WeChat gateways (civicloop.notifications) ----
# Links in messages point here (the public ticket page is <CIVICLOOP_SITE_URL>/t/<ticket>/).
CIVICLOOP_SITE_URL = os.environ.get("CIVICLOOP_SITE_URL", "http://127.0.0.1:8000")
# Outgoing mail over SMTP; a failed send is recorded on its Delivery and retried.
EMAIL_BACKEND = os.environ.get("CIVICLOOP_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("CIVICLOOP_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("CIVICLOOP_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("CIVICLOOP_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("CIVICLOOP_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("CIVICLOOP_EMAIL_TLS", "0") == "1"
EMAIL_USE_SSL = os.environ.get("CIVICLOOP_EMAIL_SSL", "0") == "1"
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = os.environ.get("CIVICLOOP_EMAIL_FROM", "civicloop <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Channels in use: "inapp" (staff notices), "email", "sms", "wechat", "log" (writes to the log).
CIVICLOOP["NOTIFY_CHANNELS"] = [c for c in os.environ.get("CIVICLOOP_NOTIFY_CHANNELS", "inapp,email").split(",") if c]
# One sender per external channel (see notifications/channels.py). SMS and WeChat POST a JSON
# PAYLOAD ($to, $subject, $text, $short, $ticket, $link filled in) to the deployment's gateway.
CIVICLOOP["NOTIFY_SENDERS"] = {
    "email": {"CLASS": "civicloop.notifications.channels.EmailSender"},
    "sms": {
        "CLASS": "civicloop.notifications.channels.SmsSender",
        "URL": os.environ.get("CIVICLOOP_SMS_GATEWAY_URL", ""),
        "PAYLOAD": {"to": "$to", "text": "$short"},
        "TIMEOUT": 10,
    },
    "wechat": {
        "CLASS": "civicloop.notifications.channels.WeChatSender",
        "URL": os.environ.get("CIVICLOOP_WECHAT_GATEWAY_URL", ""),
        "PAYLOAD": {"touser": "$to", "msgtype": "text", "text": {"content": "$short"}},
        "OK_JSON": {"errcode": 0},
        "TIMEOUT": 10,
    },
}
# Language of messages to anonymous residents, unit mailboxes and users without a language.
CIVICLOOP["NOTIFY_DEFAULT_LANGUAGE"] = "zh-hans"
# A failed send is tried again after NOTIFY_RETRY_MINUTES, doubling each time, at most this often.
CIVICLOOP["NOTIFY_MAX_ATTEMPTS"] = 6
CIVICLOOP["NOTIFY_RETRY_MINUTES"] = 5
# Housekeeping the worker runs after each deadline sweep; each returns how much it did.
CIVICLOOP["PERIODIC_JOBS"] = [
    "civicloop.notifications.services.deliveries_retry",  # failed e-mail/SMS/WeChat sends
    "civicloop.webhooks.services.webhook_deliveries_retry",  # failed webhook calls
    "civicloop.ledger.services.exports_prune",  # expired export files
    "civicloop.core.ratelimit.ratelimit_prune",  # old rate-limit windows
    "civicloop.moderation.services.prints_prune",  # old fingerprints of submitted texts
    "civicloop.inspections.bulletins.bulletins_recover",  # bulletins whose worker died while writing
    "civicloop.lifecircle.actions.lifecircle_recover",  # network imports and analyses whose worker died
]
# ---- inspection and assessment (civicloop.inspections) ----
CIVICLOOP["INSPECTIONS"] = {
    # Grade bands, highest first: a score at or above the bound gets the grade. A round may set its own.
    "GRADE_BANDS": [["A", "90"], ["B", "75"], ["C", "60"], ["D", "0"]],
    # How many units / areas make the red list (红榜) and the black list (黑榜) of a ranking.
    "RED_BLACK_SIZE": 3,
    # Points taken off a unit's inspection score for each finding that recurred at a look-back.
    "RECURRENCE_PENALTY": "2",
    # A visit recorded further than this from the site's geometry is flagged (a round may set its own).
    "OFF_SITE_METRES": 100,
    # Category of a rectification case when the standard's item names none (GB/T 30428 code).
    "DEFAULT_CATEGORY": "E0102",
    # Unit evaluation (GB/T 30428.4): weights of the composite; 返工率 counts as 100 − rate.
    "UNIT_EVALUATION_WEIGHTS": {
        "handling_rate": "20",
        "on_time_handling_rate": "20",
        "rework_rate": "10",
        "closure_rate": "20",
        "on_time_closure_rate": "30",
    },
}
# ---- the 15-minute life circle (civicloop.lifecircle) ----
CIVICLOOP["LIFECIRCLE"] = {
    # Walking speed: 80 m a minute (4.8 km/h), the usual planning figure.
    "WALK_SPEED_M_PER_MIN": 80.0,
    # The life-circle levels, in minutes (GB 50180-2018: 5, 10 and 15).
    "LEVELS_MINUTES": [5, 10, 15],
    # Distances are searched this far (metres); farther is reported as "beyond". Never less
    # than the largest level at the walking speed.
    "CUTOFF_M": 1500.0,
    # A compound or facility farther than this from every walkable way is off the network
    # (reported as unreachable, never as 0).
    "MAX_SNAP_M": 300.0,
    # Largest accepted .osm.pbf upload, in bytes.
    "MAX_UPLOAD_BYTES": int(os.environ.get("CIVICLOOP_LIFECIRCLE_MAX_UPLOAD_BYTES", 512 * 1024 * 1024)),
    # Best-site search: most candidate points considered, most sites asked for.
    "MAX_CANDIDATES": 3000,
    "MAX_BEST_SITES": 20,
    # Per user and minute (0 switches the limit off): what-if questions and best-site searches.
    "WHATIF_PER_MINUTE": 60,
    "BEST_SITES_PER_MINUTE": 10,
}
# ---- webhooks (civicloop.webhooks; every key optional, defaults in webhooks/services.py & transport.py) ----
# True refuses webhook targets on loopback, private, link-local or reserved addresses (checked after
# DNS resolution, on registration and on every call); False (default) suits intranet deployments.
CIVICLOOP["WEBHOOK_BLOCK_PRIVATE"] = os.environ.get("CIVICLOOP_WEBHOOK_BLOCK_PRIVATE", "0") == "1"
# Also read when set: WEBHOOK_TIMEOUT_S (10), WEBHOOK_MAX_ATTEMPTS (7), WEBHOOK_RETRY_MINUTES
# ((1, 5, 15, 60, 180, 720)), WEBHOOK_DISABLE_AFTER_FAILURES (50), WEBHOOK_MAX_PER_USER (20), WEBHOOK_PROXY ("").

# ---- REST API (/api/v1, civicloop.api) and Open311 (/open311/v2) ----
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "civicloop.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # staff trying calls in /api/v1/docs
    ],
    "DEFAULT_PERMISSION_CLASSES": ["civicloop.api.permissions.ScopedAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["civicloop.api.throttling.TokenOrIpThrottle"],
    "DEFAULT_PAGINATION_CLASS": "civicloop.api.pagination.CivicCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "civicloop.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "civicloop API",
    "DESCRIPTION": "Cases, categories, places and units of civicloop. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from npm, served by the app itself (tools/vendor_assets.py): no CDN.
    "SWAGGER_UI_DIST": STATIC_URL + "vendor/swagger-ui-dist",
    "SWAGGER_UI_FAVICON_HREF": STATIC_URL + "vendor/swagger-ui-dist/favicon-32x32.png",
    "COMPONENT_SPLIT_REQUEST": True,
    # Describe /api/v1/ only (not other DRF views of the site).
    "PREPROCESSING_HOOKS": ["civicloop.api.rest.schema.only_api_v1"],
    # Choice sets that several serializers share get one stable name in the document.
    "ENUM_NAME_OVERRIDES": {
        "AreaKindEnum": "civicloop.places.models.AreaKind",
        "PhotoKindEnum": "civicloop.cases.models.PhotoKind",
        "UnitKindEnum": "civicloop.org.models.UnitKind",
        "SourceEnum": "civicloop.cases.models.Source",
        "ReportSourceEnum": "civicloop.api.rest.inputs.REPORT_SOURCES",
    },
}
# Requests per minute and client IP for callers without a token (a token has its own limit).
CIVICLOOP["API_IP_RATE_PER_MINUTE"] = int(os.environ.get("CIVICLOOP_API_IP_RATE_PER_MINUTE", "60"))
# Open311 GeoReport v2: the jurisdiction this server answers for; empty means the city's
# division code from the area tree (e.g. 650100), see api/open311/selectors.py.
CIVICLOOP["OPEN311_JURISDICTION"] = os.environ.get("CIVICLOOP_OPEN311_JURISDICTION", "")
