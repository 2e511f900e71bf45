"""Writes of the life circle: importing a network, running an analysis, registering
facilities, seeding the kinds. Pages, the CLI and the worker all call these."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import shapely
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import connection, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civicloop.core.errors import (
    CivicError,
    NotFoundOrForbidden,
    PermissionRefused,
    ValidationFailed,
)
from civicloop.org import policy
from civicloop.places.index import NO_GRID, get_grid_index
from civicloop.places.models import Area, Compound

from . import analysis as calc
from .graph import WalkGraph
from .kinds import seed_kinds
from .models import (
    Analysis,
    Building,
    Coverage,
    Facility,
    FacilityKind,
    FacilitySource,
    JobStatus,
    Network,
    Reach,
    ReachState,
    TagRule,
)
from .osm import OsmReadError, read_osm
from .osm import TagRule as OsmTagRule

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

STATE_NAMES = {
    calc.REACHED: ReachState.REACHED,
    calc.BEYOND: ReachState.BEYOND,
    calc.UNREACHABLE: ReachState.UNREACHABLE,
}


def config() -> dict[str, Any]:
    return settings.CIVICLOOP["LIFECIRCLE"]


# ---- kinds and the tag mapping -------------------------------------------------------------


def kinds_seed() -> int:
    """Create the default GB 50180 kinds and their OSM tag rules where missing."""
    with transaction.atomic():
        return seed_kinds(FacilityKind, TagRule)


def tag_rules() -> list[OsmTagRule]:
    """The mapping as the reader takes it, from the rules of active kinds."""
    return [
        OsmTagRule(kind=r.kind.code, key=r.key, value=r.value)
        for r in TagRule.objects.filter(kind__active=True).select_related("kind")
    ]


# ---- network import ------------------------------------------------------------------------


def network_request(
    *, by: Any, upload: File | None = None, path: Path | None = None, enqueue: bool = True
) -> Network:
    """Queue the import of an ``.osm.pbf`` (an uploaded file, or a path on the server for the
    CLI, which runs it at once with ``enqueue=False``) and start it in the background."""
    if by is not None and not policy.may_manage_lifecircle(by):
        raise PermissionRefused(
            _("Only the city's campaign office or an administrator may import the walking network.")
        )
    if upload is None and path is None:
        raise ValidationFailed(_("Choose an .osm.pbf file."), field="source")
    if upload is not None:
        name = Path(upload.name or "extract.osm.pbf").name
        if not name.lower().endswith(".pbf"):
            raise ValidationFailed(
                _("The file must be an OpenStreetMap extract (.osm.pbf)."), field="source"
            )
        if upload.size is not None and upload.size > config()["MAX_UPLOAD_BYTES"]:
            raise ValidationFailed(
                _("The file is larger than %(mb)d MB.")
                % {"mb": config()["MAX_UPLOAD_BYTES"] // (1024 * 1024)},
                field="source",
            )
    else:
        assert path is not None
        if not path.is_file():
            raise ValidationFailed(_("No such file: %(path)s") % {"path": path}, field="source")
        name = path.name
    head = _head(upload, path)
    if b"OSMHeader" not in head:
        raise ValidationFailed(
            _(
                "This is not an OpenStreetMap .osm.pbf extract (its first block is not an OSM header)."
            ),
            field="source",
        )
    with transaction.atomic():
        network = Network.objects.create(
            source_name=name[:255],
            requested_by=by if getattr(by, "pk", None) else None,
            requested_at=timezone.now(),
        )
        if upload is not None:
            network.source.save(name, upload, save=False)
        else:
            with path.open("rb") as fh:  # type: ignore[union-attr]
                network.source.save(name, File(fh), save=False)
        network.save(update_fields=["source"])
        if enqueue:
            transaction.on_commit(lambda: _enqueue_import(network.pk))
    return network


def _head(upload: File | None, path: Path | None) -> bytes:
    """The first bytes of the file: a PBF starts with a 4-byte length and a BlobHeader whose
    type is "OSMHeader"."""
    if upload is not None:
        upload.seek(0)
        head = upload.read(64)
        upload.seek(0)
        return head
    with path.open("rb") as fh:  # type: ignore[union-attr]
        return fh.read(64)


def _enqueue_import(network_id: int) -> None:
    from .tasks import network_import

    network_import.enqueue(network_id)


def _progress_writer(network_id: int) -> Progress:
    """Write progress at most twice a second (a city's extract has millions of ways)."""
    last = [0.0]

    def write(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and done < total:
            return
        last[0] = now
        Network.objects.filter(pk=network_id).update(stage=stage, done=done, total=total)

    return write


def network_run(network_id: int, *, progress: Progress | None = None) -> str:
    """Read the queued extract, store its network, facilities and buildings, make it the
    current network and queue the analysis. Returns the final status."""
    if not _claim(Network, network_id, stage="ways"):
        return Network.objects.filter(pk=network_id).values_list("status", flat=True).first() or ""
    network = Network.objects.get(pk=network_id)
    writer = _progress_writer(network_id)

    def report(stage: str, done: int, total: int) -> None:
        writer(stage, done, total)
        if progress is not None:
            progress(stage, done, total)

    language = (
        network.requested_by.language if network.requested_by_id else ""
    ) or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            kinds_seed()
            with tempfile.TemporaryDirectory() as tmp:
                source = Path(tmp) / "extract.osm.pbf"
                digest = hashlib.sha256()
                with network.source.open("rb") as src, source.open("wb") as dst:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        digest.update(chunk)
                        dst.write(chunk)
                extract = read_osm(source, rules=tag_rules(), progress=report)
                report("storing", 0, 1)
                graph_path = Path(tmp) / "network.npz"
                extract.graph.save(graph_path)
                with graph_path.open("rb") as fh:
                    network.graph.save("network.npz", File(fh), save=False)
            network.source_sha256 = digest.hexdigest()
            _store_network(network, extract)
            report("done", 1, 1)
        except OsmReadError as exc:
            _fail(Network, network_id, str(exc))
            return JobStatus.FAILED
        except CivicError as exc:
            _fail(Network, network_id, exc.message)
            return JobStatus.FAILED
        except Exception:
            log.exception("network import %s failed", network_id)
            _fail(
                Network,
                network_id,
                _(
                    "The import failed. Check the file and try again; if it fails again, tell the administrator."
                ),
            )
            return JobStatus.FAILED
    analysis_request()
    return JobStatus.DONE


def _claim(model: type[Network] | type[Analysis], pk: int, *, stage: str) -> bool:
    """Take a queued job (a conditional UPDATE: of several workers, one wins)."""
    return bool(
        model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=timezone.now(), stage=stage
        )
    )


def _fail(model: type[Network] | type[Analysis], pk: int, message: str) -> None:
    model.objects.filter(pk=pk).update(
        status=JobStatus.FAILED, error=message, finished_at=timezone.now()
    )


def places_of(lon: Any, lat: Any) -> tuple[list[int | None], list[str]]:
    """Community id and area path (of the grid) of each point; None / "" outside every grid."""
    if not len(lon):
        return [], []
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    grid_ids = get_grid_index().lookup(
        np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    )
    grids = {
        a.pk: a for a in Area.objects.filter(pk__in=set(grid_ids[grid_ids != NO_GRID].tolist()))
    }
    communities: list[int | None] = []
    paths: list[str] = []
    for gid in grid_ids.tolist():
        grid = grids.get(gid)
        communities.append(grid.parent_id if grid else None)
        paths.append(grid.path if grid else "")
    return communities, paths


def _refresh_building_compounds(network: Network) -> None:
    """Compounds are drawn and redrawn after imports: each building's compound is found
    again before every analysis, so its households count once (in its compound's)."""
    rows = list(
        Building.objects.filter(network=network)
        .order_by("pk")
        .values_list("pk", "lon", "lat", "compound_id")
    )
    if not rows:
        return
    found = _compound_of(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
    changed = [
        Building(pk=r[0], compound_id=c) for r, c in zip(rows, found, strict=True) if r[3] != c
    ]
    Building.objects.bulk_update(changed, ["compound"], batch_size=2000)


def _compound_of(lon: np.ndarray, lat: np.ndarray) -> list[int | None]:
    """The compound whose outline contains each point."""
    compounds = list(Compound.objects.only("pk", "geometry"))
    if not compounds or not len(lon):
        return [None] * len(lon)
    tree = shapely.STRtree([c.shape for c in compounds])
    points = shapely.points(np.asarray(lon), np.asarray(lat))
    hits = tree.query(points, predicate="within")
    result: list[int | None] = [None] * len(lon)
    for point_index, compound_index in zip(hits[0].tolist(), hits[1].tolist(), strict=True):
        if result[point_index] is None:
            result[point_index] = compounds[compound_index].pk
    return result


@transaction.atomic
def _store_network(network: Network, extract: Any) -> None:
    """Make the new network current with its OSM facilities and buildings. The previous
    import's stay (the current results use them) until the new analysis replaces them;
    facilities registered in civicloop stay for good."""
    kinds = {k.code: k for k in FacilityKind.objects.all()}
    Network.objects.filter(is_current=True).update(is_current=False)
    facilities = [f for f in extract.facilities if f.kind in kinds]
    lon = np.array([f.lon for f in facilities])
    lat = np.array([f.lat for f in facilities])
    communities, paths = places_of(lon, lat)
    Facility.objects.bulk_create(
        [
            Facility(
                kind=kinds[f.kind],
                name=f.name[:200],
                lon=f.lon,
                lat=f.lat,
                source=FacilitySource.OSM,
                network=network,
                osm_type=f.osm_type,
                osm_id=f.osm_id,
                osm_node=f.node_id,
                community_id=community,
                area_path=path,
            )
            for f, community, path in zip(facilities, communities, paths, strict=True)
        ],
        batch_size=2000,
    )
    blon = np.array([b.lon for b in extract.buildings])
    blat = np.array([b.lat for b in extract.buildings])
    communities, paths = places_of(blon, blat)
    compounds = _compound_of(blon, blat)
    Building.objects.bulk_create(
        [
            Building(
                network=network,
                osm_type=b.osm_type,
                osm_id=b.osm_id,
                name=b.name[:200],
                lon=b.lon,
                lat=b.lat,
                households=b.households,
                compound_id=compound,
                community_id=community,
                area_path=path,
            )
            for b, community, path, compound in zip(
                extract.buildings, communities, paths, compounds, strict=True
            )
        ],
        batch_size=2000,
    )
    stats = extract.stats
    network.status = JobStatus.DONE
    network.is_current = True
    network.fingerprint = extract.graph.fingerprint()
    network.nodes = extract.graph.n_nodes
    network.edges = extract.graph.n_edges
    network.ways = int(stats.get("ways", 0))
    network.facilities = len(facilities)
    network.buildings = len(extract.buildings)
    network.households = sum(b.households for b in extract.buildings)
    network.finished_at = timezone.now()
    network.stage = "done"
    network.save()


def current_network() -> Network | None:
    return Network.objects.filter(is_current=True).first()


# ---- analysis ------------------------------------------------------------------------------


def network_facilities(network: Network | None) -> QuerySet[Facility]:
    """The facilities an analysis of ``network`` uses: the active ones of active kinds,
    registered in civicloop or read with that network (an older import's stay until the new
    results replace the old, so the pages never show half of each)."""
    source = Q(source=FacilitySource.CIVICLOOP)
    if network is not None:
        source |= Q(network=network)
    return Facility.objects.filter(source, active=True, kind__active=True)


def _settings() -> calc.Settings:
    minutes = FacilityKind.objects.filter(active=True).values_list("level_minutes", flat=True)
    return calc.Settings.from_config(config(), kind_minutes=list(minutes))


def inputs_stamp(network: Network | None = None) -> str:
    """A digest of everything the results depend on: the network, the settings of the
    computation, the active kinds and facilities, the compounds (outline included). Results
    computed from another stamp are stale. (Upload limits and rate limits are not inputs.)"""
    network = network or current_network()
    digest = hashlib.sha256()
    digest.update(
        f"{network.pk if network else 0}:{network.fingerprint if network else ''}".encode()
    )
    digest.update(repr(_settings()).encode())
    for rows in (
        FacilityKind.objects.filter(active=True)
        .order_by("pk")
        .values_list("pk", "level_minutes", "required"),
        network_facilities(network)
        .order_by("pk")
        .values_list("pk", "kind_id", "lon", "lat", "osm_node"),
        Compound.objects.order_by("pk").values_list("pk", "households", "community_id", "geometry"),
    ):
        for row in rows.iterator(chunk_size=5000):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def analysis_request(*, by: Any = None) -> Analysis | None:
    """Queue a recomputation on the current network unless one is already queued for it (or,
    asked by the system, nothing changed since the current results). ``by`` (a user asking
    from a page) must manage the life circle."""
    if by is not None and not policy.may_manage_lifecircle(by):
        raise PermissionRefused(
            _("Only the city's campaign office or an administrator may recompute the life circle.")
        )
    with transaction.atomic():
        # The network row serialises requests (PostgreSQL locks nothing on an empty result).
        network = Network.objects.select_for_update().filter(is_current=True).first()
        if network is None:
            return None
        queued = Analysis.objects.filter(status=JobStatus.QUEUED, network=network).first()
        if queued is not None:
            return queued
        current = Analysis.objects.filter(is_current=True, network=network).first()
        if by is None and current is not None and current.inputs_stamp == inputs_stamp(network):
            return current  # nothing changed since: a save that changed nothing the results use
        cfg = _settings()
        item = Analysis.objects.create(
            network=network,
            speed_m_per_min=cfg.speed_m_per_min,
            levels=list(cfg.levels),
            cutoff_m=cfg.cutoff_m,
            max_snap_m=cfg.max_snap_m,
            requested_at=timezone.now(),
        )
        transaction.on_commit(lambda: _enqueue_analysis(item.pk))
    return item


def _enqueue_analysis(analysis_id: int) -> None:
    from .tasks import analysis_compute

    analysis_compute.enqueue(analysis_id)


def analysis_run(analysis_id: int) -> str:
    """Compute a queued analysis and make it the current one. Returns the final status."""
    if not _claim(Analysis, analysis_id, stage="computing"):
        return (
            Analysis.objects.filter(pk=analysis_id).values_list("status", flat=True).first() or ""
        )
    item = Analysis.objects.select_related("network").get(pk=analysis_id)
    with translation.override(settings.LANGUAGE_CODE):
        try:
            _compute_and_store(item)
        except _Superseded as exc:
            _fail(Analysis, analysis_id, str(exc))
            return JobStatus.FAILED
        except Exception:
            log.exception("life-circle analysis %s failed", analysis_id)
            _fail(
                Analysis,
                analysis_id,
                _("The computation failed; the previous results stay. Tell the administrator."),
            )
            return JobStatus.FAILED
    return JobStatus.DONE


class _Superseded(Exception):
    """Newer inputs or newer results exist: this computation must not become current."""


class Origin(NamedTuple):
    """A compound or building the analysis measures from."""

    origin: str  # "compound" | "building"
    pk: int
    households: int
    community_id: int | None
    counted: bool  # counts in coverage: a compound, or a building outside every compound


def _origins(network: Network) -> tuple[list[Origin], calc.Points]:
    """Every compound (from a point inside its outline) and every building of the network.
    A compound registered without a household count takes the sum of its buildings'."""
    keys: list[Origin] = []
    lon: list[float] = []
    lat: list[float] = []
    in_compounds = dict(
        Building.objects.filter(network=network, compound__isnull=False)
        .values("compound_id")
        .annotate(total=Sum("households"))
        .values_list("compound_id", "total")
    )
    compounds = Compound.objects.only("pk", "geometry", "households", "community_id").order_by("pk")
    for compound in compounds:
        point = compound.shape.representative_point()
        households = compound.households or int(in_compounds.get(compound.pk) or 0)
        keys.append(Origin("compound", compound.pk, households, compound.community_id, True))
        lon.append(point.x)
        lat.append(point.y)
    buildings = Building.objects.filter(network=network).order_by("pk")
    for pk, blon, blat, households, community, compound in buildings.values_list(
        "pk", "lon", "lat", "households", "community_id", "compound_id"
    ):
        keys.append(Origin("building", pk, households, community, compound is None))
        lon.append(blon)
        lat.append(blat)
    return keys, calc.Points.of(lon, lat)


def _coverage_rows(
    item: Analysis,
    kinds: list[FacilityKind],
    keys: list[Origin],
    covered: np.ndarray,
    state: np.ndarray,
) -> list[Coverage]:
    """Coverage of every community and every area above it, per kind and for all required kinds."""
    parents = dict(Area.objects.values_list("pk", "parent_id"))
    chains: dict[int, list[int]] = {}

    def chain(area_id: int) -> list[int]:
        if area_id not in chains:
            ids, current = [], area_id
            while current is not None:
                ids.append(current)
                current = parents.get(current)
            chains[area_id] = ids
        return chains[area_id]

    required = np.array([k.required for k in kinds], dtype=bool)
    all_required = (
        covered[required].all(axis=0) if required.any() else np.zeros(len(keys), dtype=bool)
    )
    unreachable = state == calc.UNREACHABLE
    totals: dict[tuple[int, int | None], list[int]] = {}
    for i, origin in enumerate(keys):
        if not origin.counted or origin.community_id is None:
            continue
        for area_id in chain(origin.community_id):
            for k, kind in enumerate(kinds):
                row = totals.setdefault((area_id, kind.pk), [0, 0, 0, 0, 0])
                row[0] += origin.households
                row[2] += 1
                if covered[k, i]:
                    row[1] += origin.households
                    row[3] += 1
                if unreachable[k, i]:
                    row[4] += 1
            row = totals.setdefault((area_id, None), [0, 0, 0, 0, 0])
            row[0] += origin.households
            row[2] += 1
            if all_required[i]:
                row[1] += origin.households
                row[3] += 1
            if required.any() and unreachable[required, i].any():
                row[4] += 1
    return [
        Coverage(
            analysis=item,
            area_id=area_id,
            kind_id=kind_id,
            households=v[0],
            covered_households=v[1],
            places=v[2],
            covered_places=v[3],
            unreachable_places=v[4],
        )
        for (area_id, kind_id), v in totals.items()
    ]


def _compute_and_store(item: Analysis) -> None:
    if not Network.objects.filter(pk=item.network_id, is_current=True).exists():
        raise _Superseded(_("A newer network was imported; this computation was dropped."))
    _refresh_building_compounds(item.network)
    started = time.monotonic()
    stamp = inputs_stamp(item.network)
    graph = _load_graph(item.network.graph)
    kinds = list(FacilityKind.objects.filter(active=True).order_by("sort_order", "code"))
    kind_index = {k.pk: i for i, k in enumerate(kinds)}
    facilities = list(
        network_facilities(item.network)
        .order_by("pk")
        .values_list("pk", "kind_id", "lon", "lat", "osm_node")
    )
    fac_points = calc.Points.of(
        [f[2] for f in facilities],
        [f[3] for f in facilities],
        [f[4] if f[4] is not None else -1 for f in facilities],
    )
    fac_kind = np.array([kind_index[f[1]] for f in facilities], dtype=np.int64)
    keys, origin_points = _origins(item.network)
    cfg = calc.Settings(item.speed_m_per_min, tuple(item.levels), item.cutoff_m, item.max_snap_m)
    result = calc.compute(
        graph=graph,
        facilities=fac_points,
        facility_kind=fac_kind,
        origins=origin_points,
        n_kinds=len(kinds),
        settings=cfg,
    )
    Analysis.objects.filter(pk=item.pk).update(stage="storing")
    minutes = result.distance / cfg.speed_m_per_min
    levels = calc.level_of(result.distance, cfg.levels, cfg.speed_m_per_min)
    fac_ids = np.array([f[0] for f in facilities] + [0], dtype=np.int64)
    limits = np.array([calc.limit_m(k.level_minutes, cfg.speed_m_per_min) for k in kinds])[:, None]
    covered = (result.state == calc.REACHED) & (result.distance <= limits)
    rows = _reach_rows(item, kinds, keys, result, minutes, levels, covered, fac_ids)
    buffer = io.BytesIO()
    save_result(buffer, result=result, keys=keys, kinds=kinds)
    with transaction.atomic():
        current = Analysis.objects.select_for_update().filter(is_current=True).first()
        if current is not None and current.requested_at > item.requested_at:
            raise _Superseded(_("A newer computation finished first; its results are shown."))
        if not Network.objects.filter(pk=item.network_id, is_current=True).exists():
            raise _Superseded(_("A newer network was imported; this computation was dropped."))
        _insert_reaches(rows)
        Coverage.objects.bulk_create(
            _coverage_rows(item, kinds, keys, covered, result.state), batch_size=5000
        )
        item.data.save("result.npz", ContentFile(buffer.getvalue()), save=False)
        Analysis.objects.filter(is_current=True).update(is_current=False)
        item.status = JobStatus.DONE
        item.stage = "done"
        item.is_current = True
        item.inputs_stamp = stamp
        item.origins = len(keys)
        item.unreachable = int((result.origin_nodes < 0).sum())
        item.finished_at = timezone.now()
        item.seconds = round(time.monotonic() - started, 3)
        item.save()
        # Older results, and what older imports read, are dropped once the new results are
        # in place (one transaction): until now the pages showed the old ones whole.
        Reach.objects.exclude(analysis=item).delete()
        Building.objects.exclude(network=item.network).delete()
        Facility.objects.filter(source=FacilitySource.OSM).exclude(network=item.network).delete()
        _prune_analyses(keep=item)


REACH_COLUMNS = (
    "analysis_id",
    "kind_id",
    "compound_id",
    "building_id",
    "state",
    "distance_m",
    "minutes",
    "level",
    "covered",
    "facility_id",
    "snap_m",
)


def _reach_rows(
    item: Analysis,
    kinds: list[FacilityKind],
    keys: list[Origin],
    result: calc.Result,
    minutes: np.ndarray,
    levels: np.ndarray,
    covered: np.ndarray,
    fac_ids: np.ndarray,
) -> list[tuple[Any, ...]]:
    """One row per origin and kind, as plain tuples in ``REACH_COLUMNS`` order: a city has
    hundreds of thousands, and model instances cost more than the computation."""
    compound_ids = [o.pk if o.origin == "compound" else None for o in keys]
    building_ids = [o.pk if o.origin == "building" else None for o in keys]
    snaps = [
        float(s) if n >= 0 else None
        for s, n in zip(result.origin_snap.tolist(), result.origin_nodes.tolist(), strict=True)
    ]
    names = [str(STATE_NAMES[s]) for s in (calc.REACHED, calc.BEYOND, calc.UNREACHABLE)]
    rows: list[tuple[Any, ...]] = []
    for k, kind in enumerate(kinds):
        reached = (result.state[k] == calc.REACHED).tolist()
        states = result.state[k].tolist()
        dist, mins, lev = result.distance[k].tolist(), minutes[k].tolist(), levels[k].tolist()
        cov = covered[k].tolist()
        nearest = result.nearest[k]
        facility = np.where(nearest >= 0, fac_ids[np.maximum(nearest, 0)], -1).tolist()
        for i in range(len(keys)):
            ok = reached[i]
            rows.append(
                (
                    item.pk,
                    kind.pk,
                    compound_ids[i],
                    building_ids[i],
                    names[states[i]],
                    dist[i] if ok else None,
                    mins[i] if ok else None,
                    (lev[i] or None) if ok else None,
                    cov[i],
                    facility[i] if ok and facility[i] >= 0 else None,
                    snaps[i],
                )
            )
    return rows


def _insert_reaches(rows: list[tuple[Any, ...]]) -> None:
    """Plain multi-row inserts (``executemany``), in chunks."""
    table = Reach._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(REACH_COLUMNS)}) VALUES ({', '.join(['%s'] * len(REACH_COLUMNS))})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 20000):
            cursor.executemany(sql, rows[start : start + 20000])


