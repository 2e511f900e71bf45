"""Forms of the dispatcher's pages and of the scoped case list: they parse input only.

The rules (who may, from which state, what a reason needs) live in ``cases.actions`` and
``org.policy``; these forms turn request data into the arguments those functions take and
say what is missing before anything is called.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicloop.cases.models import Category, Source, State
from civicloop.org import policy
from civicloop.org.models import Unit
from civicloop.places.models import AREA_LEVEL

from .models import SavedView

MAX_TEXT = 2000


class VersionedForm(forms.Form):
    """Every action form carries the case version the page showed: a stale page is a conflict."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class NoteForm(VersionedForm):
    note = forms.CharField(label=_("Note"), required=False, max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 2}))


class RegisterForm(NoteForm):
    pass


class RejectForm(VersionedForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Please give a reason.")},
    )


class CategoryField(forms.ModelChoiceField):
    """A category by its code (E0102), so one shared <datalist> serves every row."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"invalid_choice": _("Unknown problem category. Pick one from the list.")})
        super().__init__(queryset=Category.objects.filter(active=True), to_field_name="code", **kwargs)

    def label_from_instance(self, obj: Category) -> str:  # type: ignore[override]
        return f"{obj.code} {obj.big_name} / {obj.name}"


class ReclassifyForm(NoteForm):
    category = CategoryField(label=_("New category"), widget=forms.TextInput(attrs={"list": "category-codes", "autocomplete": "off"}))


class UnitField(forms.ModelChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"invalid_choice": _("Unknown or inactive handling unit.")})
        super().__init__(queryset=Unit.objects.filter(active=True).order_by("kind", "code"), **kwargs)


class DispatchForm(NoteForm):
    # Empty: the routing rule's unit (cases.routing.unit_for), chosen by the action itself.
    unit = UnitField(label=_("Handling unit"), required=False, empty_label=_("Routing suggestion"))
    co_units = forms.ModelMultipleChoiceField(
        label=_("Co-handling units"),
        queryset=Unit.objects.filter(active=True).order_by("kind", "code"),
        required=False,
        error_messages={"invalid_choice": _("Unknown or inactive handling unit."), "invalid_pk_value": _("Unknown or inactive handling unit.")},
    )


class UrgeForm(NoteForm):
    pass


class EscalateForm(NoteForm):
    pass


ACTION_FORMS: dict[str, type[VersionedForm]] = {
    "register": RegisterForm,
    "reject": RejectForm,
    "reclassify": ReclassifyForm,
    "dispatch": DispatchForm,
    "urge": UrgeForm,
    "escalate": EscalateForm,
}


class ExtensionDecisionForm(VersionedForm):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("deny", _("Deny"))], widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Note (required when denying)"), required=False, max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "deny" and not (data.get("note") or "").strip():
            self.add_error("note", _("Please give a reason for the denial."))
        return data


# ---- batch -------------------------------------------------------------------------------


class CaseVersionsField(forms.Field):
    """Ticked rows as "case id:version", so a row changed meanwhile is reported as a conflict."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Tick at least one case."),
        "invalid": _("The selection could not be read; reload the page."),
    }

    def to_python(self, value: Any) -> list[tuple[int, int]]:
        parsed: list[tuple[int, int]] = []
        for item in value or []:
            pk, _sep, version = str(item).partition(":")
            if not (pk.isdigit() and version.isdigit()):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            parsed.append((int(pk), int(version)))
        # The same row ticked twice is acted on once.
        return list(dict.fromkeys(parsed))


class BatchForm(forms.Form):
    ACTIONS = [("register", _("Register")), ("dispatch", _("Dispatch to the suggested units")), ("reject", _("Do not register"))]
    MAX_CASES = 200

    action = forms.ChoiceField(label=_("With the selected cases"), choices=ACTIONS)
    # Ids are checked case by case against the policy when acting; here only their shape.
    cases = CaseVersionsField()
    reason = forms.CharField(label=_("Reason (for “Do not register”)"), required=False, max_length=MAX_TEXT)

    def clean_cases(self) -> list[tuple[int, int]]:
        cases = self.cleaned_data["cases"]
        if len(cases) > self.MAX_CASES:
            raise forms.ValidationError(_("At most %(max)d cases at a time.") % {"max": self.MAX_CASES})
        return cases

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Please give a reason."))
        return data


# ---- the case list's filters ------------------------------------------------------------------

YES_NO = [("", _("Any")), ("yes", _("Overdue only")), ("no", _("Not overdue"))]
SORTS = [
    ("-reported", _("Newest reports first")),
    ("reported", _("Oldest reports first")),
    ("deadline", _("Nearest deadline first")),
    ("-deadline", _("Latest deadline first")),
]
FILTER_KEYS = ("area", "category", "state", "source", "overdue", "reported_from", "reported_to", "q", "sort")


class AreaField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:  # type: ignore[override]
        depth = AREA_LEVEL.get(obj.kind, 0)
        return "\u3000" * depth + obj.name


class CaseFilterForm(forms.Form):
    """The filters of the scoped case list and map; every choice is limited to what the user sees."""

    q = forms.CharField(label=_("Ticket or text"), required=False, max_length=100)
    area = AreaField(label=_("Area"), queryset=None, required=False, empty_label=_("All my areas"))
    category = CategoryField(label=_("Category"), required=False, widget=forms.TextInput(attrs={"list": "category-codes", "autocomplete": "off"}))
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("Any state")), *State.choices])
    source = forms.ChoiceField(label=_("Source"), required=False, choices=[("", _("Any source")), *Source.choices])
    overdue = forms.ChoiceField(label=_("Overdue"), required=False, choices=YES_NO)
    reported_from = forms.DateField(label=_("Reported from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    reported_to = forms.DateField(label=_("Reported until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=SORTS)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        areas = policy.visible_areas(user).order_by("path")
        self.fields["area"].queryset = areas  # type: ignore[attr-defined]
        self.has_areas = areas.exists()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("reported_from"), data.get("reported_to")
        if start and end and end < start:
            self.add_error("reported_to", _("The end date is before the start date."))
        return data

    def selector_kwargs(self) -> dict[str, Any]:
        """Arguments for ``cases.selectors.case_list`` (dates are whole local days)."""
        data = self.cleaned_data
        tz = timezone.get_current_timezone()
        since = until = None
        if data.get("reported_from"):
            since = dt.datetime.combine(data["reported_from"], dt.time.min, tzinfo=tz)
        if data.get("reported_to"):
            until = dt.datetime.combine(data["reported_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        overdue = {"yes": True, "no": False}.get(data.get("overdue") or "")
        return {
            "state": data.get("state") or None,
            "overdue": overdue,
            "area_path": data["area"].path if data.get("area") else None,
            "category_code": data["category"].code if data.get("category") else None,
            "source": data.get("source") or None,
            "since": since,
            "until": until,
        }


def filter_querystring(params: QueryDict | dict[str, Any]) -> str:
    """Only the filter keys, non-empty, in a stable order: what a saved view stores."""
    out = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        values = params.getlist(key) if isinstance(params, QueryDict) else [params.get(key)]
        for value in values:
            if value not in (None, ""):
                out.appendlist(key, str(value)[:200])
    return out.urlencode()


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Name this view"), max_length=SavedView._meta.get_field("name").max_length)
    querystring = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Please give the view a name."))
        return name

    def clean_querystring(self) -> str:
        return filter_querystring(QueryDict(self.cleaned_data.get("querystring") or ""))
