"""Benchmark point → grid lookup: the STRtree index against a plain shapely loop.

    .venv/bin/python bench/grid_lookup.py                # the demo city's 109 grids (real Helsinki blocks)
    .venv/bin/python bench/grid_lookup.py --source db    # grids of the configured database
    .venv/bin/python bench/grid_lookup.py --source synthetic   # ~120 generated grids

Draws random points over the bounding box of the grids, times
``places.index.grids_for_points`` on all of them and, on a sample, the loop a
developer would write first (for each point, for each grid, ``contains``),
checks that both give the same grid for every sampled point, and prints the
throughput of each with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings.dev")

import django  # noqa: E402

django.setup()

import shapely  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import DatabaseError  # noqa: E402
from shapely.geometry import Point, Polygon  # noqa: E402
from shapely.geometry.base import BaseGeometry  # noqa: E402

from civicloop.places.index import NO_GRID, GridIndex, grids_for_points  # noqa: E402
from civicloop.places.models import Area, AreaKind  # noqa: E402

Grid = tuple[int, str, BaseGeometry]


def synthetic_grids(*, columns: int = 12, rows: int = 10, seed: int = 7) -> list[Grid]:
    """A community-sized tiling of irregular grids (≈ 150 m cells, 8 vertices per edge).

    Neighbours share their edges exactly, as digitised grids do, so the grids
    tile the area without gaps or overlaps.
    """
    rng = np.random.default_rng(seed)
    west, north, step = 87.58, 43.83, 0.0018
    # Lattice corners, jittered by up to a quarter cell (the outer frame stays straight).
    corners = np.empty((rows + 1, columns + 1, 2))
    for i in range(rows + 1):
        for j in range(columns + 1):
            jitter = rng.uniform(-0.25, 0.25, 2) * step
            if i in (0, rows):
                jitter[1] = 0.0
            if j in (0, columns):
                jitter[0] = 0.0
            corners[i, j] = (west + j * step + jitter[0], north - i * step * 0.75 + jitter[1])

    def edge(
        a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], wiggle: bool
    ) -> npt.NDArray[np.float64]:
        t = np.linspace(0.0, 1.0, 8)[1:-1, np.newaxis]
        points = a + t * (b - a)
        if wiggle:
            normal = np.array([-(b - a)[1], (b - a)[0]])
            points = points + rng.uniform(-0.04, 0.04, (len(points), 1)) * normal
        return np.vstack([a, points])

    horizontal = {
        (i, j): edge(corners[i, j], corners[i, j + 1], 0 < i < rows)
        for i in range(rows + 1)
        for j in range(columns)
    }
    vertical = {
        (i, j): edge(corners[i, j], corners[i + 1, j], 0 < j < columns)
        for i in range(rows)
        for j in range(columns + 1)
    }
    grids: list[Grid] = []
    for i in range(rows):
        for j in range(columns):
            top = horizontal[(i, j)]
            right = vertical[(i, j + 1)]
            bottom = np.vstack([horizontal[(i + 1, j)], corners[i + 1, j + 1]])[::-1][:-1]
            left = np.vstack([vertical[(i, j)], corners[i + 1, j]])[::-1][:-1]
            ring = np.vstack([top, right, bottom, left])
            seq = i * columns + j + 1
            grids.append((seq, f"650102001001{seq:03d}", Polygon(ring)))
    return grids


def demo_grids() -> tuple[list[Grid], str]:
    """The grids ``civicloop demo`` imports, straight from the geography builder (no database)."""
    from civicloop.demo.geography import build_demo_geography

    features = [f for f in build_demo_geography()["features"] if f["properties"].get("kind") == "grid"]
    features.sort(key=lambda f: f["properties"]["code"])
    geometries = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
    return [
        (n, f["properties"]["code"], g) for n, (f, g) in enumerate(zip(features, geometries, strict=True), start=1)
    ], "the demo city (civicloop.demo.geography)"


def database_grids() -> tuple[list[Grid], str]:
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and not Path(str(database["NAME"])).exists():
        return [], f"no database at {database['NAME']}"
    try:
        rows = list(Area.objects.filter(kind=AreaKind.GRID).values_list("id", "code", "geometry"))
    except DatabaseError as exc:
        return [], f"database not ready ({exc.__class__.__name__})"
    geometries = shapely.from_geojson([r[2] for r in rows]) if rows else []
    return [
        (r[0], r[1], g) for r, g in zip(rows, geometries, strict=True)
    ], f"database {database['NAME']}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plain_loop(
    polygons: list[BaseGeometry],
    ids: npt.NDArray[np.int64],
    lats: npt.NDArray[np.float64],
    lons: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """The first thing one would write: test every grid until one contains the point (grids in code order)."""
    result = np.full(len(lats), NO_GRID, dtype=np.int64)
    for k in range(len(lats)):
        point = Point(lons[k], lats[k])
        for position, polygon in enumerate(polygons):
            if polygon.contains(point):
                result[k] = ids[position]
                break
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--points", type=int, default=1_000_000, help="points for the index (default 1,000,000)"
    )
    parser.add_argument(
        "--sample", type=int, default=20_000, help="points for the plain loop (default 20,000)"
    )
    parser.add_argument(
        "--source", choices=("demo", "db", "synthetic"), default="demo",
        help="grids to index: the demo city (default), the configured database, or generated ones",
    )
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    if args.source == "demo":
        grids, source = demo_grids()
    elif args.source == "db":
        grids, source = database_grids()
        if not grids:
            parser.error(f"--source db: {source} has no grids; import some or use --source demo")
    else:
        grids, source = synthetic_grids(), "synthetic (--source synthetic)"

    started = time.perf_counter()
    index = GridIndex.build(grids)
    build_s = time.perf_counter() - started
    bounds = shapely.total_bounds(index.geometries)

    rng = np.random.default_rng(args.seed)
    lons = rng.uniform(bounds[0], bounds[2], args.points)
    lats = rng.uniform(bounds[1], bounds[3], args.points)

    grids_for_points(lats[:1000], lons[:1000], index=index)  # warm-up
    timings = []
    for _run in range(3):
        started = time.perf_counter()
        found = grids_for_points(lats, lons, index=index)
        timings.append(time.perf_counter() - started)
    index_s = min(timings)

    sample = min(args.sample, args.points)
    # Fresh, unprepared copies: the index prepared its own polygons, the plain loop must not benefit.
    plain_polygons = list(shapely.from_wkb(shapely.to_wkb(index.geometries)))
    started = time.perf_counter()
    expected = plain_loop(plain_polygons, index.ids, lats[:sample], lons[:sample])
    loop_s = time.perf_counter() - started

    disagree = np.flatnonzero(expected != found[:sample])
    assert disagree.size == 0, (
        f"index and plain loop disagree on {disagree.size} of {sample} points, e.g. #{disagree[0]}"
    )

    index_rate = args.points / index_s
    loop_rate = sample / loop_s
    vertices = int(shapely.get_num_coordinates(index.geometries).sum())
    print(
        f"machine        : {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}"
    )
    print(
        f"python         : {platform.python_version()} (numpy {np.__version__}, shapely {shapely.__version__}, GEOS {shapely.geos_version_string})"
    )
    print(
        f"grids          : {len(index)} from {source}, {vertices} vertices, index built in {build_s * 1000:.1f} ms"
    )
    print(
        f"points         : {args.points:,} uniform over {bounds[0]:.5f},{bounds[1]:.5f} – {bounds[2]:.5f},{bounds[3]:.5f}; {np.mean(found != NO_GRID):.1%} inside a grid"
    )
    print(
        f"grids_for_points: {args.points:,} points in {index_s:.3f} s (best of 3) = {index_rate:,.0f} points/s"
    )
    print(f"plain loop      : {sample:,} points in {loop_s:.3f} s = {loop_rate:,.0f} points/s")
    print(
        f"speed-up        : {index_rate / loop_rate:,.0f}×; both agree on all {sample:,} sampled points"
    )


if __name__ == "__main__":
    main()
