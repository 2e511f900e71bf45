"""Perform any workflow action on a case with an actor who is allowed to take it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from civicloop.cases import actions as A
from civicloop.cases.models import Case
from civicloop.cases.workflow import Action
from civicloop.testing import Loop, jpeg_upload


def perform(loop: Loop, case: Case, action: Action) -> Any:
    d, g = loop.u("dispatcher"), loop.u("grid_worker")
    h = loop.handler_for(case) or loop.u("unit_staff")
    at = loop.tick()
    units = loop.city.units
    if action == Action.REGISTER:
        return A.case_register(case=case, by=d, at=at)
    if action == Action.RECLASSIFY:
        return A.case_reclassify(case=case, by=d, category="E0103" if case.category.code != "E0103" else "E0102", at=at)
    if action == Action.REJECT:
        return A.case_reject(case=case, by=d, reason="不属于城市管理范围", at=at)
    if action == Action.VOID:
        return A.case_void(case=case, by=d, reason="信息不全，无法核实", at=at)
    if action == Action.DISPATCH:
        return A.case_dispatch(case=case, by=d, at=at)
    if action == Action.REASSIGN:
        target = units["ylj"] if case.unit_id != units["ylj"].pk else units["cgj"]
        return A.case_reassign(case=case, by=d, unit=target, reason="职责调整", at=at)
    if action == Action.ADD_CO_UNIT:
        return A.case_add_co_unit(case=case, by=d, unit=units["jdA"], at=at)
    if action == Action.ACCEPT:
        return A.case_accept(case=case, by=h, at=at)
    if action == Action.RETURN:
        return A.case_return(case=case, by=h, reason="不属于本单位职责", at=at)
    if action == Action.FEEDBACK:
        return A.case_feedback(case=case, by=h, note="已处理完毕", photos=[jpeg_upload()], at=at)
    if action == Action.VERIFY_PASS:
        return A.case_verify(case=case, by=g, passed=True, at=at)
    if action == Action.VERIFY_FAIL:
        return A.case_verify(case=case, by=g, passed=False, note="现场核查未整改到位", at=at)
    if action == Action.REQUEST_EXTENSION:
        base = case.deadline_at or at
        return A.case_request_extension(case=case, by=h, until=base + dt.timedelta(days=3), reason="需协调施工队", at=at)
    if action == Action.DECIDE_EXTENSION:
        return A.case_decide_extension(case=case, by=d, approve=True, at=at)
    if action == Action.DEFER:
        return A.case_defer(case=case, by=d, reason="需纳入年度改造计划", at=at)
    if action == Action.RESUME:
        return A.case_resume(case=case, by=d, at=at)
    if action == Action.URGE:
        return A.case_urge(case=case, by=loop.u("leader"), note="请抓紧办理", at=at)
    if action == Action.ESCALATE:
        return A.case_escalate(case=case, by=d, at=at)
    if action == Action.RATE:
        return A.case_rate(case=case, by=loop.u("resident"), rating="satisfied", at=at)
    if action in (Action.LOOKBACK_PASS, Action.LOOKBACK_FAIL):
        if case.lookback_due_at and case.lookback_due_at > at:
            loop.t = case.lookback_due_at + dt.timedelta(hours=1)
            at = loop.t
        return A.case_lookback(case=case, by=g, passed=action == Action.LOOKBACK_PASS, note="" if action == Action.LOOKBACK_PASS else "问题复发", at=at)
    raise AssertionError(f"no performer for {action}")
