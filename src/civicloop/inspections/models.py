"""Assessment standards (测评标准): versioned checklists per location type.

A standard is identified by its ``code``; each change after publication is a new
``version`` of that code. A published version never changes (rounds score against the
exact version they started with): sections and items refuse to be saved or deleted
once their version has left the draft state, and the actions in ``actions.py`` are
the only writers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from civicloop.cases.models import TimeLimitKind
from civicloop.core.errors import ConflictError
from civicloop.places.models import GeometryMixin


class LocationType(models.TextChoices):
    BACK_STREET = "back_street", _("Back street (背街小巷)")
    OLD_COMMUNITY = "old_community", _("Old community (老旧小区)")
    URBAN_VILLAGE = "urban_village", _("Urban village (城中村)")
    MARKET = "market", _("Farmers' market (农贸市场)")
    RESIDENTIAL_COMPOUND = "residential_compound", _("Residential compound (住宅小区)")
    CONSTRUCTION_HOARDING = "construction_hoarding", _("Construction hoarding (施工围挡)")
    MAIN_ROAD = "main_road", _("Main road (主次干道)")
    PUBLIC_TOILET = "public_toilet", _("Public toilet (公共厕所)")
    OTHER = "other", _("Other location")


class StandardStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class DeductionRule(models.TextChoices):
    PER_OCCURRENCE = "per_occurrence", _("Per occurrence, up to the item's points (每处扣分)")
    FIXED = "fixed", _("Fixed deduction when found (发现即扣)")
    VETO = "veto", _("Veto (一票否决)")


class VetoScope(models.TextChoices):
    SECTION = "section", _("The section scores zero")
    LOCATION = "location", _("The whole location scores zero")


class Standard(models.Model):
    """One version of an assessment standard."""

    code = models.CharField(
        _("code"), max_length=32, help_text=_("Shared by every version of the standard.")
    )
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=120)
    location_type = models.CharField(
        _("location type"), max_length=32, choices=LocationType.choices
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=StandardStatus.choices,
        default=StandardStatus.DRAFT,
        db_index=True,
    )
    based_on = models.ForeignKey(
        "self",
        verbose_name=_("based on"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        ordering = ["code", "-version"]
        verbose_name = _("assessment standard")
        verbose_name_plural = _("assessment standards")
        constraints = [
            models.UniqueConstraint(
                fields=["code", "version"], name="inspections_standard_code_version"
            ),
            # One draft and one current (published) version per standard at a time.
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(status="draft"),
                name="inspections_standard_one_draft",
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(status="published"),
                name="inspections_standard_one_published",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="inspections_standard_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_draft(self) -> bool:
        return self.status == StandardStatus.DRAFT

    @property
    def reference(self) -> str:
        """``CODE-vN``: names this exact version in exported files."""
        return f"{self.code}-v{self.version}"


def _require_draft(standard_id: int | None) -> None:
    if standard_id is None:
        return
    status = Standard.objects.filter(pk=standard_id).values_list("status", flat=True).first()
    if status is not None and status != StandardStatus.DRAFT:
        raise ConflictError(gettext("A published standard cannot change: start a new version."))


class Section(models.Model):
    """A section (测评项目) of a standard; its full points are the sum of its items'."""

    standard = models.ForeignKey(
        Standard, verbose_name=_("standard"), on_delete=models.CASCADE, related_name="sections"
    )
    position = models.PositiveIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["standard", "position"]
        verbose_name = _("section")
        verbose_name_plural = _("sections")
        constraints = [
            models.UniqueConstraint(
                fields=["standard", "position"], name="inspections_section_position"
            ),
            models.UniqueConstraint(fields=["standard", "name"], name="inspections_section_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        _require_draft(self.standard_id)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        _require_draft(self.standard_id)
        return super().delete(*args, **kwargs)


class Item(models.Model):
    """An item (测评内容): what is checked, its points and how a finding deducts them."""

    section = models.ForeignKey(
        Section, verbose_name=_("section"), on_delete=models.CASCADE, related_name="items"
    )
    position = models.PositiveIntegerField(_("position"))
    content = models.TextField(_("content"), max_length=1000)
    full_points = models.DecimalField(
        _("points"), default=Decimal("0"), max_digits=6, decimal_places=2
    )
    rule = models.CharField(_("deduction rule"), max_length=16, choices=DeductionRule.choices)
    # Per occurrence: deducted for each occurrence; fixed: deducted once when found. Never
    # more than ``full_points`` in all. Veto items deduct their full points when hit.
    deduction = models.DecimalField(
        _("deduction"), default=Decimal("0"), max_digits=6, decimal_places=2
    )
    veto_scope = models.CharField(
        _("veto scope"), max_length=16, choices=VetoScope.choices, blank=True
    )
    photos_required = models.PositiveSmallIntegerField(_("photos required"), default=0)
    unit = models.ForeignKey(
        "org.Unit",
        verbose_name=_("default responsible unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("case category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    rectify_limit_kind = models.CharField(
        _("rectification time limit type"), max_length=20, choices=TimeLimitKind.choices, blank=True
    )
    rectify_limit_value = models.PositiveIntegerField(
        _("rectification time limit"), null=True, blank=True
    )

    class Meta:
        ordering = ["section", "position"]
        verbose_name = _("item")
        verbose_name_plural = _("items")
        constraints = [
            models.UniqueConstraint(
                fields=["section", "position"], name="inspections_item_position"
            ),
            models.CheckConstraint(
                condition=models.Q(full_points__gte=0), name="inspections_item_points_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(deduction__gte=0)
                & models.Q(deduction__lte=models.F("full_points")),
                name="inspections_item_deduction_in_points",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(rectify_limit_kind="") & models.Q(rectify_limit_value__isnull=True)
                )
                | (~models.Q(rectify_limit_kind="") & models.Q(rectify_limit_value__gt=0)),
                name="inspections_item_rectify_limit_pair",
            ),
        ]

    def __str__(self) -> str:
        return self.content[:60]

    def save(self, *args: Any, **kwargs: Any) -> None:
        standard_id = (
            Section.objects.filter(pk=self.section_id).values_list("standard_id", flat=True).first()
        )
        _require_draft(standard_id)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        _require_draft(self.section.standard_id)
        return super().delete(*args, **kwargs)


# ---- inspection sites (督查点位) -----------------------------------------------------------------


class Site(GeometryMixin):
    """A place that can be sampled and inspected: a back street, a compound, a market …

    ``area`` is the smallest area the site lies in (its community, or its street office
    for a back street that crosses communities); ``area_path`` copies its path so that
    scoping and the community / street / district roll-ups are prefix matches. ``unit``
    is the unit answerable for the site (居委会, 物业, 街道办 …): findings go to the
    standard item's unit when it names one, otherwise to this unit.
    """

    name = models.CharField(_("name"), max_length=120)
    location_type = models.CharField(_("location type"), max_length=32, choices=LocationType.choices)
    area = models.ForeignKey("places.Area", verbose_name=_("area"), on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=255, db_index=True, editable=False)
    unit = models.ForeignKey(
        "org.Unit", verbose_name=_("responsible unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    compound = models.ForeignKey(
        "places.Compound", verbose_name=_("compound"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    back_street = models.ForeignKey(
        "places.BackStreet", verbose_name=_("back street"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["area_path", "name", "id"]
        verbose_name = _("inspection site")
        verbose_name_plural = _("inspection sites")
        constraints = [
            models.UniqueConstraint(fields=["area", "location_type", "name"], name="inspections_site_name_in_area"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.area_path = _path_of(self.area_id)
        super().save(*args, **kwargs)


def _path_of(area_id: int | None) -> str:
    from civicloop.places.models import Area

    return Area.objects.filter(pk=area_id).values_list("path", flat=True).first() or ""


# ---- rounds (督查轮次) -------------------------------------------------------------------------------


class RoundKind(models.TextChoices):
    OPEN = "open", _("Open inspection (明查)")
    UNDERCOVER = "undercover", _("Undercover inspection (暗访)")


class RoundStatus(models.TextChoices):
    DRAFT = "draft", _("Planning")
    ACTIVE = "active", _("Inspecting")
    CLOSED = "closed", _("Inspection finished, under review")
    PUBLISHED = "published", _("Published")


class Stratify(models.TextChoices):
    STREET = "street", _("By street office")
    LOCATION_TYPE = "location_type", _("By location type")
    STREET_AND_TYPE = "street_and_type", _("By street office and location type")


class Round(models.Model):
    """An inspection round: a period, an area, the standards (exact versions), a sample, inspectors.

    A look-back round (回头看) has ``lookback_of`` set: it re-inspects that round's findings.
    Until a round is published its plan, sample and inspectors are seen only by the campaign
    office that owns it, its inspectors and admins when it is undercover (暗访); see
    ``org.policy.visible_rounds``.
    """

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=RoundKind.choices, default=RoundKind.UNDERCOVER)
    status = models.CharField(_("status"), max_length=16, choices=RoundStatus.choices, default=RoundStatus.DRAFT, db_index=True)
    area = models.ForeignKey("places.Area", verbose_name=_("area inspected"), on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=255, db_index=True, editable=False)
    # The area of the campaign office that planned the round (``policy.round_owner_path``):
    # offices of this area and above own it. An office of a smaller area, inspected by the
    # round, does not see an undercover round before it is published.
    owner_path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    standards = models.ManyToManyField(Standard, verbose_name=_("standards"), related_name="rounds", blank=True)
    lookback_of = models.ForeignKey(
        "self", verbose_name=_("look-back of"), null=True, blank=True, on_delete=models.PROTECT, related_name="lookbacks"
    )
    # Sampling: recorded so the same frame and seed always draw the same sample.
    stratify = models.CharField(_("stratified"), max_length=20, choices=Stratify.choices, default=Stratify.STREET)
    per_stratum = models.PositiveIntegerField(_("locations per stratum"), default=3)
    seed = models.BigIntegerField(_("random seed"), null=True, blank=True)
    frame = models.JSONField(_("sampling frame"), default=list, blank=True)
    drawn_at = models.DateTimeField(_("sample drawn at"), null=True, blank=True)
    # Roll-up configuration: weight per location type (empty: every location counts the same)
    # and grade bands [[grade, lower bound], …] from the highest (empty: settings).
    type_weights = models.JSONField(_("weights by location type"), default=dict, blank=True)
    grade_bands = models.JSONField(_("grade bands"), default=list, blank=True)
    off_site_metres = models.PositiveIntegerField(_("off-site tolerance (m)"), default=100)
    inspectors = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("inspectors"), related_name="inspection_rounds", blank=True)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-period_end", "-id"]
        verbose_name = _("inspection round")
        verbose_name_plural = _("inspection rounds")
        constraints = [
            models.CheckConstraint(condition=models.Q(period_end__gte=models.F("period_start")), name="inspections_round_period"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.area_path = _path_of(self.area_id)
        if not self.owner_path or not self.area_path.startswith(self.owner_path):
            # Unknown planner: the most restrictive owner, the city at the top of the path.
            top = [x for x in self.area_path.strip("/").split("/") if x][:1]
            self.owner_path = f"/{top[0]}/" if top else ""
        super().save(*args, **kwargs)

    @property
    def is_lookback(self) -> bool:
        return self.lookback_of_id is not None

    @property
    def is_published(self) -> bool:
        return self.status == RoundStatus.PUBLISHED


class LocationStatus(models.TextChoices):
    PENDING = "pending", _("To inspect")
    DONE = "done", _("Inspected")


class RoundLocation(models.Model):
    """One sampled site of a round, with the exact standard version it is scored against."""

    round = models.ForeignKey(Round, verbose_name=_("round"), on_delete=models.CASCADE, related_name="locations")
    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.PROTECT, related_name="round_locations")
    standard = models.ForeignKey(Standard, verbose_name=_("standard"), on_delete=models.PROTECT, related_name="+")
    stratum = models.CharField(_("stratum"), max_length=120, blank=True)
    draw_order = models.PositiveIntegerField(_("draw order"), default=0)
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("inspector"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("status"), max_length=16, choices=LocationStatus.choices, default=LocationStatus.PENDING)

    class Meta:
        ordering = ["round", "draw_order", "id"]
        verbose_name = _("sampled location")
        verbose_name_plural = _("sampled locations")
        constraints = [models.UniqueConstraint(fields=["round", "site"], name="inspections_location_once_per_round")]

    def __str__(self) -> str:
        return f"{self.round_id}:{self.site}"


class VisitSource(models.TextChoices):
    WEB = "web", _("Phone or browser")
    XLSFORM = "xlsform", _("ODK / KoboCollect submission")


class Visit(models.Model):
    """The submitted inspection of one sampled location (one per location).

    ``client_uuid`` is made by the phone when the draft starts: a submission sent twice
    (a retry after a dropped connection) is recognised and answered with the first one.
    Scores are computed on the server from the item checks (``scoring.py``), never taken
    from the client.
    """

    location = models.OneToOneField(RoundLocation, verbose_name=_("location"), on_delete=models.PROTECT, related_name="visit")
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("inspector"), on_delete=models.PROTECT, related_name="+")
    client_uuid = models.UUIDField(_("client draft id"), unique=True)
    source = models.CharField(_("source"), max_length=16, choices=VisitSource.choices, default=VisitSource.WEB)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    received_at = models.DateTimeField(_("received at"))
    lat = models.FloatField(_("latitude (WGS-84)"), null=True, blank=True)
    lon = models.FloatField(_("longitude (WGS-84)"), null=True, blank=True)
    accuracy_m = models.FloatField(_("GPS accuracy (m)"), null=True, blank=True)
    distance_m = models.FloatField(_("distance from the site (m)"), null=True, blank=True)
    off_site = models.BooleanField(_("recorded away from the site"), default=False)
    note = models.TextField(_("note"), blank=True, max_length=4000)
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2, null=True, blank=True)
    raw = models.DecimalField(_("points"), max_digits=8, decimal_places=2, default=Decimal("0"))
    full = models.DecimalField(_("full points"), max_digits=8, decimal_places=2, default=Decimal("0"))
    vetoed = models.BooleanField(_("vetoed"), default=False)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")

    def __str__(self) -> str:
        return f"{self.location} {self.recorded_at:%Y-%m-%d}"


class ItemCheck(models.Model):
    """What the inspector found for one item of the standard at one visit."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="checks")
    item = models.ForeignKey(Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="+")
    occurrences = models.PositiveIntegerField(_("occurrences"), default=0)
    veto_hit = models.BooleanField(_("veto hit"), default=False)
    not_applicable = models.BooleanField(_("not applicable"), default=False)
    deduction = models.DecimalField(_("deduction"), max_digits=6, decimal_places=2, default=Decimal("0"))
    note = models.TextField(_("note"), blank=True, max_length=2000)

    class Meta:
        ordering = ["visit", "item__section__position", "item__position"]
        verbose_name = _("item check")
        verbose_name_plural = _("item checks")
        constraints = [models.UniqueConstraint(fields=["visit", "item"], name="inspections_check_once_per_item")]

    def __str__(self) -> str:
        return f"{self.visit_id}:{self.item_id} ×{self.occurrences}"


class Finding(models.Model):
    """A problem found: an item check that deducted points or hit a veto.

    When its round is published it becomes a rectification case (``case``) for ``unit``
    with the item's time limit; the finding is rectified when that case closes, in time
    when it closed by its deadline. In a look-back round a finding that recurred has
    ``recurrence_of`` set to the original finding (and its own case, linked to the first).
    """

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="findings")
    item_check = models.OneToOneField(ItemCheck, verbose_name=_("item check"), null=True, blank=True, on_delete=models.CASCADE, related_name="finding")
    item = models.ForeignKey(Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="+")
    deduction = models.DecimalField(_("deduction"), max_digits=6, decimal_places=2, default=Decimal("0"))
    description = models.TextField(_("description"), max_length=2000)
    unit = models.ForeignKey("org.Unit", verbose_name=_("responsible unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    lat = models.FloatField(_("latitude (WGS-84)"), null=True, blank=True)
    lon = models.FloatField(_("longitude (WGS-84)"), null=True, blank=True)
    case = models.OneToOneField(
        "cases.Case", verbose_name=_("rectification case"), null=True, blank=True, on_delete=models.PROTECT, related_name="finding"
    )
    recurrence_of = models.ForeignKey(
        "self", verbose_name=_("recurrence of"), null=True, blank=True, on_delete=models.PROTECT, related_name="recurrences"
    )

    class Meta:
        ordering = ["visit", "id"]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self) -> str:
        return self.description[:60]


class Recheck(models.Model):
    """A look-back visit's verdict on one finding of the earlier round (回头看)."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="rechecks")
    finding = models.ForeignKey(Finding, verbose_name=_("finding"), on_delete=models.PROTECT, related_name="rechecks")
    recurred = models.BooleanField(_("recurred"))
    note = models.TextField(_("note"), blank=True, max_length=2000)

    class Meta:
        ordering = ["visit", "finding"]
        verbose_name = _("look-back check")
        verbose_name_plural = _("look-back checks")
        constraints = [models.UniqueConstraint(fields=["visit", "finding"], name="inspections_recheck_once")]

    def __str__(self) -> str:
        return f"{self.visit_id}:{self.finding_id} {'recurred' if self.recurred else 'fixed'}"


def _visit_photo_path(instance: VisitPhoto, filename: str) -> str:
    return f"inspections/{instance.visit_id}/{instance.sha256[:24]}.jpg"


def _private_storage():  # noqa: ANN202
    from django.core.files.storage import storages

    return storages["private"]


class VisitPhoto(models.Model):
    """Evidence taken at a visit: only the stripped copy is kept, in private storage.

    Served through a view that asks ``org.policy`` (an undercover round's photos are
    not public before publication, and not for everyone after). EXIF facts worth
    keeping (time, position) are kept in columns.
    """

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="photos")
    item = models.ForeignKey(Item, verbose_name=_("item"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    finding = models.ForeignKey(Finding, verbose_name=_("finding"), null=True, blank=True, on_delete=models.SET_NULL, related_name="photos")
    image = models.ImageField(_("image"), storage=_private_storage, upload_to=_visit_photo_path, width_field="width", height_field="height")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    taken_at = models.DateTimeField(null=True, blank=True)
    gps_lat = models.FloatField(null=True, blank=True)
    gps_lon = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["visit", "id"]
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")

    def __str__(self) -> str:
        return f"{self.visit_id} {self.sha256[:12]}"


# ---- bulletins (通报) ---------------------------------------------------------------------------


class BulletinStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Being written")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


def _bulletin_path(instance: Bulletin, filename: str) -> str:
    return f"bulletins/{instance.round_id}/{instance.pk or 'new'}-{filename}"


class Bulletin(models.Model):
    """The bulletin (通报) of a published round, written as DOCX by a background job."""

    round = models.ForeignKey(Round, verbose_name=_("round"), on_delete=models.CASCADE, related_name="bulletins")
    status = models.CharField(_("status"), max_length=16, choices=BulletinStatus.choices, default=BulletinStatus.QUEUED)
    title = models.CharField(_("title"), max_length=200)
    document = models.FileField(_("document"), storage=_private_storage, upload_to=_bulletin_path, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(_("requested at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("bulletin")
        verbose_name_plural = _("bulletins")

    def __str__(self) -> str:
        return self.title
