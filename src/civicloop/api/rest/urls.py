"""Routes of the REST API, mounted at ``/api/v1/`` (names in the ``api`` namespace).

Path parameters match any segment and are checked by the views, so a malformed id answers
the API's JSON 404 like an unknown one, never the site's HTML page.
"""

from django.urls import URLPattern, path, re_path

from . import (
    schema,  # noqa: F401  (registers the token scheme with drf-spectacular)
    views,
)

CASE = r"^cases/(?P<case_id>[^/]+)/"

urlpatterns: list[URLPattern] = [
    path("cases/", views.CaseListView.as_view(), name="case-list"),
    re_path(CASE + r"$", views.CaseDetailView.as_view(), name="case-detail"),
    re_path(CASE + r"timeline/$", views.CaseTimelineView.as_view(), name="case-timeline"),
    re_path(CASE + r"attachments/$", views.CaseAttachmentsView.as_view(), name="case-attachments"),
    re_path(CASE + r"actions/$", views.CaseActionsView.as_view(), name="case-actions"),
    *[
        re_path(CASE + rf"actions/{slug}/$", view.as_view(), name=f"case-action-{slug}")
        for slug, view in views.ACTION_VIEWS
    ],
    path("categories/", views.CategoryListView.as_view(), name="category-list"),
    path("categories/tree/", views.CategoryTreeView.as_view(), name="category-tree"),
    path("places/areas/", views.AreaListView.as_view(), name="area-list"),
    re_path(r"^places/areas/(?P<code>[^/]+)/$", views.AreaDetailView.as_view(), name="area-detail"),
    path("units/", views.UnitListView.as_view(), name="unit-list"),
    path("me/", views.MeView.as_view(), name="me"),
]
