"""The REST endpoints under ``/api/v1/``: parse → one action or selector → render.

Scoping is ``org.policy``'s, exactly as on the web: a case outside the caller's area or
unit answers 404 like a missing one; reporters' contacts follow ``sees_reporter_contacts``
of the case page; refusals of the engine (``CivicError``) become the error body of
``api/errors.py`` with 400/403/404/409/429.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicloop.api.models import ApiToken, Scope
from civicloop.api.pagination import CivicCursorPagination
from civicloop.api.throttling import client_ip
from civicloop.cases import actions as A
from civicloop.cases.models import Case, CaseUnit, Family, Source
from civicloop.cases.workflow import ACTION_LABELS, Action, actions_from
from civicloop.core.errors import CivicError, ErrorCode, NotFoundOrForbidden, ValidationFailed
from civicloop.moderation.actions import report_submit
from civicloop.moderation.models import Channel
from civicloop.org import policy
from civicloop.web import casepage

from . import inputs, queries
from . import serializers as out
from .case_actions import BY_ACTION, SPECS, ActionSpec
from .schema import BODY, COMMON, CivicAutoSchema, error_responses

CASE_ID = OpenApiParameter(
    "case_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The case's id."
)
PHOTO_ERRORS = {ErrorCode.BAD_FILE, ErrorCode.FILE_TOO_LARGE}


class ApiView(APIView):
    schema = CivicAutoSchema()
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def context(self) -> dict[str, Any]:
        return {"request": self.request}


def parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _case_id(value: str) -> int:
    """The id in the path; anything that cannot be an id (not digits, beyond any database id)
    names no case and never reaches the database."""
    if not (value.isascii() and value.isdigit()) or int(value) > inputs.MAX_ID:
        raise NotFoundOrForbidden(_("No such case, or it is not in your area."))
    return int(value)


def _user(request: Request) -> Any:
    user = request.user
    return user if user is not None and user.is_authenticated else None


# ---- cases ------------------------------------------------------------------------------------------


class CaseListView(ApiView):
    """Staff read the cases of their area and unit; anyone may report (rate-limited)."""

    pagination_class = CivicCursorPagination
    anonymous_allowed = ("POST",)

    @extend_schema(
        operation_id="cases_list",
        summary="List the caller's cases",
        description="Cases the caller may see (their areas and units, as on the web), newest first, "
        "with cursor pagination. Staff only; the public follow reports through Open311.",
        parameters=[inputs.CaseFilterSerializer],
        responses={200: out.CaseSerializer(many=True), **error_responses(400, 404, *COMMON)},
        tags=["cases"],
    )
    def get(self, request: Request) -> Response:
        filters = parse(inputs.CaseFilterSerializer, request.query_params)
        qs = queries.case_search(user=request.user, filters=filters, now=timezone.now())
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            out.CaseSerializer(page, many=True, context=self.context()).data
        )

    @extend_schema(
        operation_id="cases_create",
        summary="Report a problem",
        description="Creates a report through the same checks as the web form: a published report answers "
        "201 with the case and the reporter's own ticket number (joining an open case of the same problem "
        "nearby); a report whose text looks like spam or abuse is held for moderation and answers 202 "
        "with a reference — no case exists then. Without a token the number of reports per address and hour is limited.",
        request={
            "application/json": inputs.ReportCreateSerializer,
            "multipart/form-data": inputs.ReportCreateSerializer,
        },
        responses={
            201: out.ReportPublishedSerializer,
            202: out.ReportHeldSerializer,
            **error_responses(400, BODY, *COMMON),
        },
        tags=["cases"],
    )
    def post(self, request: Request) -> Response:
        data = parse(inputs.ReportCreateSerializer, request.data)
        user = _user(request)
        staff = queries.is_staff(user)
        if data.get("source") and not staff and data["source"] != Source.RESIDENT:
            raise ValidationFailed(_("Only staff may set the source of a report."), field="source")
        submitted = report_submit(
            channel=Channel.API,
            ip=client_ip(request),
            category=data["category"],
            lat=data["lat"],
            lon=data["lon"],
            crs=data.get("crs") or "wgs84",
            description=data["description"],
            source=data.get("source") or (Source.API if staff else Source.RESIDENT),
            by=user,
            api_token=request.auth if isinstance(request.auth, ApiToken) else None,
            name=data["name"],
            phone=data["phone"],
            email=data["email"],
            address=data["address"],
            photos=data.get("photos") or [],
        )
        if submitted.held is not None:
            body = {
                "status": "held",
                "reference": submitted.held.token,
                "message": _(
                    "Thank you. Your report will be published after a check by the service centre."
                ),
            }
            return Response(body, status=status.HTTP_202_ACCEPTED)
        report = submitted.report
        assert report is not None
        # A resident who joined someone else's case must not read that reporter's words or ticket.
        shown = not report.joined_existing or (
            staff and policy.visible_cases(user).filter(pk=report.case_id).exists()
        )
        body = {
            "status": "published",
            "ticket_no": report.ticket_no,
            "joined_existing": report.joined_existing,
            "case": out.CaseSerializer(report.case, context=self.context()).data if shown else None,
        }
        return Response(body, status=status.HTTP_201_CREATED)


def reporters_of(case: Case, contacts: bool) -> list[dict[str, Any]]:
    return [
        {
            "number": r.number,
            "name": r.name,
            "phone": r.phone if contacts else None,
            "email": r.email if contacts else None,
            "ticket_no": r.report.ticket_no if contacts else None,
            "source": r.report.source,
            "reported_at": r.report.created_at,
            "joined_existing": r.report.joined_existing,
        }
        for r in casepage.reporters_of(case, contacts)
    ]


class CaseDetailView(ApiView):
    @extend_schema(
        operation_id="cases_retrieve",
        summary="One case",
        description="With its reporters: names, phones, e-mail addresses and ticket numbers only for the "
        "area's dispatchers and grid workers (as on the case page); others read “Reporter 1” ….",
        parameters=[CASE_ID],
        responses={200: out.CaseDetailSerializer, **error_responses(404, *COMMON)},
        tags=["cases"],
    )
    def get(self, request: Request, case_id: str) -> Response:
        case = queries.staff_case(request.user, _case_id(case_id))
        contacts = casepage.sees_reporter_contacts(request.user, case)
        data = dict(out.CaseSerializer(case, context=self.context()).data)
        data.update(
            contacts_visible=contacts,
            reporters=reporters_of(case, contacts),
            co_units=[
                {"code": cu.unit.code, "name": cu.unit.name}
                for cu in case.case_units.filter(role=CaseUnit.Role.ASSIST, active=True)
                .select_related("unit")
                .order_by("id")
            ],
            escalated_to=out.AreaRefSerializer(case.escalated_to).data
            if case.escalated_to_id
            else None,
            handled_on_time=case.handled_on_time,
            closed_on_time=case.closed_on_time,
            extension_requests=out.ExtensionRequestSerializer(
                case.extension_requests.select_related("unit").order_by("-created_at", "-id"),
                many=True,
            ).data,
        )
        return Response(data)


class CaseTimelineView(ApiView):
    @extend_schema(
        operation_id="cases_timeline",
        summary="The case's timeline",
        description="Every step, oldest first, as the case page shows it to this caller (reporters masked "
        "for those who may not see contacts); photos as public copies.",
        parameters=[CASE_ID],
        responses={200: out.EventSerializer(many=True), **error_responses(404, *COMMON)},
        tags=["cases"],
    )
    def get(self, request: Request, case_id: str) -> Response:
        case = queries.staff_case(request.user, _case_id(case_id))
        contacts = casepage.sees_reporter_contacts(request.user, case)
        steps = casepage.timeline_steps(case, casepage.reporters_of(case, contacts), contacts)
        return Response(out.EventSerializer(steps, many=True, context=self.context()).data)


class CaseAttachmentsView(ApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="cases_attachments_list",
        summary="The case's photos",
        description="Public copies only (EXIF-free); originals never leave the server.",
        parameters=[CASE_ID],
        responses={200: out.PhotoSerializer(many=True), **error_responses(404, *COMMON)},
        tags=["cases"],
    )
    def get(self, request: Request, case_id: str) -> Response:
        case = queries.staff_case(request.user, _case_id(case_id))
        photos = case.photos.order_by("created_at", "id")
        return Response(out.PhotoSerializer(photos, many=True, context=self.context()).data)

    @extend_schema(
        operation_id="cases_attachments_create",
        summary="Add photos to an open case",
        description="The handling unit adds progress photos (“after”), the area's staff photos of the problem "
        "(“before”). Each photo passes the same checks as on the web (size, type by content).",
        parameters=[CASE_ID],
        request={"multipart/form-data": inputs.PhotoAddInput},
        responses={201: out.PhotoSerializer(many=True), **error_responses(400, 404, BODY, *COMMON)},
        tags=["cases"],
    )
    def post(self, request: Request, case_id: str) -> Response:
        case = queries.staff_case(request.user, _case_id(case_id))
        data = parse(inputs.PhotoAddInput, request.data)
        try:
            photos = A.case_photo_add(
                case=case, by=request.user, photos=data["photos"], note=data["note"]
            )
        except CivicError as exc:
            if exc.field is None and exc.code in PHOTO_ERRORS:
                exc.field = "photos"
            raise
        return Response(
            out.PhotoSerializer(photos, many=True, context=self.context()).data,
            status=status.HTTP_201_CREATED,
        )


# ---- workflow actions ----------------------------------------------------------------------------------


def _offers(request: Request, case: Case) -> dict[str, Any]:
    """What the caller may do now: the case page's own rule (``web.casepage``)."""
    user, now = request.user, timezone.now()
    pending = case.extension_requests.filter(decision="pending").first()
    offers: list[dict[str, Any]] = []
    others: list[str] = []
    handler_ids: set[int] | None = None
    for action in actions_from(case.state):
        spec = BY_ACTION.get(action)
        if spec is None or not casepage.action_offered(action, case, now, pending):
            continue
        if action in casepage.VERIFIER_ACTIONS and handler_ids is None:
            handler_ids = A._handler_ids(case)
        if not policy.may(user, action, case, handler_ids=handler_ids):
            others.append(str(ACTION_LABELS[action]))
            continue
        url = request.build_absolute_uri(
            reverse(f"api:case-action-{spec.slug}", kwargs={"case_id": case.pk})
        )
        offers.append(
            {
                "action": spec.slug,
                "workflow_action": action.value,
                "label": str(ACTION_LABELS[action]),
                "params": spec.params.get(action, {}),
                "url": url,
            }
        )
    hint = ""
    if (
        case.lookback_due_at
        and case.lookback_due_at > now
        and Action.LOOKBACK_PASS in actions_from(case.state)
    ):
        hint = _("The look-back is due from %(date)s.") % {
            "date": timezone.localtime(case.lookback_due_at).strftime("%Y-%m-%d")
        }
    return {
        "state": case.state,
        "version": case.version,
        "actions": offers,
        "not_yours": others,
        "hint": hint,
    }