def _prune_analyses(*, keep: Analysis) -> None:
    for old in Analysis.objects.exclude(pk=keep.pk).filter(
        status__in=[JobStatus.DONE, JobStatus.FAILED]
    ):
        if old.data:
            transaction.on_commit(
                lambda name=old.data.name, storage=old.data.storage: storage.delete(name)
            )
        old.delete()
    # Older imports keep their record (the page lists them) but not their files: a city's
    # extract and network take hundreds of megabytes each.
    older = Network.objects.exclude(pk=keep.network_id).filter(
        status__in=[JobStatus.DONE, JobStatus.FAILED]
    )
    for network in older.exclude(source="", graph=""):
        for field in (network.source, network.graph):
            if field:
                transaction.on_commit(
                    lambda name=field.name, storage=field.storage: storage.delete(name)
                )
    older.update(source="", graph="")


def _load_graph(field: Any) -> WalkGraph:
    """Through the storage API, so the file may live on any storage the settings name."""
    with tempfile.TemporaryDirectory() as tmp, field.open("rb") as src:
        path = Path(tmp) / "graph.npz"
        path.write_bytes(src.read())
        return WalkGraph.load(path)


def save_result(
    fh: Any, *, result: calc.Result, keys: list[Origin], kinds: list[FacilityKind]
) -> None:
    """The arrays the what-if and the map need, with the spliced network, in one ``.npz``."""
    g = result.augmented.graph
    np.savez_compressed(
        fh,
        g_lon=g.lon,
        g_lat=g.lat,
        g_osm_ids=g.osm_ids,
        g_edge_u=g.edge_u,
        g_edge_v=g.edge_v,
        g_edge_len=g.edge_len,
        kind_ids=np.array([k.pk for k in kinds], dtype=np.int64),
        origin_compound=np.array(
            [o.pk if o.origin == "compound" else 0 for o in keys], dtype=np.int64
        ),
        origin_building=np.array(
            [o.pk if o.origin == "building" else 0 for o in keys], dtype=np.int64
        ),
        origin_nodes=result.origin_nodes,
        origin_snap=result.origin_snap,
        # What each origin weighs in coverage, what-if and best sites: its households if it
        # counts (a compound, or a building outside compounds, inside the city's areas), else 0.
        origin_households=np.array(
            [o.households if o.counted and o.community_id is not None else 0 for o in keys],
            dtype=np.int64,
        ),
        distance=result.distance,
        node_distance=result.node_distance,
    )


