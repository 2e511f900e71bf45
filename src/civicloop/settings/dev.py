"""The embedded default: what ``civicloop demo`` and ``civicloop serve`` use unless told otherwise."""

from .base import *  # noqa: F403

# The demo and local runs have no mail server: unless one is configured, e-mails are
# written as files under CIVICLOOP_HOME/mail, where they can be read.
if "CIVICLOOP_EMAIL_BACKEND" not in os.environ and "CIVICLOOP_EMAIL_HOST" not in os.environ:  # noqa: F405
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = HOME_DIR / "mail"  # noqa: F405
