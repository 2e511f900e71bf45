"""One REST endpoint per workflow action: ``POST /api/v1/cases/{id}/actions/{action}/``.

Each entry names its URL segment, the workflow actions it covers (verify and look-back take
``passed``), its input serializer and the one engine function it calls. The engine does
every check (role and scope through ``org.policy``, state through the workflow table, the
stale-copy check through ``version``); this module only maps fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from civicloop.cases import actions as A
from civicloop.cases.models import Case
from civicloop.cases.workflow import Action

from . import inputs
from .queries import unit_by_code

Perform = Callable[[Case, Any, dict[str, Any]], Case]


@dataclass(frozen=True)
class ActionSpec:
    slug: str
    actions: tuple[Action, ...]
    input: type[inputs.ActionSerializer]
    perform: Perform
    summary: str
    # Engine field name → the field of this endpoint (the engine says "reason" where we say "note").
    fields: dict[str, str] = field(default_factory=dict)
    # Fixed inputs that pick one of ``actions`` (e.g. verify: passed=true → verify_pass).
    params: dict[Action, dict[str, Any]] = field(default_factory=dict)


def _register(case: Case, by: Any, d: dict[str, Any]) -> Case:
    return A.case_register(case=case, by=by, category=d.get("category") or None, note=d["note"])


def _dispatch(case: Case, by: Any, d: dict[str, Any]) -> Case:
    unit = unit_by_code(d["unit"]) if d.get("unit") else None
    co_units = [unit_by_code(code, field="co_units") for code in d.get("co_units") or []]
    return A.case_dispatch(case=case, by=by, unit=unit, co_units=co_units, note=d["note"])


def _request_extension(case: Case, by: Any, d: dict[str, Any]) -> Case:
    return A.case_request_extension(case=case, by=by, until=d["until"], reason=d["reason"]).case


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "register",
        (Action.REGISTER,),
        inputs.RegisterInput,
        _register,
        "Register a reported case (立案)",
    ),
    ActionSpec(
        "reject",
        (Action.REJECT,),
        inputs.ReasonInput,
        lambda c, by, d: A.case_reject(case=c, by=by, reason=d["reason"]),
        "Do not register a report",
    ),
    ActionSpec(
        "void",
        (Action.VOID,),
        inputs.ReasonInput,
        lambda c, by, d: A.case_void(case=c, by=by, reason=d["reason"]),
        "Void a registered case",
    ),
    ActionSpec(
        "reclassify",
        (Action.RECLASSIFY,),
        inputs.CategoryNoteInput,
        lambda c, by, d: A.case_reclassify(case=c, by=by, category=d["category"], note=d["note"]),
        "Change the category",
    ),
    ActionSpec(
        "dispatch",
        (Action.DISPATCH,),
        inputs.DispatchInput,
        _dispatch,
        "Dispatch to a handling unit (派遣)",
        fields={"co_units": "co_units"},
    ),
    ActionSpec(
        "reassign",
        (Action.REASSIGN,),
        inputs.UnitReasonInput,
        lambda c, by, d: A.case_reassign(
            case=c, by=by, unit=unit_by_code(d["unit"]), reason=d["reason"]
        ),
        "Move the case to another main unit",
    ),
    ActionSpec(
        "add-co-unit",
        (Action.ADD_CO_UNIT,),
        inputs.UnitNoteInput,
        lambda c, by, d: A.case_add_co_unit(
            case=c, by=by, unit=unit_by_code(d["unit"]), note=d["note"]
        ),
        "Add a co-handling unit",
    ),
    ActionSpec(
        "accept",
        (Action.ACCEPT,),
        inputs.NoteInput,
        lambda c, by, d: A.case_accept(case=c, by=by, note=d["note"]),
        "The unit accepts the case",
    ),
    ActionSpec(
        "return",
        (Action.RETURN,),
        inputs.ReasonInput,
        lambda c, by, d: A.case_return(case=c, by=by, reason=d["reason"]),
        "The unit returns a mis-dispatched case (退回)",
    ),
    ActionSpec(
        "feedback",
        (Action.FEEDBACK,),
        inputs.FeedbackInput,
        lambda c, by, d: A.case_feedback(
            case=c, by=by, note=d["note"], photos=d.get("photos") or []
        ),
        "The unit reports the problem handled, with photos (处理反馈)",
    ),
    ActionSpec(
        "verify",
        (Action.VERIFY_PASS, Action.VERIFY_FAIL),
        inputs.VerdictInput,
        lambda c, by, d: A.case_verify(
            case=c, by=by, passed=d["passed"], note=d["note"], photos=d.get("photos") or []
        ),
        "Verify on the spot: fixed closes, not fixed is rework (核查)",
        fields={"reason": "note"},
        params={Action.VERIFY_PASS: {"passed": True}, Action.VERIFY_FAIL: {"passed": False}},
    ),
    ActionSpec(
        "request-extension",
        (Action.REQUEST_EXTENSION,),
        inputs.RequestExtensionInput,
        _request_extension,
        "The unit asks for a later deadline (延期申请)",
    ),
    ActionSpec(
        "decide-extension",
        (Action.DECIDE_EXTENSION,),
        inputs.DecideExtensionInput,
        lambda c, by, d: A.case_decide_extension(
            case=c, by=by, approve=d["approve"], note=d["note"]
        ),
        "Approve or deny the pending extension request",
        fields={"reason": "note"},
    ),
    ActionSpec(
        "defer",
        (Action.DEFER,),
        inputs.ReasonInput,
        lambda c, by, d: A.case_defer(case=c, by=by, reason=d["reason"]),
        "Put the case on hold (缓办); the clock stops",
    ),
    ActionSpec(
        "resume",
        (Action.RESUME,),
        inputs.NoteInput,
        lambda c, by, d: A.case_resume(case=c, by=by, note=d["note"]),
        "End a deferral",
    ),
    ActionSpec(
        "urge",
        (Action.URGE,),
        inputs.NoteInput,
        lambda c, by, d: A.case_urge(case=c, by=by, note=d["note"]),
        "Urge the handling unit (催办)",
    ),
    ActionSpec(
        "escalate",
        (Action.ESCALATE,),
        inputs.NoteInput,
        lambda c, by, d: A.case_escalate(case=c, by=by, note=d["note"]),
        "Escalate one level up the areas (督办)",
    ),
    ActionSpec(
        "lookback",
        (Action.LOOKBACK_PASS, Action.LOOKBACK_FAIL),
        inputs.VerdictInput,
        lambda c, by, d: A.case_lookback(
            case=c, by=by, passed=d["passed"], note=d["note"], photos=d.get("photos") or []
        ),
        "Look-back (回头看): still fixed, or recurred (opens a linked case)",
        fields={"reason": "note"},
        params={Action.LOOKBACK_PASS: {"passed": True}, Action.LOOKBACK_FAIL: {"passed": False}},
    ),
    ActionSpec(
        "rate",
        (Action.RATE,),
        inputs.RateInput,
        lambda c, by, d: A.case_rate(
            case=c, by=by, rating=d["rating"], unfixed=d["unfixed"], note=d["note"]
        ),
        "A reporter rates the result",
    ),
)

BY_SLUG: dict[str, ActionSpec] = {s.slug: s for s in SPECS}
BY_ACTION: dict[Action, ActionSpec] = {a: s for s in SPECS for a in s.actions}
