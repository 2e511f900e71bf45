"""Forms of the ledger pages: they parse input only (the checks live in ``ledger.importing``)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

LANGS = [("zh-hans", _("Chinese headers")), ("en", _("English headers"))]
CRS = [("wgs84", _("WGS-84 (GPS, Tianditu)")), ("gcj02", _("GCJ-02 (Amap, Tencent, WeChat)"))]


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Ledger file (.xlsx or .csv)"),
        error_messages={"required": _("Choose a file to upload.")},
    )
    crs = forms.ChoiceField(label=_("Coordinates in the file"), choices=CRS, initial="wgs84")


class ExportForm(forms.Form):
    querystring = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)
    lang = forms.ChoiceField(label=_("Headers"), choices=LANGS, initial="zh-hans", required=False)
