"""Logging in and out, and the front door of each role (``/me/``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from .roles import landing_url


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Logging out (POST) also tells the browser to drop what it cached of the pages of this
    origin (``Clear-Site-Data: "cache"``): on a shared phone the next person must not find them.

    Not ``"storage"``: that would delete the inspector's drafts not sent yet (IndexedDB, kept per
    user by ``inspections/inspect.js``) together with the service worker. The worker drops the
    inspection pages it keeps itself, when the user changes or logs out (``inspect/sw.js``).
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        response["Clear-Site-Data"] = '"cache"'
        return response


@require_GET
@login_required
def me(request: HttpRequest) -> HttpResponse:
    return redirect(landing_url(request.user))
