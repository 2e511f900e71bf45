"""Two staff acting on one case at the same moment: exactly one wins (real PostgreSQL row locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from civicloop.cases import actions as A
from civicloop.cases.models import Case, CaseEvent, State
from civicloop.core.errors import ConflictError
from civicloop.testing import Loop


def _race(fn_a, fn_b) -> list[str]:
    barrier = threading.Barrier(2)
    results: list[str] = []
    lock = threading.Lock()

    def run(fn):
        try:
            barrier.wait()
            fn()
            outcome = "ok"
        except ConflictError as exc:
            outcome = f"conflict: {exc}"
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            outcome = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(f,)) for f in (fn_a, fn_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_dispatching_at_once(city):
    loop = Loop(city)
    case = loop.to(State.REGISTERED)
    d = loop.u("dispatcher")
    copy_a, copy_b = Case.objects.get(pk=case.pk), Case.objects.get(pk=case.pk)
    results = _race(
        lambda: A.case_dispatch(case=copy_a, by=d, unit=city.units["cgj"]),
        lambda: A.case_dispatch(case=copy_b, by=d, unit=city.units["ylj"]),
    )
    assert sorted(r.split(":")[0] for r in results) == ["conflict", "ok"], results
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.state == State.DISPATCHED and fresh.version == case.version + 1
    assert CaseEvent.objects.filter(case=case, kind="dispatched").count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_verify_and_rework_at_once(city):
    loop = Loop(city)
    case = loop.to(State.HANDLED)
    copy_a, copy_b = Case.objects.get(pk=case.pk), Case.objects.get(pk=case.pk)
    results = _race(
        lambda: A.case_verify(case=copy_a, by=loop.u("grid_worker"), passed=True),
        lambda: A.case_verify(case=copy_b, by=loop.u("dispatcher"), passed=False, note="仍有垃圾"),
    )
    assert sorted(r.split(":")[0] for r in results) == ["conflict", "ok"], results
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.state, fresh.rework_count) in {(State.CLOSED, 0), (State.IN_PROGRESS, 1)}


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_ticket_numbers_stay_unique_under_concurrent_reports(city):
    loop = Loop(city)
    lat1, lon1 = city.point_in("g1")
    lat2, lon2 = city.point_in("g4")
    results = _race(
        lambda: A.case_report(category="E0102", lat=lat1, lon=lon1, description="垃圾"),
        lambda: A.case_report(category="C0118", lat=lat2, lon=lon2, description="路灯不亮"),
    )
    assert results == ["ok", "ok"], results
    tickets = list(Case.objects.values_list("ticket_no", flat=True))
    assert len(tickets) == len(set(tickets)) == 2
    del loop
