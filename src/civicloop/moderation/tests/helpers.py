"""What the moderation tests share: a spam-like report, a photo with GPS in its EXIF."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from civicloop.cases.models import Case, CaseEvent, Photo, Report
from civicloop.moderation import actions as M
from civicloop.moderation.models import HeldPhoto, HeldReport

# Two links: more than the default limit of one.
LINKY = "路灯不亮 详情见 http://spam.example.cn/a 和 www.spam.top/b"
PLAIN = "幸福路12号楼下路灯不亮，晚上很危险"


def gps_jpeg(
    name: str = "gps.jpg", color: tuple[int, int, int] = (30, 120, 200)
) -> SimpleUploadedFile:
    """A JPEG whose EXIF says where the photographer stood."""
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (IFDRational(41), IFDRational(10), IFDRational(5))
    gps[3], gps[4] = "E", (IFDRational(80), IFDRational(15), IFDRational(44))
    out = io.BytesIO()
    Image.new("RGB", (80, 60), color).save(out, "JPEG", exif=exif.tobytes())
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def submit(
    city: Any, *, grid: str = "g1", description: str = LINKY, ip: str = "10.1.2.3", **kw: Any
) -> M.Submitted:
    lat, lon = city.point_in(grid)
    kw.setdefault("category", "E0113")
    kw.setdefault("channel", "web")
    return M.report_submit(ip=ip, lat=lat, lon=lon, description=description, **kw)


def hold(city: Any, **kw: Any) -> HeldReport:
    submitted = submit(city, **kw)
    assert submitted.held is not None and submitted.report is None
    return submitted.held


def counts() -> tuple[int, int, int, int, int, int]:
    return (
        Case.objects.count(),
        Report.objects.count(),
        CaseEvent.objects.count(),
        Photo.objects.count(),
        HeldReport.objects.count(),
        HeldPhoto.objects.count(),
    )
