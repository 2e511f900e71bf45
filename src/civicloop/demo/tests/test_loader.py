"""The demo city loads on SQLite and on PostgreSQL alike (this runs in both runs of ``make test``):
the geography, one login per role, every state of the loop in a small history made by
the real actions, and the same history again for the same seed."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count

from civicloop.cases.models import Case, CaseEvent, EventKind, Report, Source, State
from civicloop.cases.selectors import overdue_q
from civicloop.demo import texts
from civicloop.demo.loader import LOGINS, load_demo
from civicloop.demo.logins import demo_banner, login_lines
from civicloop.org.models import RoleAssignment, Unit, UnitKind, User
from civicloop.places.models import Area, AreaKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
ANCHOR = dt.datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
CASES = 100
SEED = 7


def history() -> list[tuple[str, str, str, int, int]]:
    """What the seed decides: tickets, states, categories, reporters and reworks."""
    return list(
        Case.objects.order_by("ticket_no").values_list(
            "ticket_no", "state", "category__code", "reporter_count", "rework_count"
        )
    )


def fits(description: str, templates: list[str]) -> bool:
    return any(
        re.fullmatch(re.escape(t).replace(re.escape("{place}"), ".*"), description)
        for t in templates
    )


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    """Load twice with the same seed (the first load rolled back), keep the second for the tests."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            load_demo(cases=CASES, seed=SEED, anchor=ANCHOR)
            first = history()
            transaction.set_rollback(True)
        assert not Area.objects.exists() and not Case.objects.exists()
        with transaction.atomic():
            counts = load_demo(cases=CASES, seed=SEED, anchor=ANCHOR)
            yield {"counts": counts, "first": first, "second": history()}
            transaction.set_rollback(True)


pytestmark = pytest.mark.django_db


def test_the_same_seed_gives_the_same_history(loaded) -> None:
    assert loaded["first"] == loaded["second"]
    assert len(loaded["second"]) >= CASES - 5  # a few reports join a neighbour's case


def test_no_story_was_cut_short(loaded) -> None:
    assert loaded["counts"]["replay.stopped"] == 0


def test_the_geography_and_the_units(loaded) -> None:
    kinds = dict(Area.objects.values_list("kind").annotate(n=Count("pk")))
    assert kinds[AreaKind.CITY] == 1
    assert kinds[AreaKind.DISTRICT] >= 2
    assert kinds[AreaKind.STREET] >= 6
    assert kinds[AreaKind.COMMUNITY] >= 20
    assert kinds[AreaKind.GRID] >= 100
    units = dict(Unit.objects.values_list("kind").annotate(n=Count("pk")))
    assert units[UnitKind.DEPARTMENT] >= 5
    assert units[UnitKind.STREET_OFFICE] == kinds[AreaKind.STREET]
    assert units[UnitKind.COMMUNITY_COMMITTEE] == kinds[AreaKind.COMMUNITY]
    assert units[UnitKind.PROPERTY_COMPANY] >= 1


def test_one_login_per_role(loaded) -> None:
    for login in LOGINS:
        user = User.objects.get(username=login.username)
        assert user.check_password("civicloop-demo")
        if login.role == "admin":
            assert user.is_superuser
        else:
            assert RoleAssignment.objects.filter(user=user, role=login.role).exists(), login


def test_every_state_of_the_loop_is_there(loaded) -> None:
    present = set(Case.objects.values_list("state", flat=True))
    assert present == set(State.values)


def test_the_history_spans_half_a_year_before_the_anchor(loaded) -> None:
    reported = Case.objects.values_list("reported_at", flat=True)
    assert min(reported) >= ANCHOR - dt.timedelta(days=183)
    assert max(reported) < ANCHOR
    assert (max(reported) - min(reported)).days >= 150


def test_every_timeline_is_a_chain_of_real_transitions_in_time_order(loaded) -> None:
    events: dict[int, list[CaseEvent]] = {}
    for event in CaseEvent.objects.order_by("case_id", "created_at", "id"):
        events.setdefault(event.case_id, []).append(event)
    for case in Case.objects.all():
        chain = events[case.pk]
        assert chain[0].kind in (EventKind.REPORTED, EventKind.REGISTERED)
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.from_state == before.to_state, (case.ticket_no, before.kind, after.kind)
        assert chain[-1].to_state == case.state
        # Nothing after the anchor but what the worker's sweep did at load time.
        late = [e for e in chain if e.created_at > ANCHOR]
        assert all(
            e.actor_id is None and e.kind in (EventKind.URGED, EventKind.ESCALATED) for e in late
        )


