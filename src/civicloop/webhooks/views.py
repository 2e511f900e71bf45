"""The Integrations pages (``/integrations/``): a user's API tokens and webhooks, each
webhook's delivery log. Everyone sees only his own; a system administrator sees all.

Thin: forms parse, ``webhooks.actions`` and ``api.tokens`` write, ``webhooks.selectors``
read and scope. Someone else's webhook, delivery or token answers 404. A key or a secret
is shown exactly once: kept in the session until the next page shows it, never in a
cookie, never again afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.api import tokens
from civicloop.core.errors import CivicError, NotFoundOrForbidden
from civicloop.org import policy
from civicloop.web.common import case_url, http_status

from . import actions, selectors
from .forms import ALL, DeliveryFilterForm, RotateForm, TokenForm, WebhookForm
from .models import DeliveryStatus, Webhook, WebhookDelivery

LOG_PAGE_SIZE = 25
REVEAL = "webhooks_reveal"


def integrator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.may_integrate(request.user):
            raise PermissionDenied(_("Integrations are for staff and system administrators."))
        try:
            return view(request, *args, **kwargs)
        except NotFoundOrForbidden as exc:
            raise Http404(exc.message) from None

    return login_required(wrapped)


# ---- shown once ----------------------------------------------------------------------------------


def _reveal(request: HttpRequest, *, what: str, pk: int, value: str) -> None:
    request.session[REVEAL] = {"what": what, "pk": pk, "value": value}


def _revealed(request: HttpRequest, *, what: str, pk: int | None = None) -> str:
    """The key or secret to show on this page, once; anything else waiting stays for its page."""
    waiting = request.session.get(REVEAL)
    if (
        not isinstance(waiting, dict)
        or waiting.get("what") != what
        or (pk is not None and waiting.get("pk") != pk)
    ):
        return ""
    del request.session[REVEAL]
    return str(waiting.get("value", ""))


def _form_error(form: Any, exc: CivicError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


# ---- home: tokens and webhooks ------------------------------------------------------------------------


def _token_state(token: Any, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "live"


def _home(
    request: HttpRequest, *, token_form: TokenForm | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    now = timezone.now()
    admin = policy.is_admin(user)
    token_rows = [(t, _token_state(t, now)) for t in selectors.token_list(user=user)]
    context = {
        "admin": admin,
        "tokens": token_rows,
        "token_form": token_form or TokenForm(admin=admin),
        "new_key": _revealed(request, what="key"),
        "webhooks": list(selectors.webhook_list(user=user)),
        "site_url": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "webhooks/home.html", context, status=status)


@require_GET
@integrator_required
def home(request: HttpRequest) -> HttpResponse:
    return _home(request)


@require_POST
@integrator_required
def token_issue(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST, admin=policy.is_admin(request.user))
    if not form.is_valid():
        return _home(request, token_form=form, status=400)
    days = form.cleaned_data.get("expires_in_days")
    expires = timezone.now() + dt.timedelta(days=days) if days else None
    try:
        token, key = tokens.token_issue(
            user=request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            by=request.user,
            expires_at=expires,
        )
    except CivicError as exc:
        _form_error(form, exc)
        return _home(request, token_form=form, status=http_status(exc))
    _reveal(request, what="key", pk=token.pk, value=key)
    messages.success(request, _("Token “%(name)s” issued.") % {"name": token.name})
    return redirect(reverse("webhooks:home") + "#tokens")


@require_POST
@integrator_required
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = selectors.token_get(user=request.user, token_id=token_id)
    tokens.token_revoke(token=token, by=request.user)
    messages.success(
        request, _("Token “%(name)s” revoked: it no longer works.") % {"name": token.name}
    )
    return redirect(reverse("webhooks:home") + "#tokens")


# ---- one webhook ------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@integrator_required
def webhook_new(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                hook, secret = actions.webhook_create(
                    by=request.user,
                    name=data["name"],
                    url=data["url"],
                    events=[] if data["which"] == ALL else data["events"],
                )
            except CivicError as exc:
                _form_error(form, exc)
                return render(request, "webhooks/new.html", {"form": form}, status=http_status(exc))
            _reveal(request, what="secret", pk=hook.pk, value=secret)
            messages.success(request, _("Webhook “%(name)s” registered.") % {"name": hook.name})
            return redirect("webhooks:detail", webhook_id=hook.pk)
        return render(request, "webhooks/new.html", {"form": form}, status=400)
    return render(request, "webhooks/new.html", {"form": form})


def _detail(
    request: HttpRequest,
    hook: Webhook,
    *,
    form: WebhookForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    filter_form = DeliveryFilterForm(request.GET or None)
    chosen = ""
    if filter_form.is_bound and not filter_form.is_valid():
        status = 400 if status == 200 else status
    elif filter_form.is_bound:
        chosen = filter_form.cleaned_data.get("status") or ""
    counts = selectors.delivery_counts(webhook=hook)
    page = Paginator(selectors.delivery_list(webhook=hook, status=chosen), LOG_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "hook": hook,
        "form": form or WebhookForm(initial=WebhookForm.initial_for(hook)),
        "rotate_form": RotateForm(),
        "filter_form": filter_form,
        "page": page,
        "pager_query": f"status={chosen}" if chosen else "",
        "counts": [(s.value, s.label, counts[s.value]) for s in DeliveryStatus],
        "chosen": chosen,
        "new_secret": _revealed(request, what="secret", pk=hook.pk),
        "error": error,
        "now": timezone.now(),
    }
    return render(request, "webhooks/detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@integrator_required
def webhook_detail(request: HttpRequest, webhook_id: int) -> HttpResponse:
    hook = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
    if request.method == "GET":
        return _detail(request, hook)
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _detail(request, hook, form=form, status=400)
    data = form.cleaned_data
    try:
        hook = actions.webhook_update(
            webhook=hook,
            by=request.user,
            name=data["name"],
            url=data["url"],
            events=data["events"],
            all_events=data["which"] == ALL,
        )
    except CivicError as exc:
        _form_error(form, exc)
        hook.refresh_from_db()
        return _detail(request, hook, form=form, status=http_status(exc))
    messages.success(request, _("Webhook “%(name)s” saved.") % {"name": hook.name})
    return redirect("webhooks:detail", webhook_id=hook.pk)


def _act(request: HttpRequest, webhook_id: int, run: Callable[[Webhook], str]) -> HttpResponse:
    hook = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
    try:
        done = run(hook)
    except NotFoundOrForbidden:
        raise
    except CivicError as exc:
        return _detail(request, hook, error=exc.message, status=http_status(exc))
    messages.success(request, done)
    return redirect("webhooks:detail", webhook_id=hook.pk)


@require_POST
@integrator_required
def webhook_toggle(request: HttpRequest, webhook_id: int) -> HttpResponse:
    wanted = request.POST.get("active")
    if wanted not in ("0", "1"):
        hook = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
        return _detail(
            request, hook, error=_("Say whether to switch the webhook on or off."), status=400
        )

    def run(hook: Webhook) -> str:
        hook = actions.webhook_set_active(webhook=hook, by=request.user, active=wanted == "1")
        return (
            _("Webhook switched on.")
            if hook.active
            else _("Webhook switched off: nothing is sent until it is switched on again.")
        )

    return _act(request, webhook_id, run)


@require_POST
@integrator_required
def webhook_rotate(request: HttpRequest, webhook_id: int) -> HttpResponse:
    form = RotateForm(request.POST)
    form.is_valid()  # one optional checkbox: always valid

    def run(hook: Webhook) -> str:
        hook, secret = actions.webhook_rotate_secret(
            webhook=hook, by=request.user, keep_old=bool(form.cleaned_data.get("keep_old"))
        )
        _reveal(request, what="secret", pk=hook.pk, value=secret)
        return _("New secret made. Copy it now: it is shown only once.")

    return _act(request, webhook_id, run)


@require_POST
@integrator_required
def webhook_ping(request: HttpRequest, webhook_id: int) -> HttpResponse:
    def run(hook: Webhook) -> str:
        actions.webhook_ping(webhook=hook, by=request.user)
        return _("Test ping queued: its answer appears in the delivery log below.")

    return _act(request, webhook_id, run)


@require_POST
@integrator_required
def webhook_delete(request: HttpRequest, webhook_id: int) -> HttpResponse:
    hook = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
    actions.webhook_delete(webhook=hook, by=request.user)
    messages.success(
        request, _("Webhook “%(name)s” deleted, with its delivery log.") % {"name": hook.name}
    )
    return redirect("webhooks:home")


# ---- one delivery ---------------------------------------------------------------------------------------------


def _delivery_page(
    request: HttpRequest, delivery: WebhookDelivery, *, error: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "hook": delivery.webhook,
        "d": delivery,
        "case_url": case_url(delivery.case_id) if delivery.case_id else "",
        "error": error,
        "now": timezone.now(),
    }
    return render(request, "webhooks/delivery.html", context, status=status)


@require_GET
@integrator_required
def delivery_detail(request: HttpRequest, webhook_id: int, delivery_id: str) -> HttpResponse:
    return _delivery_page(
        request,
        selectors.delivery_get(user=request.user, webhook_id=webhook_id, delivery_id=delivery_id),
    )


@require_POST
@integrator_required
def delivery_redeliver(request: HttpRequest, webhook_id: int, delivery_id: str) -> HttpResponse:
    delivery = selectors.delivery_get(
        user=request.user, webhook_id=webhook_id, delivery_id=delivery_id
    )
    try:
        actions.delivery_redeliver(delivery=delivery, by=request.user)
    except NotFoundOrForbidden:
        raise
    except CivicError as exc:
        return _delivery_page(request, delivery, error=exc.message, status=http_status(exc))
    messages.success(request, _("Redelivery queued: the same body, signed afresh."))
    return redirect("webhooks:delivery", webhook_id=delivery.webhook_id, delivery_id=delivery.uuid)
