"""``python -m civicloop.manage`` — Django's manage.py for the installed package."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civicloop manage", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    main()
