from typing import Any

from django.core.management.base import BaseCommand

from civicloop.demo.loader import DEMO_PASSWORD, LOGINS


class Command(BaseCommand):
    help = "Print the demo city's logins, one per role."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        for username, label, _role in LOGINS:
            self.stdout.write(f"  {username:<12} {label}")
        self.stdout.write("")
