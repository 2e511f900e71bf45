"""Issue, list and revoke API tokens from the console.

    civicloop manage api_token --user dispatcher1 --name "12345 hotline bridge" --scopes read,write [--rate 600] [--expires-days 365]
    civicloop manage api_token --revoke 1a2b3c4d
    civicloop manage api_token --list [--user dispatcher1]

The key is printed once, when issued; only its hash is stored. A token acts as its user,
with exactly that user's scope (org/policy.py). Writes go through ``api.tokens``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.api.models import ApiToken
from civicloop.api.tokens import token_issue, token_revoke
from civicloop.core.errors import CivicError


class Command(BaseCommand):
    help = "Issue an API token for a user (the key is shown once), list tokens, or revoke one by its prefix."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Username the token acts as.")
        parser.add_argument("--name", help="Who uses the token, e.g. “12345 hotline bridge”.")
        parser.add_argument(
            "--scopes", default="read", help="Comma-separated: read, write, admin (default read)."
        )
        parser.add_argument(
            "--rate", type=int, default=120, help="Requests per minute (default 120)."
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Days until the token expires (default: never).",
        )
        parser.add_argument("--revoke", metavar="PREFIX", help="Revoke the token with this prefix.")
        parser.add_argument("--list", action="store_true", help="List tokens (of --user, or all).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["revoke"]:
            self._revoke(options["revoke"])
        elif options["list"]:
            self._list(options["user"])
        else:
            self._issue(options)

    def _user(self, username: str | None) -> Any:
        if not username:
            raise CommandError(_("Name the user the token acts as: --user USERNAME."))
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("No user is called “%(username)s”.") % {"username": username})
        return user

    def _issue(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"])
        if not options["name"]:
            raise CommandError(_("Give the token a name: --name NAME."))
        scopes = [s.strip() for s in (options["scopes"] or "").split(",") if s.strip()]
        expires_at = None
        if options["expires_days"] is not None:
            if options["expires_days"] < 1:
                raise CommandError(_("--expires-days must be at least 1."))
            expires_at = timezone.now() + dt.timedelta(days=options["expires_days"])
        try:
            # The console acts as the user himself: an admin-scope token needs a system administrator.
            token, key = token_issue(
                user=user,
                name=options["name"],
                scopes=scopes,
                by=user,
                rate_per_minute=options["rate"],
                expires_at=expires_at,
            )
        except CivicError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(key)
        self.stderr.write(
            _(
                "Token “%(name)s” (prefix %(prefix)s) acts as %(user)s with %(scopes)s, %(rate)s requests per minute. "
                "The key above is shown only now: keep it secret."
            )
            % {
                "name": token.name,
                "prefix": token.prefix,
                "user": user.username,
                "scopes": ", ".join(token.scopes),
                "rate": token.rate_per_minute,
            }
        )

    def _revoke(self, prefix: str) -> None:
        token = ApiToken.objects.select_related("user").filter(prefix=prefix.strip()).first()
        if token is None:
            raise CommandError(_("No token has the prefix “%(prefix)s”.") % {"prefix": prefix})
        already = token.revoked_at is not None
        token_revoke(token=token, by=token.user)
        if already:
            self.stdout.write(_("Token %(prefix)s was already revoked.") % {"prefix": token.prefix})
        else:
            self.stdout.write(
                _("Token %(prefix)s (“%(name)s”) is revoked.")
                % {"prefix": token.prefix, "name": token.name}
            )

    def _list(self, username: str | None) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
        if username:
            tokens = tokens.filter(user=self._user(username))
        for t in tokens:
            state = (
                _("revoked")
                if t.revoked_at
                else (
                    _("expired") if t.expires_at and t.expires_at <= timezone.now() else _("active")
                )
            )
            used = (
                timezone.localtime(t.last_used_at).strftime("%Y-%m-%d %H:%M")
                if t.last_used_at
                else "-"
            )
            self.stdout.write(
                f"{t.prefix}\t{t.user.username}\t{','.join(t.scopes)}\t{t.rate_per_minute}/min\t{state}\t{used}\t{t.name}"
            )
