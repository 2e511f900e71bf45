"""The 15-minute life circle (15分钟便民服务圈): the walking network imported from
OpenStreetMap, the facilities by GB 50180 kind, the residential buildings, and the stored
results of each computation (walking distance from every compound and building to the
nearest facility of every kind).

Large arrays (the network, the spliced network of an analysis) live in private storage as
``.npz`` files; the database holds what pages filter and sum: facilities, buildings and one
``Reach`` row per origin and kind.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def _private_storage():  # noqa: ANN202
    from django.core.files.storage import storages

    return storages["private"]


class FacilityKind(models.Model):
    """A kind of facility of GB 50180-2018 (supermarket, clinic, kindergarten …) and the life
    circle within which every household should reach one."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=60)
    name_en = models.CharField(_("name (English)"), max_length=60)
    level_minutes = models.PositiveSmallIntegerField(
        _("life circle (minutes)"),
        default=15,
        help_text=_("Households should reach one within this walk."),
    )
    required = models.BooleanField(
        _("required"), default=True, help_text=_("Counts in 'all required kinds'.")
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("facility kind")
        verbose_name_plural = _("facility kinds")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the reader's language (Chinese first)."""
        return (
            self.name_en
            if (get_language() or "").startswith("en") and self.name_en
            else self.name_zh
        )


class TagRule(models.Model):
    """One line of the editable mapping from OSM tags to facility kinds: an object with tag
    ``key=value`` (``*`` for any value) is a facility of ``kind``."""

    kind = models.ForeignKey(
        FacilityKind, verbose_name=_("kind"), on_delete=models.CASCADE, related_name="tag_rules"
    )
    key = models.CharField(_("OSM key"), max_length=60)
    value = models.CharField(_("OSM value"), max_length=60, help_text=_("* matches any value."))

    class Meta:
        ordering = ["kind__sort_order", "key", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key", "value"], name="lifecircle_tagrule_unique"
            )
        ]
        verbose_name = _("tag rule")
        verbose_name_plural = _("tag rules")

    def __str__(self) -> str:
        return f"{self.key}={self.value} → {self.kind.code}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# The stages of an import, as the reader reports them (osm.Progress) and the job adds.
STAGE_LABELS = {
    "ways": _("Reading the ways"),
    "graph": _("Building the walking network"),
    "facilities": _("Reading the facilities"),
    "buildings": _("Reading the residential buildings"),
    "storing": _("Storing"),
    "done": _("Done"),
}


