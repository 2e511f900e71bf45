"""``civicloop manage retry_deliveries``: send again what failed and is due, and what a dead worker left.

The database queue already retries each failed delivery at its time; this is the
safety net for a cron job, or for task backends that cannot defer jobs.
"""

from typing import Any

from django.core.management.base import BaseCommand

from civicloop.notifications.services import deliveries_retry


class Command(BaseCommand):
    help = "Send again the notification deliveries that failed and are due."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"sent: {deliveries_retry()}")
