from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "civicloop.ledger"
    label = "ledger"
    verbose_name = _("Ledger import and export")