# ---- registered facilities -----------------------------------------------------------------


def _facility_place(lon: float, lat: float) -> tuple[int | None, str]:
    communities, paths = places_of(np.array([lon]), np.array([lat]))
    return communities[0], paths[0]


def check_point(lon: Any, lat: Any) -> tuple[float, float]:
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise ValidationFailed(
            _("Give the position as longitude and latitude."), field="lon"
        ) from None
    if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0) or not (np.isfinite(x) and np.isfinite(y)):
        raise ValidationFailed(
            _("The position is not a valid longitude and latitude."), field="lon"
        )
    return x, y


def facility_create(
    *, by: Any, kind: FacilityKind, name: str, lon: Any, lat: Any, address: str = ""
) -> Facility:
    """Register a facility OSM lacks (it outlives every re-import)."""
    x, y = check_point(lon, lat)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("Give the facility a name."), field="name")
    community, path = _facility_place(x, y)
    if not policy.may_edit_facility(by, path):
        raise PermissionRefused(_("You may register facilities only inside your own area."))
    if not kind.active:
        raise ValidationFailed(_("This kind of facility is no longer in use."), field="kind")
    with transaction.atomic():
        facility = Facility.objects.create(
            kind=kind,
            name=name[:200],
            address=(address or "").strip()[:200],
            lon=x,
            lat=y,
            source=FacilitySource.CIVICLOOP,
            community_id=community,
            area_path=path,
            created_by=by if getattr(by, "pk", None) else None,
        )
    return facility


