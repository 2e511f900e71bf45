"""The action forms of the case page: one small form per workflow action.

Forms only parse what the browser sends (types, choices, files); every rule about
the case itself (a reason is required, a photo is required, the state allows it,
the copy is not stale) is the engine's (``cases.actions``), so the web page, the
API and the CLI refuse the same things with the same words. Text fields that the
engine requires carry the HTML ``required`` attribute for the browser's sake only.

Every form carries the case's ``version`` as a hidden field: the view hands the
engine a case with that version, so a form opened before someone else's change is
refused as a conflict instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from civicloop.cases.models import Category
from civicloop.cases.workflow import Action
from civicloop.org.models import Unit

NOTE_MAX = 2000


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input; the engine checks each one's size and content."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultiplePhotoField, self).clean(item, initial) for item in items]


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return f"{obj.code} {obj.big_name} › {obj.name}"


def _text(label: Any, *, required_by_engine: bool = False, help_text: Any = "") -> forms.CharField:
    attrs: dict[str, Any] = {"rows": 2, "maxlength": NOTE_MAX}
    if required_by_engine:
        attrs["required"] = True
    return forms.CharField(label=label, required=False, widget=forms.Textarea(attrs=attrs), help_text=help_text)


def _categories() -> Any:
    return Category.objects.filter(active=True).order_by("family", "big_code", "small_code")


def _units() -> Any:
    # Any active unit may be given a case (the engine's rule); not a list of the user's own units.
    return Unit.objects.filter(active=True).order_by("code")


def _photo_widget(multiple: bool) -> forms.ClearableFileInput:
    widget: forms.ClearableFileInput = MultipleFileInput() if multiple else forms.ClearableFileInput()
    widget.attrs.update({"accept": "image/jpeg,image/png,image/webp", "capture": "environment"})
    return widget


class ActionForm(forms.Form):
    """Base of every action form: the version the user saw, and where engine errors land."""

    action: Action
    # The engine names some fields differently from the form ("reason" for a note
    # that is required on failure): engine field → form field.
    error_fields: dict[str, str] = {}
    # Photo checks in the engine carry no field; they belong to this one.
    photo_field: str | None = None
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, case: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.action.value}_%s")
        super().__init__(*args, **kwargs)
        self.case = case
        if case is not None and not self.is_bound:
            self.initial.setdefault("version", case.version)

    @property
    def has_files(self) -> bool:
        return self.photo_field is not None

    def field_for_error(self, field: str | None) -> str | None:
        name = self.error_fields.get(field or "", field)
        return name if name in self.fields else None


class _CategoryForm(ActionForm):
    """An action form with a category field, filled with the active categories and the
    case's current one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = _categories()  # type: ignore[attr-defined]
        if self.case is not None:
            self.initial.setdefault("category", self.case.category_id)


class RegisterForm(_CategoryForm):
    action = Action.REGISTER
    category = CategoryChoiceField(queryset=Category.objects.none(), required=False, label=_("Category"),
                                   help_text=_("Change it here if the reporter chose the wrong one."))
    note = _text(_("Note"))



class RejectForm(ActionForm):
    action = Action.REJECT
    reason = _text(_("Reason"), required_by_engine=True, help_text=_("The reporter can read this reason."))


class VoidForm(ActionForm):
    action = Action.VOID
    reason = _text(_("Reason"), required_by_engine=True)


class ReclassifyForm(_CategoryForm):
    action = Action.RECLASSIFY
    category = CategoryChoiceField(queryset=Category.objects.none(), label=_("New category"))
    note = _text(_("Note"))



