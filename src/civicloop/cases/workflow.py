"""The case loop of GB/T 30428 as a declared table.

Every action a person (or the system) can take on a case is one row group:
from which states, to which state (``None``: the state does not change), and
which roles may do it. Actions in ``cases.actions`` check this table through
``require_transition``; the policy in ``org.policy`` decides whether the actor
is in scope. The web UI asks ``allowed_actions`` to explain "why can't I".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicloop.core.errors import TransitionRefused

from .models import State


class Action(StrEnum):
    REPORT = "report"
    JOIN = "join"
    REGISTER = "register"
    RECLASSIFY = "reclassify"
    REJECT = "reject"
    VOID = "void"
    DISPATCH = "dispatch"
    REASSIGN = "reassign"
    ADD_CO_UNIT = "add_co_unit"
    ACCEPT = "accept"
    RETURN = "return"
    FEEDBACK = "feedback"
    VERIFY_PASS = "verify_pass"
    VERIFY_FAIL = "verify_fail"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    DEFER = "defer"
    RESUME = "resume"
    URGE = "urge"
    ESCALATE = "escalate"
    RATE = "rate"
    LOOKBACK_PASS = "lookback_pass"
    LOOKBACK_FAIL = "lookback_fail"


ACTION_LABELS = {
    Action.REPORT: gettext_lazy("Report"),
    Action.JOIN: gettext_lazy("Join an open case"),
    Action.REGISTER: gettext_lazy("Register"),
    Action.RECLASSIFY: gettext_lazy("Reclassify"),
    Action.REJECT: gettext_lazy("Do not register"),
    Action.VOID: gettext_lazy("Void"),
    Action.DISPATCH: gettext_lazy("Dispatch"),
    Action.REASSIGN: gettext_lazy("Reassign"),
    Action.ADD_CO_UNIT: gettext_lazy("Add a co-handling unit"),
    Action.ACCEPT: gettext_lazy("Accept"),
    Action.RETURN: gettext_lazy("Return"),
    Action.FEEDBACK: gettext_lazy("Report handling"),
    Action.VERIFY_PASS: gettext_lazy("Verify: fixed"),
    Action.VERIFY_FAIL: gettext_lazy("Verify: not fixed (rework)"),
    Action.REQUEST_EXTENSION: gettext_lazy("Request an extension"),
    Action.DECIDE_EXTENSION: gettext_lazy("Decide an extension"),
    Action.DEFER: gettext_lazy("Defer"),
    Action.RESUME: gettext_lazy("Resume"),
    Action.URGE: gettext_lazy("Urge"),
    Action.ESCALATE: gettext_lazy("Escalate"),
    Action.RATE: gettext_lazy("Rate"),
    Action.LOOKBACK_PASS: gettext_lazy("Look-back: still fixed"),
    Action.LOOKBACK_FAIL: gettext_lazy("Look-back: recurred"),
}


class Actor(StrEnum):
    """Who may take an action. ``org.policy`` maps people to these, in scope."""

    ANYONE = "anyone"  # residents with or without an account, grid workers, integrations
    REPORTER = "reporter"  # someone who reported this case (account or ticket)
    DISPATCHER = "dispatcher"  # dispatcher whose area holds the case
    HANDLER = "handler"  # staff of the main handling unit
    VERIFIER = "verifier"  # grid worker or dispatcher of the area, never the handler
    SUPERVISOR = "supervisor"  # dispatcher or leader of the area (urge / escalate)
    SYSTEM = "system"  # the worker (overdue urging and escalation)


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[State]
    target: State | None
    actors: frozenset[Actor]


def _t(action: Action, sources: set[State], target: State | None, *actors: Actor) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(actors))


OPEN_FOR_REPORTERS = {State.REPORTED, State.REGISTERED, State.DISPATCHED, State.RETURNED, State.IN_PROGRESS, State.DEFERRED, State.HANDLED}
HANDLING = {State.DISPATCHED, State.IN_PROGRESS}
# States in which the handling clock runs: the deadline can be passed here.
CLOCK_RUNNING = frozenset(HANDLING)
CLOSED_STATES = frozenset({State.CLOSED, State.LOOKBACK_PASSED, State.RECURRED})
DISCARDED_STATES = frozenset({State.REJECTED, State.VOIDED})
TERMINAL_STATES = frozenset({State.LOOKBACK_PASSED, State.RECURRED, State.REJECTED, State.VOIDED})
OPEN_STATES = frozenset(set(State) - CLOSED_STATES - DISCARDED_STATES)

TABLE: tuple[Transition, ...] = (
    _t(Action.JOIN, OPEN_FOR_REPORTERS, None, Actor.ANYONE),
    _t(Action.REGISTER, {State.REPORTED}, State.REGISTERED, Actor.DISPATCHER),
    _t(Action.RECLASSIFY, {State.REPORTED, State.REGISTERED, State.RETURNED}, None, Actor.DISPATCHER),
    _t(Action.REJECT, {State.REPORTED}, State.REJECTED, Actor.DISPATCHER),
    _t(Action.VOID, {State.REGISTERED, State.RETURNED}, State.VOIDED, Actor.DISPATCHER),
    _t(Action.DISPATCH, {State.REGISTERED, State.RETURNED}, State.DISPATCHED, Actor.DISPATCHER),
    _t(Action.REASSIGN, {State.DISPATCHED, State.IN_PROGRESS}, State.DISPATCHED, Actor.DISPATCHER),
    _t(Action.ADD_CO_UNIT, {State.DISPATCHED, State.IN_PROGRESS}, None, Actor.DISPATCHER),
    _t(Action.ACCEPT, {State.DISPATCHED}, State.IN_PROGRESS, Actor.HANDLER),
    _t(Action.RETURN, {State.DISPATCHED}, State.RETURNED, Actor.HANDLER),
    _t(Action.FEEDBACK, {State.IN_PROGRESS}, State.HANDLED, Actor.HANDLER),
    _t(Action.VERIFY_PASS, {State.HANDLED}, State.CLOSED, Actor.VERIFIER),
    _t(Action.VERIFY_FAIL, {State.HANDLED}, State.IN_PROGRESS, Actor.VERIFIER),
    _t(Action.REQUEST_EXTENSION, {State.IN_PROGRESS}, None, Actor.HANDLER),
    _t(Action.DECIDE_EXTENSION, {State.IN_PROGRESS, State.HANDLED, State.DEFERRED}, None, Actor.DISPATCHER),
    _t(Action.DEFER, {State.IN_PROGRESS}, State.DEFERRED, Actor.DISPATCHER),
    _t(Action.RESUME, {State.DEFERRED}, State.IN_PROGRESS, Actor.DISPATCHER),
    _t(Action.URGE, HANDLING, None, Actor.SUPERVISOR, Actor.SYSTEM),
    _t(Action.ESCALATE, HANDLING, None, Actor.SUPERVISOR, Actor.SYSTEM),
    _t(Action.RATE, {State.CLOSED, State.LOOKBACK_PASSED, State.RECURRED}, None, Actor.REPORTER),
    _t(Action.LOOKBACK_PASS, {State.CLOSED}, State.LOOKBACK_PASSED, Actor.VERIFIER),
    _t(Action.LOOKBACK_FAIL, {State.CLOSED}, State.RECURRED, Actor.VERIFIER),
)
# REPORT creates a case: it has no source state and is not in the table.

BY_ACTION: dict[Action, Transition] = {t.action: t for t in TABLE}


def transition_for(action: Action) -> Transition:
    return BY_ACTION[action]


def state_label(state: str) -> str:
    return str(State(state).label)


def require_transition(state: str, action: Action) -> Transition:
    """The row for ``action`` from ``state``, or a refusal a person can read."""
    t = BY_ACTION[action]
    if State(state) not in t.sources:
        allowed = "、".join(sorted(state_label(s) for s in t.sources))
        raise TransitionRefused(
            _("“%(action)s” is not possible while the case is “%(state)s”; it needs: %(allowed)s.")
            % {"action": ACTION_LABELS[action], "state": state_label(state), "allowed": allowed}
        )
    return t


def actions_from(state: str) -> list[Action]:
    return [t.action for t in TABLE if State(state) in t.sources]


def target_of(state: str, action: Action) -> State:
    t = require_transition(state, action)
    return t.target if t.target is not None else State(state)