class CaseActionsView(ApiView):
    @extend_schema(
        operation_id="cases_actions_list",
        summary="What the caller may do with the case now",
        description="The workflow actions the case's state allows and the caller's role may take, with the "
        "case's current version to send along; the same offer as the case page.",
        parameters=[CASE_ID],
        responses={200: out.CaseActionsSerializer, **error_responses(404, *COMMON)},
        tags=["actions"],
    )
    def get(self, request: Request, case_id: str) -> Response:
        case = queries.staff_case(request.user, _case_id(case_id))
        return Response(_offers(request, case))


class CaseActionView(ApiView):
    """Base of the per-action endpoints built by ``action_view``."""

    spec: ActionSpec

    def post(self, request: Request, case_id: str) -> Response:
        spec = self.spec
        case = policy.access_case(request.user, _case_id(case_id))
        data = parse(spec.input, request.data)
        # The engine compares this with the row it locks: a copy read before someone
        # else's change is refused as a conflict, never applied over it.
        case.version = data["version"]
        try:
            case = spec.perform(case, request.user, data)
        except CivicError as exc:
            if exc.field in spec.fields:
                exc.field = spec.fields[exc.field]
            elif exc.field is None and exc.code in PHOTO_ERRORS:
                exc.field = "photos"
            raise
        return Response(out.CaseSerializer(case, context=self.context()).data)