class DispatchForm(ActionForm):
    action = Action.DISPATCH
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False, label=_("Main handling unit"),
                                  empty_label=_("(the routing rule's unit)"))
    co_units = forms.ModelMultipleChoiceField(queryset=Unit.objects.none(), required=False, label=_("Co-handling units"),
                                              help_text=_("Optional. Hold Ctrl (or ⌘) to pick several."))
    note = _text(_("Instructions for the unit"))

    def __init__(self, *args: Any, default_unit: Unit | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = _units()  # type: ignore[attr-defined]
        self.fields["co_units"].queryset = _units()  # type: ignore[attr-defined]
        if default_unit is not None:
            self.initial.setdefault("unit", default_unit.pk)


class ReassignForm(ActionForm):
    action = Action.REASSIGN
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), label=_("New main handling unit"))
    reason = _text(_("Reason"), required_by_engine=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        qs = _units()
        if self.case is not None and self.case.unit_id:
            qs = qs.exclude(pk=self.case.unit_id)
        self.fields["unit"].queryset = qs  # type: ignore[attr-defined]


class AddCoUnitForm(ActionForm):
    action = Action.ADD_CO_UNIT
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), label=_("Co-handling unit"))
    note = _text(_("Note"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        qs = _units()
        if self.case is not None and self.case.unit_id:
            qs = qs.exclude(pk=self.case.unit_id)
        self.fields["unit"].queryset = qs  # type: ignore[attr-defined]


class NoteForm(ActionForm):
    """Actions that need nothing but an optional note."""

    note = _text(_("Note"))


class AcceptForm(NoteForm):
    action = Action.ACCEPT


class ResumeForm(NoteForm):
    action = Action.RESUME


class UrgeForm(NoteForm):
    action = Action.URGE
    note = _text(_("Message to the unit"))


class EscalateForm(NoteForm):
    action = Action.ESCALATE


class ReturnForm(ActionForm):
    action = Action.RETURN
    reason = _text(_("Why this case is not yours"), required_by_engine=True)


class DeferForm(ActionForm):
    action = Action.DEFER
    reason = _text(_("Reason"), required_by_engine=True, help_text=_("The clock stops and keeps the time left."))


class FeedbackForm(ActionForm):
    action = Action.FEEDBACK
    photo_field = "photos"
    note = _text(_("What was done"), required_by_engine=True)
    photos = MultiplePhotoField(label=_("Photos of the result"), required=False, widget=_photo_widget(True),
                                help_text=_("At least one photo (JPEG, PNG or WebP)."))


class VerifyPassForm(ActionForm):
    action = Action.VERIFY_PASS
    photo_field = "photo"
    note = _text(_("Note"))
    photo = forms.FileField(label=_("Photo from the site"), required=False, widget=_photo_widget(False), help_text=_("Optional."))


class VerifyFailForm(ActionForm):
    action = Action.VERIFY_FAIL
    photo_field = "photo"
    error_fields = {"reason": "note"}
    note = _text(_("What is still wrong"), required_by_engine=True)
    photo = forms.FileField(label=_("Photo from the site"), required=False, widget=_photo_widget(False), help_text=_("Optional."))


class RequestExtensionForm(ActionForm):
    action = Action.REQUEST_EXTENSION
    until = forms.DateTimeField(label=_("New deadline"),
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    reason = _text(_("Reason"), required_by_engine=True)


class DecideExtensionForm(ActionForm):
    action = Action.DECIDE_EXTENSION
    error_fields = {"reason": "note"}
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect,
                                 choices=[("approve", _("Approve")), ("deny", _("Deny"))])
    note = _text(_("Note"), help_text=_("Required when you deny."))


class LookbackPassForm(ActionForm):
    action = Action.LOOKBACK_PASS
    photo_field = "photo"
    note = _text(_("Note"))
    photo = forms.FileField(label=_("Photo from the site"), required=False, widget=_photo_widget(False), help_text=_("Optional."))


class LookbackFailForm(ActionForm):
    action = Action.LOOKBACK_FAIL
    photo_field = "photo"
    error_fields = {"reason": "note"}
    note = _text(_("What came back"), required_by_engine=True, help_text=_("A new case is opened with this description."))
    photo = forms.FileField(label=_("Photo from the site"), required=False, widget=_photo_widget(False), help_text=_("Optional."))


FORMS: dict[Action, type[ActionForm]] = {
    f.action: f
    for f in (
        RegisterForm, RejectForm, VoidForm, ReclassifyForm, DispatchForm, ReassignForm, AddCoUnitForm,
        AcceptForm, ReturnForm, FeedbackForm, VerifyPassForm, VerifyFailForm, RequestExtensionForm,
        DecideExtensionForm, DeferForm, ResumeForm, UrgeForm, EscalateForm, LookbackPassForm, LookbackFailForm,
    )
}


def photos_of(form: ActionForm) -> Sequence[Any]:
    """The uploads of a valid form as the list the engine takes."""
    if form.photo_field is None:
        return []
    value = form.cleaned_data.get(form.photo_field)
    if not value:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
