"""Handling units, people and the roles that bind people to areas and units."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    GOVERNMENT = "government", _("Government / command centre")
    DEPARTMENT = "department", _("Department")
    STREET_OFFICE = "street_office", _("Street office")
    COMMUNITY_COMMITTEE = "community_committee", _("Community committee")
    PROPERTY_COMPANY = "property_company", _("Property company")
    OTHER = "other", _("Other")


class Unit(models.Model):
    """A responsible unit (责任单位): they fix problems and report back with evidence."""

    kind = models.CharField(_("kind"), max_length=24, choices=UnitKind.choices)
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey("self", verbose_name=_("parent unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # The area a street office or community committee answers for; departments may have none.
    area = models.ForeignKey("places.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.PROTECT, related_name="units")
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    email = models.EmailField(_("email"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        parent_path = self.parent.path if self.parent_id and self.parent else "/"
        path = f"{parent_path}{self.pk}/"
        if path != self.path:
            self.path = path
            Unit.objects.filter(pk=self.pk).update(path=path)


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


class Role(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    GRID_WORKER = "grid_worker", _("Grid worker")
    DISPATCHER = "dispatcher", _("Dispatcher")
    UNIT_STAFF = "unit_staff", _("Handling unit staff")
    INSPECTOR = "inspector", _("Inspector")
    CAMPAIGN_OFFICE = "campaign_office", _("Campaign office")
    LEADER = "leader", _("Leader")


# Roles that must be bound to an area, and those that must be bound to a unit.
AREA_ROLES = {Role.GRID_WORKER, Role.DISPATCHER, Role.INSPECTOR, Role.CAMPAIGN_OFFICE, Role.LEADER}
UNIT_ROLES = {Role.UNIT_STAFF}


class RoleAssignment(models.Model):
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=24, choices=Role.choices)
    area = models.ForeignKey("places.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.PROTECT, related_name="role_assignments")
    unit = models.ForeignKey(Unit, verbose_name=_("unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="role_assignments")

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "area", "unit"], name="org_role_unique"),
        ]

    def __str__(self) -> str:
        where = self.area or self.unit or ""
        return f"{self.user} · {self.get_role_display()} · {where}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.role in AREA_ROLES and not self.area_id:
            raise ValidationError({"area": _("This role must be bound to an area.")})
        if self.role in UNIT_ROLES and not self.unit_id:
            raise ValidationError({"unit": _("This role must be bound to a unit.")})
