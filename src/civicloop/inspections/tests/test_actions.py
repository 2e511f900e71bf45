"""Standards: drafts, publication, immutability, new versions, who may write, bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from civicloop.core.errors import ConflictError, PermissionRefused, ValidationFailed
from civicloop.inspections import actions as A
from civicloop.inspections.actions import ItemSpec, SectionSpec
from civicloop.inspections.models import Item, Section, Standard, StandardStatus
from civicloop.testing import T0

from .helpers import make_standard, old_community_sections

pytestmark = pytest.mark.django_db


def test_a_standard_is_created_as_a_draft_version_1_with_its_sections_and_items(city):
    standard = make_standard(city)
    assert (standard.code, standard.version, standard.status) == ("LXXQ", 1, StandardStatus.DRAFT)
    assert standard.reference == "LXXQ-v1"
    assert list(standard.sections.values_list("name", flat=True)) == ["环境卫生", "秩序管理"]
    first = Item.objects.get(section__standard=standard, section__position=1, position=1)
    assert first.full_points == Decimal("10.00") and first.deduction == Decimal("2.00")
    assert first.unit == city.units["hwc"] and first.category.code == "E0102"
    assert (first.rectify_limit_kind, first.rectify_limit_value, first.photos_required) == (
        "working_days",
        3,
        1,
    )
    assert standard.created_by == city.users["campaign_office"]


def test_publishing_freezes_the_version(city):
    standard = make_standard(city)
    by = city.users["campaign_office"]
    standard = A.standard_publish(standard=standard, by=by, at=T0)
    assert standard.status == StandardStatus.PUBLISHED and standard.published_at == T0
    section = standard.sections.first()
    item = Item.objects.filter(section=section).first()
    spec = ItemSpec("改过的内容", Decimal("10"), "per_occurrence", Decimal("1"))
    for attempt in (
        lambda: A.item_update(item=item, spec=spec, by=by),
        lambda: A.item_add(section=section, spec=spec, by=by),
        lambda: A.item_remove(item=item, by=by),
        lambda: A.section_add(standard=standard, name="新项目", by=by),
        lambda: A.section_remove(section=section, by=by),
        lambda: A.standard_update(standard=standard, by=by, name="新名字"),
        lambda: A.standard_content_replace(
            standard=standard, sections=old_community_sections(), by=by
        ),
        lambda: A.standard_publish(standard=standard, by=by),
    ):
        with pytest.raises(ConflictError, match="cannot change: start a new version"):
            attempt()
    # Even a write that goes around the actions is refused by the models.
    item.content = "偷偷改"
    with pytest.raises(ConflictError):
        item.save()
    with pytest.raises(ConflictError):
        section.delete()
    item.refresh_from_db()
    assert item.content == "楼道、院落无垃圾堆积，无卫生死角"


def test_a_new_version_copies_the_published_one_and_publishing_it_retires_the_old(city):
    by = city.users["campaign_office"]
    v1 = make_standard(city, publish=True)
    v2 = A.standard_new_version(standard=v1, by=by, at=T0 + dt.timedelta(days=1))
    assert (v2.version, v2.status, v2.based_on) == (2, StandardStatus.DRAFT, v1)
    assert A.sections_of(v2) == A.sections_of(v1)

    item = Item.objects.get(section__standard=v2, section__position=1, position=1)
    A.item_update(
        item=item, spec=ItemSpec("楼道无垃圾", Decimal("12"), "per_occurrence", Decimal("3")), by=by
    )
    A.standard_publish(standard=v2, by=by, at=T0 + dt.timedelta(days=2))
    v1.refresh_from_db()
    assert v1.status == StandardStatus.RETIRED and v1.retired_at == T0 + dt.timedelta(days=2)
    # The old version is untouched: a round that started with it keeps scoring against it.
    assert Item.objects.get(section__standard=v1, section__position=1, position=1).full_points == 10
    assert Item.objects.get(section__standard=v2, section__position=1, position=1).full_points == 12


def test_only_one_draft_per_standard(city):
    by = city.users["campaign_office"]
    v1 = make_standard(city, publish=True)
    A.standard_new_version(standard=v1, by=by)
    with pytest.raises(ConflictError, match="Version 2 of this standard is already a draft"):
        A.standard_new_version(standard=v1, by=by)
    draft = Standard.objects.get(code="LXXQ", version=2)
    with pytest.raises(ConflictError, match="still a draft"):
        A.standard_new_version(standard=draft, by=by)


def test_drafts_are_edited_item_by_item(city):
    by = city.users["campaign_office"]
    standard = A.standard_create(code="BJXX", name="背街小巷", location_type="back_street", by=by)
    with pytest.raises(ValidationFailed, match="at least one section"):
        A.standard_publish(standard=standard, by=by)
    section = A.section_add(standard=standard, name="路面", by=by)
    with pytest.raises(ValidationFailed, match="“路面” has no items"):
        A.standard_publish(standard=standard, by=by)
    item = A.item_add(
        section=section, spec=ItemSpec("路面无坑洼", "5", "per_occurrence", "1"), by=by
    )
    A.item_add(section=section, spec=ItemSpec("无乱堆乱放", "5", "fixed", "5"), by=by)
    assert list(section.items.values_list("position", flat=True)) == [1, 2]
    A.item_remove(item=item, by=by)
    A.standard_update(
        standard=standard, by=by, name="背街小巷测评标准", location_type="urban_village"
    )
    standard = A.standard_publish(standard=standard, by=by)
    assert standard.name == "背街小巷测评标准" and standard.location_type == "urban_village"
    assert standard.status == StandardStatus.PUBLISHED


def test_a_draft_can_be_thrown_away_but_not_a_published_version(city):
    by = city.users["campaign_office"]
    draft = make_standard(city, code="DRAFT")
    A.standard_draft_delete(standard=draft, by=by)
    assert not Standard.objects.filter(code="DRAFT").exists()
    assert not Section.objects.filter(standard_id=draft.pk).exists()
    published = make_standard(city, publish=True)
    with pytest.raises(ConflictError):
        A.standard_draft_delete(standard=published, by=by)


def test_retire(city):
    by = city.users["campaign_office"]
    standard = make_standard(city, publish=True)
    standard = A.standard_retire(standard=standard, by=by)
    assert standard.status == StandardStatus.RETIRED
    with pytest.raises(ConflictError, match="Only a published version"):
        A.standard_retire(standard=standard, by=by)
    # A retired version can still be the base of a new one.
    assert A.standard_new_version(standard=standard, by=by).version == 2


@pytest.mark.parametrize(
    "persona", ["dispatcher", "inspector", "leader", "unit_staff", "resident", "outsider"]
)
def test_only_the_campaign_office_and_admins_write_standards(city, persona):
    with pytest.raises(PermissionRefused, match="Only the campaign office"):
        A.standard_create(code="X1", name="x", location_type="market", by=city.users[persona])
    assert not Standard.objects.exists()
    standard = A.standard_create(
        code="X1", name="x", location_type="market", by=city.users["admin"]
    )
    with pytest.raises(PermissionRefused):
        A.section_add(standard=standard, name="y", by=city.users[persona])
    with pytest.raises(PermissionRefused):
        A.standard_publish(standard=standard, by=city.users[persona])


def _item(**kw):
    base = {"content": "无乱贴乱画", "full_points": "5", "rule": "per_occurrence", "deduction": "1"}
    return ItemSpec(**{**base, **kw})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (_item(content="  "), "The item's content is required"),
        (_item(full_points="abc"), "The item's points must be a number, not “abc”"),
        (_item(full_points="-1"), "between 0 and 1000"),
        (_item(full_points="1.234"), "at most two decimals"),
        (_item(full_points="0"), "points must be more than 0"),
        (_item(deduction="0"), "deduction must be more than 0"),
        (
            _item(deduction="6"),
            r"deduction \(6.00\) cannot be more than the item's points \(5.00\)",
        ),
        (_item(rule="double"), "Unknown deduction rule “double”"),
        (
            _item(rule="veto", full_points="0", deduction="0"),
            "must say whether it zeroes its section",
        ),
        (_item(rule="veto", veto_scope="section", deduction="1"), "no deduction of its own"),
        (_item(veto_scope="location"), "Only veto items have a veto scope"),
        (_item(photos_required=11), "between 0 and 10"),
        (
            _item(rectify_limit_kind="fortnights", rectify_limit_value=2),
            "Unknown kind of rectification time limit",
        ),
        (_item(rectify_limit_kind="working_days"), "whole number more than 0"),
        (
            _item(rectify_limit_kind="working_days", rectify_limit_value=0),
            "whole number more than 0",
        ),
    ],
)
def test_bad_items_are_refused_and_nothing_is_written(city, spec, message):
    by = city.users["campaign_office"]
    sections = [SectionSpec("第一项", [_item()]), SectionSpec("第二项", [_item(), spec])]
    with pytest.raises(ValidationFailed, match=message) as error:
        A.standard_create(
            code="BAD", name="坏标准", location_type="market", sections=sections, by=by
        )
    assert "Section 2, item 2" in error.value.message
    assert not Standard.objects.exists() and not Item.objects.exists()


def test_inactive_units_and_categories_are_refused(city):
    from civicloop.cases.models import Category

    unit = city.units["ylj"]
    unit.active = False
    unit.save()
    category = Category.objects.get(code="E0102")
    with pytest.raises(ValidationFailed, match="no longer active"):
        A.clean_item(_item(unit=unit))
    category.active = False
    category.save()
    with pytest.raises(ValidationFailed, match="no longer in use"):
        A.clean_item(_item(category=category))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": "有中文"}, "The code must be 1–32 letters"),
        ({"code": ""}, "The code must be"),
        ({"name": " "}, "The standard's name is required"),
        ({"name": "名" * 121}, "at most 120 characters"),
        ({"location_type": "moon"}, "Unknown location type “moon”"),
        (
            {"sections": [SectionSpec("同名", [_item()]), SectionSpec("同名", [_item()])]},
            "both called “同名”",
        ),
    ],
)
def test_bad_standards_are_refused(city, kwargs, message):
    base = {
        "code": "OK1",
        "name": "标准",
        "location_type": "market",
        "by": city.users["campaign_office"],
    }
    with pytest.raises(ValidationFailed, match=message):
        A.standard_create(**{**base, **kwargs})
    assert not Standard.objects.exists()


def test_a_code_is_used_once(city):
    make_standard(city)
    with pytest.raises(ConflictError, match="already exists; start a new version"):
        make_standard(city)
    assert Standard.objects.count() == 1


def test_an_all_veto_standard_with_no_points_is_not_publishable(city):
    by = city.users["campaign_office"]
    standard = A.standard_create(
        code="VETO",
        name="只有否决项",
        location_type="market",
        sections=[
            SectionSpec(
                "安全", [_item(rule="veto", full_points="0", deduction="0", veto_scope="location")]
            )
        ],
        by=by,
    )
    with pytest.raises(ValidationFailed, match="no points to score"):
        A.standard_publish(standard=standard, by=by)


def test_selectors_find_the_current_version_and_the_draft(city):
    from civicloop.inspections import selectors as S

    by = city.users["campaign_office"]
    v1 = make_standard(city, publish=True)
    make_standard(city, code="SCDC", location_type="market", publish=True)
    v2 = A.standard_new_version(standard=v1, by=by)
    assert S.standard_current(code="LXXQ") == v1 and S.standard_draft(code="LXXQ") == v2
    assert list(S.standard_versions(code="LXXQ")) == [v2, v1]
    assert [s.code for s in S.standards_in_use()] == ["SCDC", "LXXQ"]
    assert [s.code for s in S.standards_in_use(location_type="old_community")] == ["LXXQ"]
    A.standard_publish(standard=v2, by=by)
    assert S.standard_current(code="LXXQ") == v2 and S.standard_draft(code="LXXQ") is None