def test_descriptions_fit_their_categories(loaded) -> None:
    # Rectification cases of inspection findings carry the finding's text (tested below).
    for case in Case.objects.filter(finding__isnull=True).select_related("category"):
        code = case.category.code
        if case.source == Source.LOOKBACK:
            notes = texts.LOOKBACK_FAIL_NOTES.get(code, texts.LOOKBACK_FAIL_NOTES["default"])
            assert case.description in notes
        else:
            assert fits(case.description, texts.REPORTS[code][1]), (code, case.description)


def test_the_loop_has_its_detours(loaded) -> None:
    # Pinned or near-certain even in a small history (deferrals that resumed are rarer).
    assert Case.objects.filter(overdue_q(ANCHOR)).exists()
    assert Case.objects.filter(reporter_count__gt=1).exists()
    assert Report.objects.filter(joined_existing=True).exists()
    assert Case.objects.filter(recurrence_of__isnull=False).exists()
    kinds = set(CaseEvent.objects.values_list("kind", flat=True))
    for kind in (
        EventKind.RETURNED,
        EventKind.DEFERRED,
        EventKind.URGED,
        EventKind.ESCALATED,
        EventKind.REWORK,
        EventKind.LOOKBACK_PASSED,
        EventKind.LOOKBACK_FAILED,
        EventKind.RATED,
    ):
        assert kind in kinds, kind


def test_loading_again_changes_nothing(loaded) -> None:
    before = history()
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert history() == before


def test_every_login_starts_on_the_page_the_banner_names(loaded, client) -> None:
    banner = demo_banner("http://127.0.0.1:8000")
    lines = login_lines()
    assert [line.username for line in lines] == [login.username for login in LOGINS]
    for line in lines:
        assert f"  {line.username} " in banner
        assert f"starts on http://127.0.0.1:8000{line.start}" in banner
        client.force_login(User.objects.get(username=line.username))
        # The login redirect lands where the banner says, and the page is there.
        assert client.get("/me/")["Location"] == line.start
        assert client.get(line.start).status_code == 200, line
        if line.hint:
            assert client.get(line.hint.rpartition(": ")[2]).status_code == 200, line
        client.logout()
    # Pinned in every history: the resident's own reports and a recurrence for the inspector.
    assert {line.username for line in lines if line.hint} >= {"resident", "inspector"}


def test_the_inspection_chain_is_there(loaded) -> None:
    """Two standards, a published undercover round with findings and rectification cases (closed
    in time, late, still open), its look-back with recurrences, rankings and a bulletin, and an
    open round under way for the demo inspector."""
    from civicloop.inspections.models import (
        Bulletin,
        Finding,
        Round,
        RoundKind,
        RoundStatus,
        Standard,
        StandardStatus,
        Visit,
    )
    from civicloop.inspections.rankings import round_ranking
    from civicloop.inspections.rectification import FindingState, findings_with_state

    assert Standard.objects.filter(status=StandardStatus.PUBLISHED).count() == 2
    undercover = Round.objects.filter(kind=RoundKind.UNDERCOVER, status=RoundStatus.PUBLISHED, lookback_of=None)
    assert undercover.count() == 2
    october = undercover.order_by("-period_end").first()
    findings = Finding.objects.filter(visit__location__round=october)
    assert findings.count() >= 10
    assert not findings.filter(case__isnull=True).exists()
    states = {f.state for f in findings_with_state(findings, now=ANCHOR)}
    assert {FindingState.RECTIFIED_IN_TIME, FindingState.RECTIFIED_LATE} <= states
    assert states & {FindingState.OPEN, FindingState.OVERDUE}
    assert Visit.objects.filter(location__round=october, off_site=True).exists()
    lookback = Round.objects.get(lookback_of=october)
    assert lookback.status == RoundStatus.PUBLISHED
    recurred = Finding.objects.filter(visit__location__round=lookback, recurrence_of__isnull=False)
    assert recurred.exists()
    for finding in recurred.select_related("case", "recurrence_of__case"):
        assert finding.case.source == Source.LOOKBACK
        assert finding.case.recurrence_of_id == finding.recurrence_of.case_id
    for level in ("community", "street", "district", "unit"):
        assert round_ranking(october, level)
    assert Bulletin.objects.filter(round=october).exists()
    current = Round.objects.get(kind=RoundKind.OPEN, status=RoundStatus.ACTIVE)
    inspector = User.objects.get(username="inspector")
    assert current.locations.filter(inspector=inspector, status="pending").exists()
    assert current.locations.filter(status="done").exists()
