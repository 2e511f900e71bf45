"""Copy the front-end files civicloop serves from node_modules into its static files.

    python tools/vendor_assets.py            # after `npm ci`; run by `make node`
    python tools/vendor_assets.py --check    # exit 1 when a file is missing or stale

The packages come from the npm registry through package.json and package-lock.json;
only the built files the pages load are copied, into
src/civicloop/web/static/vendor/ (not committed), so the app serves them itself and
no page needs a CDN at run time.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
TARGET = ROOT / "src" / "civicloop" / "web" / "static" / "vendor"

# package → files or directories under it, copied to vendor/<package>/<basename>.
FILES: dict[str, tuple[str, ...]] = {
    "htmx.org": ("dist/htmx.min.js",),
    "leaflet": ("dist/leaflet.js", "dist/leaflet.css", "dist/images"),
    "leaflet.markercluster": (
        "dist/leaflet.markercluster.js",
        "dist/MarkerCluster.css",
        "dist/MarkerCluster.Default.css",
    ),
    "leaflet.heat": ("dist/leaflet-heat.js",),
    "echarts": ("dist/echarts.min.js",),
    # The interactive API docs at /api/v1/docs (drf-spectacular's Swagger UI view).
    "swagger-ui-dist": ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"),
}


def _pairs() -> list[tuple[Path, Path]]:
    pairs: list[tuple[Path, Path]] = []
    for package, paths in FILES.items():
        for rel in paths:
            src = NODE / package / rel
            dst = TARGET / package / Path(rel).name
            if src.is_dir():
                pairs.extend((f, dst / f.relative_to(src)) for f in sorted(src.rglob("*")) if f.is_file())
            else:
                pairs.append((src, dst))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report missing or stale files")
    args = parser.parse_args(argv)
    missing = [str(src.relative_to(ROOT)) for src, _ in _pairs() if not src.exists()]
    if missing:
        print("missing in node_modules (run `npm ci`):", *missing, sep="\n  ", file=sys.stderr)
        return 1
    stale = [(s, d) for s, d in _pairs() if not d.exists() or not filecmp.cmp(s, d, shallow=False)]
    if args.check:
        for _, d in stale:
            print(f"stale: {d.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for src, dst in stale:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    print(f"vendor assets: {len(_pairs())} files in {TARGET.relative_to(ROOT)} ({len(stale)} updated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
