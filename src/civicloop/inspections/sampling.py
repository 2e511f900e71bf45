"""Stratified random sampling of inspection sites, reproducible from a recorded seed.

A round records its sampling frame (every eligible site with its stratum) and the seed;
``draw`` turns the two into the same sample on every machine and every run. The frame is
sorted by (stratum, site id) before drawing, so the order in which the database happened
to return the sites never changes the result, and strata are visited in that order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import groupby

__all__ = ["draw"]


def draw(frame: Sequence[tuple[int, str]], per_stratum: int, seed: int) -> list[tuple[int, str]]:
    """Draw up to ``per_stratum`` sites from every stratum of ``frame``, without replacement.

    ``frame`` holds ``(site_id, stratum)`` pairs (a site listed twice counts once; in two
    strata it is an error). Returns the
    chosen pairs in draw order: stratum by stratum (sorted by label), within a stratum in the
    order ``random.Random(seed)`` picked them. A stratum smaller than ``per_stratum`` is taken
    whole.
    """
    if per_stratum < 0:
        raise ValueError("per_stratum must not be negative")
    rng = random.Random(seed)
    rows_by_site: dict[int, str] = {}
    for site_id, stratum in frame:
        if rows_by_site.setdefault(int(site_id), str(stratum)) != str(stratum):
            raise ValueError(f"site {site_id} is listed in two strata")
    ordered = sorted(rows_by_site.items(), key=lambda row: (row[1], row[0]))
    chosen: list[tuple[int, str]] = []
    for _stratum, rows in groupby(ordered, key=lambda row: row[1]):
        members = list(rows)
        chosen.extend(rng.sample(members, min(per_stratum, len(members))))
    return chosen
