"""Stratified random sampling: reproducible from the seed, whatever the order of the frame."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.inspections.sampling import draw

STRATA = ["东关街道", "西门街道", "back_street", "old_community", "新华街道 · 老旧小区"]


@st.composite
def frames(draw_: st.DrawFn) -> list[tuple[int, str]]:
    ids = draw_(st.lists(st.integers(min_value=1, max_value=10_000), unique=True, max_size=40))
    return [(site_id, draw_(st.sampled_from(STRATA))) for site_id in ids]


@settings(max_examples=60, deadline=None)
@given(
    frame=frames(),
    per_stratum=st.integers(min_value=1, max_value=8),
    seed=st.integers(min_value=0, max_value=2**63 - 1),
    shuffle_seed=st.integers(),
)
def test_same_seed_and_frame_give_the_same_sample_whatever_the_input_order(
    frame, per_stratum, seed, shuffle_seed
):
    shuffled = list(frame)
    random.Random(shuffle_seed).shuffle(shuffled)
    assert draw(frame, per_stratum, seed) == draw(shuffled, per_stratum, seed)
    assert draw(tuple(reversed(frame)), per_stratum, seed) == draw(frame, per_stratum, seed)


@settings(max_examples=60, deadline=None)
@given(
    frame=frames(),
    per_stratum=st.integers(min_value=1, max_value=8),
    seed=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_each_stratum_gets_min_of_n_and_its_size_without_duplicates(frame, per_stratum, seed):
    sample = draw(frame, per_stratum, seed)
    sizes = Counter(stratum for _site, stratum in frame)
    taken = Counter(stratum for _site, stratum in sample)
    assert taken == Counter({stratum: min(per_stratum, size) for stratum, size in sizes.items()})
    ids = [site_id for site_id, _stratum in sample]
    assert len(ids) == len(set(ids))
    # Every pair drawn is a pair of the frame, and strata come one after the other, sorted.
    assert set(sample) <= set(frame)
    order = [stratum for _site, stratum in sample]
    assert order == sorted(order)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**62))
def test_different_seeds_usually_draw_different_samples(seed):
    frame = [(site_id, STRATA[site_id % 2]) for site_id in range(1, 61)]  # two strata of 30
    samples = {tuple(draw(frame, 5, seed + k)) for k in range(5)}
    # C(30, 5)² possible samples (and orders): five seeds giving only one or two is all but impossible.
    assert len(samples) >= 3


def test_a_known_draw_stays_the_same_across_versions():
    """The recorded seed must redraw the recorded sample years later: pin one result."""
    frame = [(i, "甲" if i <= 6 else "乙") for i in range(1, 11)]
    assert draw(frame, 2, 42) == draw(list(reversed(frame)), 2, 42)
    expected = []
    rng = random.Random(42)
    expected += rng.sample([(i, "乙") for i in range(7, 11)], 2)  # "乙" sorts before "甲"
    expected += rng.sample([(i, "甲") for i in range(1, 7)], 2)
    assert draw(frame, 2, 42) == expected


def test_small_strata_are_taken_whole_and_empty_frame_draws_nothing():
    assert sorted(draw([(3, "a"), (1, "a"), (2, "b")], 5, 7)) == [(1, "a"), (2, "b"), (3, "a")]
    assert draw([], 3, 1) == []


def test_a_site_in_two_strata_is_an_error_and_a_repeated_pair_counts_once():
    with pytest.raises(ValueError):
        draw([(1, "a"), (1, "b")], 1, 1)
    assert draw([(1, "a"), (1, "a")], 3, 1) == [(1, "a")]
    with pytest.raises(ValueError):
        draw([(1, "a")], -1, 1)
