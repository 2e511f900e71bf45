"""Logging in and out, and the front door of each role (``/me/``)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from .roles import landing_url


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@require_GET
@login_required
def me(request: HttpRequest) -> HttpResponse:
    return redirect(landing_url(request.user))
