"""Forms of the moderation queue: they parse; ``moderation.actions`` decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from civicloop.cases.actions import MAX_DESCRIPTION

from .actions import MAX_DECISION_NOTE


class ReleaseForm(forms.Form):
    # Left as it is (or empty), the original text is published.
    description = forms.CharField(
        label=_("Text to publish"),
        required=False,
        max_length=MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=MAX_DECISION_NOTE)


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_DECISION_NOTE,
        error_messages={"required": _("Please give a reason.")},
        widget=forms.Textarea(attrs={"rows": 2}),
    )
