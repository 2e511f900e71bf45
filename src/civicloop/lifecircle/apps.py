from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecircleConfig(AppConfig):
    name = "civicloop.lifecircle"
    label = "lifecircle"
    verbose_name = _("15-minute life circle")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (inputs changed → results stale, recomputed)
