"""Forms of the Integrations pages: they parse; ``actions`` and ``api.tokens`` validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from civicloop.api.models import Scope
from civicloop.cases.models import EventKind

from .models import DeliveryStatus

ALL, CHOSEN = "all", "chosen"


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Who uses it, e.g. 12345 hotline bridge")
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        widget=forms.CheckboxSelectMultiple,
        choices=[(Scope.READ, Scope.READ.label), (Scope.WRITE, Scope.WRITE.label)],
        error_messages={"required": _("Choose at least one scope among read, write and admin.")},
    )
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=_("Empty: it never expires; revoke it when it is no longer used."),
    )

    def __init__(self, *args: Any, admin: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if admin:
            self.fields["scopes"].choices = Scope.choices  # type: ignore[attr-defined]


class WebhookForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("e.g. sanitation company dispatch system")
    )
    url = forms.CharField(
        label=_("Target URL"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url"}),
        help_text=_("civicloop POSTs each event there as JSON; any 2xx answer counts as received."),
    )
    which = forms.ChoiceField(
        label=_("Events"),
        widget=forms.RadioSelect,
        initial=ALL,
        choices=[
            (ALL, _("Every case event (also kinds added later)")),
            (CHOSEN, _("Only the events ticked below")),
        ],
    )
    events = forms.MultipleChoiceField(
        label=_("Case events"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=EventKind.choices,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("which") == CHOSEN and not data.get("events"):
            self.add_error("events", _("Tick at least one event, or choose every case event."))
        return data

    @classmethod
    def initial_for(cls, hook: Any) -> dict[str, Any]:
        return {
            "name": hook.name,
            "url": hook.url,
            "which": CHOSEN if hook.events else ALL,
            "events": list(hook.events),
        }


class RotateForm(forms.Form):
    keep_old = forms.BooleanField(
        label=_("Keep the old secret valid for 24 hours (calls carry both signatures meanwhile)"),
        required=False,
        initial=True,
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *DeliveryStatus.choices]
    )
