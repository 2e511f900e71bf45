"""The embedded default: what ``civicloop demo`` and ``civicloop serve`` use unless told otherwise."""

from .base import *  # noqa: F403
