"""Settings for the test suite: same database choice as base (SQLite, or DATABASE_URL)."""

import atexit
import shutil
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import CIVICLOOP, STORAGES

_tmp = Path(tempfile.mkdtemp(prefix="civicloop-test-"))
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
MEDIA_ROOT = _tmp / "media"
PRIVATE_MEDIA_ROOT = _tmp / "private"
STATIC_ROOT = _tmp / "static"
STATIC_ROOT.mkdir()
STORAGES = {
    **STORAGES,
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Assertions read English messages; tests of the Chinese catalogue switch language themselves.
LANGUAGE_CODE = "en"
# Tests never reach the network: no base map tiles.
MAP_TILES = {**MAP_TILE_PRESETS["none"]}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
CIVICLOOP = {**CIVICLOOP}