def action_view(spec: ActionSpec) -> type[CaseActionView]:
    labels = ", ".join(a.value for a in spec.actions)
    media = {"application/json": spec.input, "multipart/form-data": spec.input}

    def post(self: CaseActionView, request: Request, case_id: str) -> Response:
        return CaseActionView.post(self, request, case_id)

    view = type(
        f"CaseAction_{spec.slug.replace('-', '_')}", (CaseActionView,), {"spec": spec, "post": post}
    )
    view.post = extend_schema(  # type: ignore[method-assign]
        operation_id=f"cases_actions_{spec.slug.replace('-', '_')}",
        summary=spec.summary,
        description=f"Workflow action {labels}. Send the case's `version`; a newer one answers 409. "
        "The engine checks the caller's role and area, the case's state and the input; refusals answer "
        "400 (input, state), 403 (role) or 404 (not in the caller's scope).",
        parameters=[CASE_ID],
        request=media,
        responses={200: out.CaseSerializer, **error_responses(400, 404, 409, BODY, *COMMON)},
        tags=["actions"],
    )(post)
    return view


ACTION_VIEWS = [(spec.slug, action_view(spec)) for spec in SPECS]


# ---- reference data ----------------------------------------------------------------------------------


class CategoryListView(ApiView):
    anonymous_allowed = ("GET",)

    @extend_schema(
        operation_id="categories_list",
        summary="Problem categories (GB/T 30428)",
        description="Active categories with their codes and time limits. Public.",
        parameters=[inputs.CategoryFilterSerializer],
        responses={200: out.CategorySerializer(many=True), **error_responses(400, *COMMON)},
        tags=["reference"],
    )
    def get(self, request: Request) -> Response:
        filters = parse(inputs.CategoryFilterSerializer, request.query_params)
        return Response(out.CategorySerializer(queries.categories(filters=filters), many=True).data)


