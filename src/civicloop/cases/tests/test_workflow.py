"""The workflow table walked edge by edge, and the property that nothing leaves it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicloop.cases.models import Case, CaseEvent, EventKind, Report, State
from civicloop.cases.workflow import TABLE, Action, actions_from, transition_for
from civicloop.core.errors import (
    CivicError,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.testing import Loop

from .helpers import perform

# A staff member outside the case's area or unit is told it is not there; that is a refusal too.
REFUSALS = (TransitionRefused, PermissionRefused, NotFoundOrForbidden)

# Edges that need a precondition besides the state; each has its own test below.
NEEDS_SETUP = {Action.JOIN, Action.DECIDE_EXTENSION}
WALKABLE = [t.action for t in TABLE if t.action not in NEEDS_SETUP]


def _snapshot(case: Case) -> tuple[str, int, int]:
    fresh = Case.objects.get(pk=case.pk)
    return fresh.state, fresh.version, CaseEvent.objects.filter(case=case).count()


@pytest.mark.django_db
@pytest.mark.parametrize("state", [s.value for s in State])
def test_every_edge_from_state(city, state):
    """Given a case in ``state``, every action either follows its row or is refused untouched."""
    loop = Loop(city)
    for action in WALKABLE:
        case = loop.to(state)
        before_state, before_version, before_events = _snapshot(case)
        allowed = state in {s.value for s in transition_for(action).sources}
        if allowed:
            perform(loop, case, action)
            after_state, after_version, after_events = _snapshot(case)
            target = transition_for(action).target
            assert after_state == (target.value if target else before_state), (state, action)
            assert after_events == before_events + 1, (state, action)
            assert after_version == before_version + 1
            last = CaseEvent.objects.filter(case=case).order_by("-id").first()
            assert last.from_state == before_state and last.to_state == after_state
        else:
            with pytest.raises(REFUSALS):
                perform(loop, case, action)
            assert _snapshot(case) == (before_state, before_version, before_events), (state, action)


@pytest.mark.django_db
def test_table_covers_every_state_with_an_exit_or_is_terminal():
    from civicloop.cases.workflow import TERMINAL_STATES

    for state in State:
        exits = [a for a in actions_from(state) if transition_for(a).target not in (None, state)]
        assert exits or state in TERMINAL_STATES or state == State.CLOSED, state


@pytest.mark.django_db
def test_extension_decision_needs_a_pending_request(city):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    with pytest.raises(TransitionRefused):
        perform(loop, case, Action.DECIDE_EXTENSION)
    request = perform(loop, Case.objects.get(pk=case.pk), Action.REQUEST_EXTENSION)
    case = Case.objects.get(pk=case.pk)
    old_deadline = case.deadline_at
    case = perform(loop, case, Action.DECIDE_EXTENSION)
    assert case.deadline_at == request.requested_deadline_at > old_deadline
    assert case.extension_count == 1


ACTION_STRATEGY = st.lists(st.sampled_from([t.action for t in TABLE if t.action != Action.JOIN]), min_size=1, max_size=14)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=ACTION_STRATEGY)
def test_no_sequence_of_actions_leaves_the_table(city, steps):
    loop = Loop(city)
    # Examples share one database; each starts from a case of its own.
    case = loop.report(detect_duplicates=False).case
    expected_reworks = 0
    for action in steps:
        case = Case.objects.get(pk=case.pk)
        state, version, events = _snapshot(case)
        try:
            perform(loop, case, action)
        except CivicError as exc:
            assert isinstance(exc, (*REFUSALS, ValidationFailed))
            assert _snapshot(case) == (state, version, events)
            continue
        row = transition_for(action)
        assert State(state) in row.sources
        new_state, new_version, new_events = _snapshot(case)
        assert new_state == (row.target.value if row.target else state)
        assert new_events == events + 1 and new_version == version + 1
        if action == Action.VERIFY_FAIL:
            expected_reworks += 1
    case = Case.objects.get(pk=case.pk)
    assert case.state in State.values
    assert case.rework_count == expected_reworks == case.events.filter(kind=EventKind.REWORK).count()
    assert case.reporter_count == Report.objects.filter(case=case).count()
    assert case.urge_count == case.events.filter(kind=EventKind.URGED).count()
    assert case.extension_count == case.events.filter(kind=EventKind.EXTENSION_APPROVED).count()
    assert case.return_count == case.events.filter(kind=EventKind.RETURNED).count()