def access_facility(user: Any, facility_id: int) -> Facility:
    facility = Facility.objects.filter(pk=facility_id).select_related("kind").first()
    if facility is None or not policy.may_edit_facility(user, facility.area_path):
        raise NotFoundOrForbidden(_("No such facility, or it is not yours to change."))
    return facility


def facility_update(
    *,
    by: Any,
    facility: Facility,
    kind: FacilityKind,
    name: str,
    lon: Any,
    lat: Any,
    address: str = "",
) -> Facility:
    """Correct a registered facility: its kind, name, address or position."""
    if facility.source != FacilitySource.CIVICLOOP:
        raise ValidationFailed(
            _(
                "Facilities read from OpenStreetMap are corrected in OpenStreetMap; here they can only be retired."
            )
        )
    x, y = check_point(lon, lat)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("Give the facility a name."), field="name")
    community, path = _facility_place(x, y)
    if not (
        policy.may_edit_facility(by, facility.area_path) and policy.may_edit_facility(by, path)
    ):
        raise PermissionRefused(_("You may change facilities only inside your own area."))
    with transaction.atomic():
        facility = Facility.objects.select_for_update().get(pk=facility.pk)
        facility.kind, facility.name, facility.address = (
            kind,
            name[:200],
            (address or "").strip()[:200],
        )
        facility.lon, facility.lat, facility.community_id, facility.area_path = (
            x,
            y,
            community,
            path,
        )
        facility.save(
            update_fields=[
                "kind",
                "name",
                "address",
                "lon",
                "lat",
                "community",
                "area_path",
                "updated_at",
            ]
        )
    return facility