class Job(models.Model):
    """What a background job records of itself (an import, an analysis): claimed from
    ``queued`` by one worker (``actions._claim``), then done or failed with its reason."""

    status = models.CharField(
        _("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    stage = models.CharField(_("stage"), max_length=40, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_at = models.DateTimeField(_("requested at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        abstract = True


def _network_path(instance: Network, filename: str) -> str:
    return f"lifecircle/networks/{instance.pk or 'new'}-{filename}"


class Network(Job):
    """One import of an ``.osm.pbf``: the walking network and what was read with it. The
    newest import that finished is the current one."""

    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    source_name = models.CharField(_("source file"), max_length=255)
    source_sha256 = models.CharField(max_length=64, blank=True)
    source = models.FileField(
        _("uploaded extract"), storage=_private_storage, upload_to=_network_path, blank=True
    )
    graph = models.FileField(
        _("network file"), storage=_private_storage, upload_to=_network_path, blank=True
    )
    fingerprint = models.CharField(max_length=64, blank=True)
    nodes = models.PositiveIntegerField(_("nodes"), default=0)
    edges = models.PositiveIntegerField(_("edges"), default=0)
    ways = models.PositiveIntegerField(_("ways"), default=0)
    facilities = models.PositiveIntegerField(_("facilities"), default=0)
    buildings = models.PositiveIntegerField(_("buildings"), default=0)
    households = models.PositiveIntegerField(_("households"), default=0)
    is_current = models.BooleanField(_("current"), default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"],
                condition=models.Q(is_current=True),
                name="lifecircle_one_current_network",
            )
        ]
        verbose_name = _("walking network")
        verbose_name_plural = _("walking networks")

    def __str__(self) -> str:
        return f"{self.source_name} #{self.pk}"

    @property
    def stage_label(self) -> str:
        return str(STAGE_LABELS.get(self.stage, self.stage))


class FacilitySource(models.TextChoices):
    OSM = "osm", _("OpenStreetMap")
    CIVICLOOP = "civicloop", _("Registered in civicloop")


class Facility(models.Model):
    """A place of a facility kind: read from OSM with a network, or registered here for what
    OSM lacks (registered ones outlive every re-import)."""

    kind = models.ForeignKey(
        FacilityKind, verbose_name=_("kind"), on_delete=models.PROTECT, related_name="facilities"
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    source = models.CharField(
        _("source"), max_length=16, choices=FacilitySource.choices, default=FacilitySource.CIVICLOOP
    )
    network = models.ForeignKey(
        Network, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    osm_type = models.CharField(max_length=10, blank=True)
    osm_id = models.BigIntegerField(null=True, blank=True)
    osm_node = models.BigIntegerField(
        null=True, blank=True, help_text="OSM node the facility stands on, if any"
    )
    community = models.ForeignKey(
        "places.Area",
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    area_path = models.CharField(max_length=255, db_index=True, blank=True, default="")
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["kind__sort_order", "name", "id"]
        indexes = [models.Index(fields=["kind", "active"])]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")

    def __str__(self) -> str:
        # Most OSM facilities have no name: the kind's name, and whose it is, say what it is.
        return self.name or _("%(kind)s (unnamed)") % {"kind": self.kind.name}


class Building(models.Model):
    """A residential building read from OSM, with its households (estimated from floor area
    when OSM has no count)."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="building_set")
    osm_type = models.CharField(max_length=10)
    osm_id = models.BigIntegerField()
    name = models.CharField(_("name"), max_length=200, blank=True)
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    households = models.PositiveIntegerField(_("households"), default=0)
    compound = models.ForeignKey(
        "places.Compound",
        verbose_name=_("compound"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    community = models.ForeignKey(
        "places.Area",
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    area_path = models.CharField(max_length=255, db_index=True, blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name = _("residential building")
        verbose_name_plural = _("residential buildings")

    def __str__(self) -> str:
        return self.name or _("Residential building (OSM %(type)s %(id)s)") % {
            "type": self.osm_type,
            "id": self.osm_id,
        }


def _analysis_path(instance: Analysis, filename: str) -> str:
    return f"lifecircle/analyses/{instance.pk or 'new'}-{filename}"


class Analysis(Job):
    """One computation over the current network and facilities. ``inputs_stamp`` digests
    what it was computed from; when the inputs' stamp differs, the results are stale and a
    new analysis is queued."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="analyses")
    inputs_stamp = models.CharField(max_length=64, blank=True)
    speed_m_per_min = models.FloatField(_("walking speed (m/min)"))
    levels = models.JSONField(_("life-circle levels (minutes)"))
    cutoff_m = models.FloatField(_("search cutoff (m)"))
    max_snap_m = models.FloatField(_("largest snap distance (m)"))
    data = models.FileField(storage=_private_storage, upload_to=_analysis_path, blank=True)
    origins = models.PositiveIntegerField(_("compounds and buildings"), default=0)
    unreachable = models.PositiveIntegerField(_("unreachable"), default=0)
    seconds = models.FloatField(_("computing time (s)"), default=0.0)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"],
                condition=models.Q(is_current=True),
                name="lifecircle_one_current_analysis",
            )
        ]
        verbose_name = _("life-circle analysis")
        verbose_name_plural = _("life-circle analyses")

    def __str__(self) -> str:
        return f"analysis #{self.pk}"


class ReachState(models.TextChoices):
    REACHED = "reached", _("Within the search distance")
    BEYOND = "beyond", _("Farther than the search distance")
    UNREACHABLE = "unreachable", _("Not connected to any facility of this kind")


class Reach(models.Model):
    """Walking distance from one compound or building to the nearest facility of one kind."""

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="reaches")
    kind = models.ForeignKey(FacilityKind, on_delete=models.CASCADE, related_name="+")
    compound = models.ForeignKey(
        "places.Compound", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    building = models.ForeignKey(
        Building, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    state = models.CharField(max_length=16, choices=ReachState.choices)
    distance_m = models.FloatField(null=True, blank=True)
    minutes = models.FloatField(null=True, blank=True)
    level = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="smallest life-circle level reached (minutes)"
    )
    covered = models.BooleanField(
        default=False, help_text="reached within the kind's own life circle"
    )
    facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snap_m = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["analysis", "kind", "covered"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(compound__isnull=False, building__isnull=True)
                | models.Q(compound__isnull=True, building__isnull=False),
                name="lifecircle_reach_one_origin",
            )
        ]

    def __str__(self) -> str:
        return f"{self.compound_id or self.building_id} → {self.kind_id}: {self.state}"


class Coverage(models.Model):
    """Share of an area's households reaching a kind within its life circle (``kind`` null:
    all required kinds), written with each analysis for every community and every area above.
    Households count once: a compound's own figure, plus buildings outside every compound."""

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="coverages")
    area = models.ForeignKey("places.Area", on_delete=models.CASCADE, related_name="+")
    kind = models.ForeignKey(
        FacilityKind, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    households = models.PositiveIntegerField(default=0)
    covered_households = models.PositiveIntegerField(default=0)
    places = models.PositiveIntegerField(
        default=0, help_text="compounds and buildings outside compounds"
    )
    covered_places = models.PositiveIntegerField(default=0)
    unreachable_places = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["analysis", "area", "kind"], name="lifecircle_coverage_unique"
            ),
            models.UniqueConstraint(
                fields=["analysis", "area"],
                condition=models.Q(kind__isnull=True),
                name="lifecircle_coverage_all_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.area_id}/{self.kind_id}: {self.covered_households}/{self.households}"

    @property
    def share(self) -> float | None:
        """Covered share of households in percent; None for an area without households."""
        return (
            round(100.0 * self.covered_households / self.households, 1) if self.households else None
        )
