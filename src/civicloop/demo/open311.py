"""The demo city's Open311 client: an integration account without roles ("open311-demo", as
a WeChat mini-program or a hotline bridge would have) and a write-scoped API key for it.

Only a hash of a key is stored, so a key issued at load time can never be printed again.
Rather than keep a secret somewhere or derive one from data anybody can read, every start
of the demo issues a fresh key through ``api.tokens.token_issue`` (the one way keys are
made) and revokes the earlier ones: the key in the banner is the one that works, until the
demo is started (or its logins printed) again.
"""

from __future__ import annotations

from django.db import transaction

from civicloop.api.models import Scope
from civicloop.api.tokens import token_issue, token_revoke
from civicloop.org.models import User

DEMO_CLIENT = "open311-demo"
KEY_NAME = "Open311 demo client"
SCOPES = (Scope.READ, Scope.WRITE)


def open311_client() -> User:
    """The account, created once (by the demo loader; also for demo databases loaded before it)."""
    user, created = User.objects.get_or_create(
        username=DEMO_CLIENT, defaults={"display_name": "Open311 演示客户端"}
    )
    if created:
        user.set_unusable_password()  # it never signs in on the web, it only holds API keys
        user.save(update_fields=["password"])
        token_issue(user=user, name=KEY_NAME, scopes=SCOPES, by=user)
    return user


@transaction.atomic
def open311_demo_key() -> str:
    """A key to print: issued now, every earlier key of the demo client revoked."""
    user = open311_client()
    token, key = token_issue(user=user, name=KEY_NAME, scopes=SCOPES, by=user)
    for old in user.api_tokens.filter(revoked_at__isnull=True).exclude(pk=token.pk):
        token_revoke(token=old, by=user)
    return key