def facility_set_active(*, by: Any, facility: Facility, active: bool) -> Facility:
    """Retire a facility (closed, moved away) or bring it back; OSM ones too, until the next
    import reads them again."""
    if not policy.may_edit_facility(by, facility.area_path):
        raise PermissionRefused(_("You may change facilities only inside your own area."))
    with transaction.atomic():
        facility = Facility.objects.select_for_update().get(pk=facility.pk)
        facility.active = active
        facility.save(update_fields=["active", "updated_at"])
    return facility


# A city's import takes minutes and an analysis less: a job still "running" this long after
# it started lost its worker.
STALE_AFTER = dt.timedelta(hours=6)
LOST_AFTER = dt.timedelta(hours=1)


def lifecircle_recover(now: dt.datetime | None = None) -> int:
    """Housekeeping (``CIVICLOOP["PERIODIC_JOBS"]``): imports and analyses whose worker died
    while running are marked failed (the pages then offer to run them again; the previous
    results stay current), and analyses queued long ago are queued again. Returns how many."""
    now = now or timezone.now()
    with translation.override(settings.LANGUAGE_CODE):
        message = _("The job stopped before it finished. Run it again.")
    count = Network.objects.filter(
        status=JobStatus.RUNNING, started_at__lt=now - STALE_AFTER
    ).update(status=JobStatus.FAILED, error=message, finished_at=now)
    count += Analysis.objects.filter(
        status=JobStatus.RUNNING, started_at__lt=now - STALE_AFTER
    ).update(status=JobStatus.FAILED, error=message, finished_at=now)
    # A queued analysis whose task was lost (a queue flushed by hand) is queued again:
    # claiming is conditional, so one that was only slow to start still runs once.
    lost = Analysis.objects.filter(status=JobStatus.QUEUED, requested_at__lt=now - LOST_AFTER)
    for pk in lost.values_list("pk", flat=True):
        _enqueue_analysis(pk)
        count += 1
    return count