class CategoryTreeView(ApiView):
    anonymous_allowed = ("GET",)

    @extend_schema(
        operation_id="categories_tree",
        summary="Problem categories as a tree",
        description="Family (components 部件 / events 事件) → big class → small class. Public.",
        responses={200: out.FamilySerializer(many=True), **error_responses(*COMMON)},
        tags=["reference"],
    )
    def get(self, request: Request) -> Response:
        tree: dict[str, dict[str, dict[str, Any]]] = {}
        for cat in queries.categories(filters={}):
            bigs = tree.setdefault(cat.family, {})
            big = bigs.setdefault(
                cat.big_code, {"big_code": cat.big_code, "big_name": cat.big_name, "categories": []}
            )
            big["categories"].append(out.SmallClassSerializer(cat).data)
        families = [
            {
                "family": family,
                "label": str(Family(family).label),
                "big_classes": list(bigs.values()),
            }
            for family, bigs in tree.items()
        ]
        return Response(families)


class AreaListView(ApiView):
    anonymous_allowed = ("GET",)

    @extend_schema(
        operation_id="places_areas_list",
        summary="Areas as GeoJSON",
        description="City, districts, street offices, communities and grids as a GeoJSON FeatureCollection "
        "(WGS-84). Boundaries are public, as on the web's maps.",
        parameters=[inputs.AreaFilterSerializer],
        responses={
            (200, "application/json"): out.AreaCollectionSerializer,
            **error_responses(400, *COMMON),
        },
        tags=["reference"],
    )
    def get(self, request: Request) -> Response:
        filters = parse(inputs.AreaFilterSerializer, request.query_params)
        geometry = filters.get("geometry", True)
        features = [out.area_feature(a, geometry=geometry) for a in queries.areas(filters=filters)]
        return Response({"type": "FeatureCollection", "features": features})


class AreaDetailView(ApiView):
    anonymous_allowed = ("GET",)

    @extend_schema(
        operation_id="places_areas_retrieve",
        summary="One area as a GeoJSON Feature",
        parameters=[
            OpenApiParameter(
                "code",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=r"^[0-9A-Za-z._-]{1,20}$",
                description="The area's code (district 6 digits … grid 15 digits).",
            )
        ],
        responses={200: out.AreaFeatureSerializer, **error_responses(404, *COMMON)},
        tags=["reference"],
    )
    def get(self, request: Request, code: str) -> Response:
        return Response(out.area_feature(queries.area_get(code), geometry=True))


class UnitListView(ApiView):
    @extend_schema(
        operation_id="units_list",
        summary="Handling units",
        description="Every active unit a case may be dispatched to; `mine=true`: the caller's own. Staff only.",
        parameters=[inputs.UnitFilterSerializer],
        responses={200: out.UnitSerializer(many=True), **error_responses(400, *COMMON)},
        tags=["reference"],
    )
    def get(self, request: Request) -> Response:
        filters = parse(inputs.UnitFilterSerializer, request.query_params)
        return Response(
            out.UnitSerializer(
                queries.units(user=request.user, mine=filters["mine"]), many=True
            ).data
        )


class MeView(ApiView):
    @extend_schema(
        operation_id="me",
        summary="Who the caller acts as",
        description="The user behind the token (or session), the roles binding him to areas and units, and "
        "the scopes of this request.",
        responses={200: out.MeSerializer, **error_responses(*COMMON)},
        tags=["reference"],
    )
    def get(self, request: Request) -> Response:
        user = request.user
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None:
            scopes = [s for s in Scope.values if token.has_scope(s)]
        else:
            scopes = [Scope.READ, Scope.WRITE] + ([Scope.ADMIN] if user.is_superuser else [])
        roles = [
            {
                "role": ra.role,
                "role_label": ra.get_role_display(),
                "area": out.AreaRefSerializer(ra.area).data if ra.area_id else None,
                "unit": out.UnitRefSerializer(ra.unit).data if ra.unit_id else None,
            }
            for ra in user.roles.select_related("area", "unit").order_by("id")
        ]
        body = {
            "id": user.pk,
            "username": user.username,
            "display_name": user.display_name,
            "is_admin": policy.is_admin(user),
            "is_staff": queries.is_staff(user),
            "roles": roles,
            "scopes": scopes,
            "token": out.TokenInfoSerializer(token).data if token is not None else None,
        }
        return Response(body)
