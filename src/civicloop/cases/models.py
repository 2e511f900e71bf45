"""Categories, routing, cases, their reporters, timeline, evidence and extension requests."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Family(models.TextChoices):
    COMPONENT = "component", _("Component (部件)")
    EVENT = "event", _("Event (事件)")


class TimeLimitKind(models.TextChoices):
    EMERGENCY_HOURS = "emergency_hours", _("Emergency hours")
    WORKING_HOURS = "working_hours", _("Working hours")
    WORKING_DAYS = "working_days", _("Working days")
    CALENDAR_DAYS = "calendar_days", _("Calendar days")


class Category(models.Model):
    """A small class of GB/T 30428.2 (or a local extension) with its time limit.

    Codes are data: ``scheme`` leaves room for GB/T 47678's 5-digit codes next to
    the 2+2 digits of GB/T 30428.
    """

    scheme = models.CharField(_("coding scheme"), max_length=16, default="gbt30428")
    family = models.CharField(_("family"), max_length=16, choices=Family.choices)
    big_code = models.CharField(_("big class code"), max_length=8)
    big_name = models.CharField(_("big class"), max_length=64)
    small_code = models.CharField(_("small class code"), max_length=8)
    name = models.CharField(_("small class"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=96, blank=True)
    code = models.CharField(_("code"), max_length=16, unique=True)
    time_limit_kind = models.CharField(_("time limit type"), max_length=20, choices=TimeLimitKind.choices, default=TimeLimitKind.WORKING_DAYS)
    time_limit_value = models.PositiveIntegerField(_("time limit"), default=3)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["scheme", "family", "big_code", "small_code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(fields=["scheme", "family", "big_code", "small_code"], name="cases_category_unique_codes"),
            models.CheckConstraint(condition=models.Q(time_limit_value__gt=0), name="cases_category_positive_limit"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.big_name}/{self.name}"


class RoutingRule(models.Model):
    """Category × area → default handling unit. The most specific rule wins."""

    category = models.ForeignKey(Category, verbose_name=_("category"), null=True, blank=True, on_delete=models.CASCADE, help_text=_("Empty: every category of the big class below"))
    family = models.CharField(_("family"), max_length=16, choices=Family.choices, blank=True)
    big_code = models.CharField(_("big class code"), max_length=8, blank=True)
    area = models.ForeignKey("places.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.CASCADE, help_text=_("Empty: the whole city"))
    unit = models.ForeignKey("org.Unit", verbose_name=_("handling unit"), on_delete=models.CASCADE)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return f"{self.category or self.big_code or '*'} @ {self.area or '*'} → {self.unit}"


class State(models.TextChoices):
    REPORTED = "reported", _("Reported, awaiting registration")
    REGISTERED = "registered", _("Registered, awaiting dispatch")
    REJECTED = "rejected", _("Not registered")
    VOIDED = "voided", _("Voided")
    DISPATCHED = "dispatched", _("Dispatched, awaiting acceptance")
    RETURNED = "returned", _("Returned by the unit")
    IN_PROGRESS = "in_progress", _("Being handled")
    DEFERRED = "deferred", _("Deferred")
    HANDLED = "handled", _("Handled, awaiting verification")
    CLOSED = "closed", _("Closed")
    LOOKBACK_PASSED = "lookback_passed", _("Look-back passed")
    RECURRED = "recurred", _("Recurred at look-back")


class Source(models.TextChoices):
    RESIDENT = "resident", _("Resident report")
    GRID_WORKER = "grid_worker", _("Grid worker patrol")
    HOTLINE = "hotline", _("12345 hotline")
    INSPECTION = "inspection", _("Inspection")
    LOOKBACK = "lookback", _("Look-back recurrence")
    API = "api", _("Integration")
    IMPORT = "import", _("Ledger import")


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASIC = "basic", _("Basically satisfied")
    DISSATISFIED = "dissatisfied", _("Dissatisfied")


class Case(models.Model):
    ticket_no = models.CharField(_("ticket number"), max_length=16, unique=True)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.REPORTED, db_index=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.RESIDENT)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="cases")
    grid = models.ForeignKey("places.Area", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="cases")
    # Copied from the grid, so "cases inside area X" is one indexed prefix filter.
    area_path = models.CharField(max_length=255, db_index=True)
    lat = models.FloatField(_("latitude (WGS-84)"))
    lon = models.FloatField(_("longitude (WGS-84)"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    description = models.TextField(_("description"), max_length=4000)

    unit = models.ForeignKey("org.Unit", verbose_name=_("main handling unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="main_cases")

    reported_at = models.DateTimeField(_("reported at"), db_index=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True, db_index=True)
    # True when the deadline crossed days the calendar does not know (see core.workcal).
    deadline_estimated = models.BooleanField(_("deadline estimated"), default=False)
    deferred_at = models.DateTimeField(_("deferred at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_on_time = models.BooleanField(_("handled on time"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_on_time = models.BooleanField(_("closed on time"), null=True, blank=True)
    lookback_due_at = models.DateTimeField(_("look-back due"), null=True, blank=True, db_index=True)

    rework_count = models.PositiveIntegerField(_("reworks"), default=0)
    reporter_count = models.PositiveIntegerField(_("reporters"), default=0)
    urge_count = models.PositiveIntegerField(_("urgings"), default=0)
    extension_count = models.PositiveIntegerField(_("extensions"), default=0)
    return_count = models.PositiveIntegerField(_("returns"), default=0)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    escalated_to = models.ForeignKey("places.Area", verbose_name=_("escalated to"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    rating = models.CharField(_("rating"), max_length=16, choices=Rating.choices, blank=True)
    resident_says_unfixed = models.BooleanField(_("resident says not fixed"), default=False)
    recurrence_of = models.ForeignKey("self", verbose_name=_("recurrence of"), null=True, blank=True, on_delete=models.PROTECT, related_name="recurrences")

    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [
            models.Index(fields=["state", "deadline_at"]),
            models.Index(fields=["category", "state", "reported_at"]),
            models.Index(fields=["unit", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_no} {self.category.name if self.category_id else ''}"


class CaseUnit(models.Model):
    """Main (主办) and co-handling (协办) units of a case."""

    class Role(models.TextChoices):
        MAIN = "main", _("Main")
        ASSIST = "assist", _("Co-handling")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_units")
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="case_links")
    role = models.CharField(max_length=8, choices=Role.choices)
    active = models.BooleanField(default=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("case unit")
        verbose_name_plural = _("case units")
        constraints = [models.UniqueConstraint(fields=["case", "unit", "role"], name="cases_caseunit_unique")]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.unit_id} ({self.get_role_display()})"


class Report(models.Model):
    """One reporter's submission. A case has one or many (duplicates join)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reports")
    ticket_no = models.CharField(_("ticket number"), max_length=16, unique=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    name = models.CharField(_("name"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    lat = models.FloatField()
    lon = models.FloatField()
    description = models.TextField(max_length=4000)
    joined_existing = models.BooleanField(_("joined an existing case"), default=False)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")

    def __str__(self) -> str:
        return self.ticket_no


class EventKind(models.TextChoices):
    REPORTED = "reported", _("Reported")
    REPORTER_JOINED = "reporter_joined", _("Another reporter joined")
    REGISTERED = "registered", _("Registered")
    RECLASSIFIED = "reclassified", _("Reclassified")
    REJECTED = "rejected", _("Not registered")
    VOIDED = "voided", _("Voided")
    DISPATCHED = "dispatched", _("Dispatched")
    REASSIGNED = "reassigned", _("Reassigned")
    CO_UNIT_ADDED = "co_unit_added", _("Co-handling unit added")
    ACCEPTED = "accepted", _("Accepted by the unit")
    RETURNED = "returned", _("Returned by the unit")
    FEEDBACK = "feedback", _("Handling reported")
    VERIFIED = "verified", _("Verified and closed")
    REWORK = "rework", _("Sent back for rework")
    EXTENSION_REQUESTED = "extension_requested", _("Extension requested")
    EXTENSION_APPROVED = "extension_approved", _("Extension approved")
    EXTENSION_DENIED = "extension_denied", _("Extension denied")
    DEFERRED = "deferred", _("Deferred")
    RESUMED = "resumed", _("Resumed")
    URGED = "urged", _("Urged")
    ESCALATED = "escalated", _("Escalated")
    RATED = "rated", _("Rated by a resident")
    LOOKBACK_PASSED = "lookback_passed", _("Look-back passed")
    LOOKBACK_FAILED = "lookback_failed", _("Look-back found it recurred")
    PHOTO_ADDED = "photo_added", _("Photo added")
    IMPORTED = "imported", _("Imported from a ledger")


class ImmutableError(Exception):
    pass


class CaseEvent(models.Model):
    """The timeline. Rows are written once and never changed or deleted."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("what"), max_length=24, choices=EventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_unit = models.ForeignKey("org.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    from_state = models.CharField(_("from"), max_length=20, choices=State.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=20, choices=State.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ImmutableError("Case events are immutable")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object):  # type: ignore[override]
        raise ImmutableError("Case events are immutable")


class PhotoKind(models.TextChoices):
    BEFORE = "before", _("Before")
    AFTER = "after", _("After")
    VERIFY = "verify", _("Verification")
    LOOKBACK = "lookback", _("Look-back")


def _public_photo_path(instance: Photo, filename: str) -> str:
    return f"cases/{instance.case.ticket_no[:8]}/{instance.sha256[:16]}.jpg"


def _private_photo_path(instance: Photo, filename: str) -> str:
    return f"originals/{instance.case.ticket_no[:8]}/{instance.sha256}"


def _private_storage():  # noqa: ANN202
    from django.core.files.storage import storages

    return storages["private"]


class Photo(models.Model):
    """Evidence. ``image`` is the stripped copy anyone allowed may see; ``original`` keeps EXIF privately."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="photos")
    event = models.ForeignKey(CaseEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="photos")
    kind = models.CharField(_("kind"), max_length=12, choices=PhotoKind.choices)
    image = models.ImageField(_("image"), upload_to=_public_photo_path, width_field="width", height_field="height")
    original = models.FileField(storage=_private_storage, upload_to=_private_photo_path)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    exif = models.JSONField(default=dict, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    gps_lat = models.FloatField(null=True, blank=True)
    gps_lon = models.FloatField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("photo")
        verbose_name_plural = _("photos")

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_kind_display()} {self.sha256[:12]}"


class ExtensionRequest(models.Model):
    class Decision(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Denied")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="extension_requests")
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_deadline_at = models.DateTimeField(_("requested deadline"))
    reason = models.TextField(_("reason"))
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=models.Q(decision="pending"), name="cases_one_pending_extension"),
        ]


    def __str__(self) -> str:
        return f"{self.case_id} → {self.requested_deadline_at:%Y-%m-%d %H:%M} ({self.get_decision_display()})"