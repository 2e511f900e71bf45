"""Photo evidence: checking uploads, reading EXIF, the stripped public copy, attaching and sweeping."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, ImageCms, ImageDraw
from PIL.TiffImagePlugin import IFDRational
from shapely.geometry import box

from civicloop.cases.evidence import (
    PRIVATE_PREFIX,
    PUBLIC_MAX_EDGE,
    PUBLIC_PREFIX,
    photo_attach,
    photo_check,
    photo_orphans_delete,
    photos_side_by_side,
)
from civicloop.cases.models import (
    Case,
    CaseEvent,
    Category,
    EventKind,
    Family,
    Photo,
    PhotoKind,
    State,
)
from civicloop.core.errors import CivicError, ErrorCode, ValidationFailed
from civicloop.places.models import Area, AreaKind

RED = (220, 20, 20)
BLUE = (20, 20, 220)

# ---------------------------------------------------------------------------
# Files made here, with Pillow


def _exif(
    *,
    taken: str | None = "2026:11:20 09:15:30",
    offset: str | None = "+08:00",
    subsec: str | None = None,
    lat: Any = (36, 3, 12.34),
    lat_ref: Any = "N",
    lon: Any = (103, 50, 5.5),
    lon_ref: Any = "E",
    orientation: int | None = None,
    make: str | None = "HUAWEI",
    model: str | None = "ALN-AL00",
) -> Image.Exif:
    exif = Image.Exif()
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    if orientation is not None:
        exif[0x0112] = orientation
    exif_ifd = exif.get_ifd(0x8769)
    if taken is not None:
        exif_ifd[0x9003] = taken
    if offset is not None:
        exif_ifd[0x9011] = offset
    if subsec is not None:
        exif_ifd[0x9291] = subsec
    gps = exif.get_ifd(0x8825)
    if lat is not None:
        gps[1], gps[2] = lat_ref, _rationals(lat)
    if lon is not None:
        gps[3], gps[4] = lon_ref, _rationals(lon)
    return exif


def _rationals(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(v if isinstance(v, IFDRational) else IFDRational(v) for v in value)
    return value


def _two_colour(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """Left half red, right half blue: orientation mistakes show."""
    image = Image.new("RGB", size, RED)
    ImageDraw.Draw(image).rectangle((size[0] // 2, 0, size[0], size[1]), fill=BLUE)
    return image


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _jpeg(
    exif: Image.Exif | None = None, size: tuple[int, int] = (40, 20), **options: Any
) -> bytes:
    if exif is not None:
        options["exif"] = exif
    return _encode(_two_colour(size), "JPEG", quality=90, **options)


def _noisy_jpeg() -> bytes:
    image = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    return _encode(image, "JPEG", quality=95)


def _png_rgba() -> bytes:
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((20, 0, 40, 20), fill=(*BLUE, 255))
    return _encode(image, "PNG")


def _png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header declares a huge canvas: the decompression bomb shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def _raw_exif(gps_pointer: int | None = None) -> bytes:
    """EXIF Pillow would refuse to write: GPS values of the wrong type, or an IFD pointer off the end."""

    def entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")

    gps_at = 8 + 2 + 12 + 4
    ifd0 = (
        struct.pack("<H", 1)
        + entry(0x8825, 4, 1, struct.pack("<I", gps_at if gps_pointer is None else gps_pointer))
        + b"\0" * 4
    )
    text_at = gps_at + 2 + 4 * 12 + 4
    gps = (
        struct.pack("<H", 4)
        + entry(1, 2, 2, b"N")
        + entry(2, 2, 11, struct.pack("<I", text_at))  # ASCII where rationals belong
        + entry(3, 2, 2, b"E")
        + entry(4, 2, 4, b"abc")
        + b"\0" * 4
    )
    return b"Exif\0\0" + b"II*\0" + struct.pack("<I", 8) + ifd0 + gps + b"thirty-six\0"


def _upload(
    data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


class CountingStream(io.BytesIO):
    """A file-like that records how many bytes were read from it."""

    def __init__(self, data: bytes, *, name: str, size: int | None) -> None:
        super().__init__(data)
        self.name = name
        self.bytes_read = 0
        if size is not None:
            self.size = size

    def read(self, n: int | None = -1, /) -> bytes:
        chunk = super().read(n)
        self.bytes_read += len(chunk)
        return chunk


def _jpeg_markers(data: bytes) -> list[int]:
    """The segment markers up to the first scan."""
    assert data[:2] == b"\xff\xd8"
    markers, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return markers


def _assert_stripped(public: bytes) -> None:
    copy = Image.open(io.BytesIO(public))
    assert copy.format == "JPEG"
    assert copy.mode == "RGB"
    assert dict(copy.getexif()) == {}
    assert "icc_profile" not in copy.info
    for marker in (b"Exif", b"GPS", b"ICC_PROFILE", b"http://ns.adobe.com", b"xmpmeta", b"HUAWEI"):
        assert marker not in public
    # Only JFIF's APP0 may precede the pixels: no APP1 (EXIF, XMP), APP2 (ICC) … APP15, no comment.
    assert not [m for m in _jpeg_markers(public) if 0xE1 <= m <= 0xEF or m == 0xFE]


def _close(a: Any, b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=False))


# ---------------------------------------------------------------------------
# Fixtures


@pytest.fixture(autouse=True)
def photo_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Fresh public and private roots per test, so "nothing written" means "empty"."""
    public_root, private_root = tmp_path / "media", tmp_path / "private"
    monkeypatch.setattr(
        Photo._meta.get_field("image"),
        "storage",
        FileSystemStorage(location=public_root, base_url="/media/"),
    )
    monkeypatch.setattr(
        Photo._meta.get_field("original"), "storage", FileSystemStorage(location=private_root)
    )
    return public_root, private_root


def _stored(photo: Photo) -> tuple[str, str]:
    """Names of the public copy and of the private original."""
    assert photo.image.name and photo.original.name
    return photo.image.name, photo.original.name


def _files(root: Path) -> set[str]:
    return (
        {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


def _nothing_written(photo_storage: tuple[Path, Path]) -> bool:
    public_root, private_root = photo_storage
    return not Photo.objects.exists() and not _files(public_root) and not _files(private_root)


def _area(kind: str, code: str, parent: Area | None) -> Area:
    area = Area(kind=kind, code=code, name=f"{kind} {code}", parent=parent)
    area.set_geometry(box(103.80, 36.05, 103.82, 36.07))
    area.save()
    return area


@pytest.fixture
def grid(db: None) -> Area:
    city = _area(AreaKind.CITY, "T620100", None)
    district = _area(AreaKind.DISTRICT, "T620102", city)
    street = _area(AreaKind.STREET, "T620102001", district)
    community = _area(AreaKind.COMMUNITY, "T620102001001", street)
    return _area(AreaKind.GRID, "T620102001001001", community)


def _case(grid: Area, ticket_no: str) -> Case:
    category, _ = Category.objects.get_or_create(
        scheme="test",
        family=Family.EVENT,
        big_code="01",
        small_code="99",
        defaults={"big_name": "市容环境", "name": "消防通道堵塞", "code": "T-EVIDENCE-01"},
    )
    return Case.objects.create(
        ticket_no=ticket_no,
        state=State.REPORTED,
        category=category,
        grid=grid,
        area_path=grid.path,
        lat=36.06,
        lon=103.81,
        description="车辆堵塞消防通道",
        reported_at=timezone.now(),
    )


@pytest.fixture
def case(grid: Area) -> Case:
    return _case(grid, "20261123-000001")


@pytest.fixture
def worker(db: None) -> Any:
    return get_user_model().objects.create_user(username="grid-worker", password="x")


# ---------------------------------------------------------------------------
# photo_check: what is accepted


def test_jpeg_with_exif_is_accepted_with_its_metadata() -> None:
    data = _jpeg(_exif(subsec="25"))

    checked = photo_check(_upload(data, "IMG_0001.JPG"))

    assert (checked.format, checked.content_type, checked.size) == ("JPEG", "image/jpeg", len(data))
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert checked.data == data
    assert (checked.width, checked.height) == (40, 20)
    assert checked.exif.taken_at == dt.datetime(2026, 11, 20, 1, 15, 30, 250000, tzinfo=dt.UTC)
    assert checked.exif.taken_at.utcoffset() == dt.timedelta(hours=8)
    assert checked.exif.gps_lat == pytest.approx(36 + 3 / 60 + 12.34 / 3600, abs=1e-7)
    assert checked.exif.gps_lon == pytest.approx(103 + 50 / 60 + 5.5 / 3600, abs=1e-7)
    assert (checked.exif.make, checked.exif.model) == ("HUAWEI", "ALN-AL00")
    as_json = checked.exif.as_json()
    assert json.loads(json.dumps(as_json)) == as_json
    assert as_json["taken_at"] == "2026-11-20T09:15:30.250000+08:00"


def test_the_type_comes_from_the_content_not_the_name_or_declared_type() -> None:
    checked = photo_check(_upload(_jpeg(), "scan.png", content_type="image/png"))

    assert (checked.format, checked.content_type) == ("JPEG", "image/jpeg")


def test_png_alpha_is_flattened_onto_white() -> None:
    checked = photo_check(_upload(_png_rgba(), "sign.png", "image/png"))

    copy = Image.open(io.BytesIO(checked.public))
    assert (checked.format, checked.content_type) == ("PNG", "image/png")
    assert _close(copy.getpixel((5, 10)), (255, 255, 255))
    assert _close(copy.getpixel((35, 10)), BLUE)
    _assert_stripped(checked.public)


def test_webp_is_accepted() -> None:
    data = _encode(_two_colour(), "WEBP", quality=90, exif=_exif())

    checked = photo_check(_upload(data, "wechat.webp", "image/webp"))

    assert (checked.format, checked.content_type) == ("WEBP", "image/webp")
    assert checked.exif.gps_lat is not None
    _assert_stripped(checked.public)


def test_a_file_exactly_at_the_limit_is_accepted(settings: Any) -> None:
    data = _jpeg()
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": len(data)}

    assert photo_check(CountingStream(data, name="edge.jpg", size=None)).size == len(data)


def test_checking_twice_reads_from_the_start_again() -> None:
    upload = _upload(_jpeg())

    assert photo_check(upload).sha256 == photo_check(upload).sha256


# ---------------------------------------------------------------------------
# photo_check: what is refused


def _refusal(upload: Any) -> CivicError:
    with pytest.raises(CivicError) as caught:
        photo_check(upload)
    return caught.value


def test_text_renamed_jpg_is_not_a_photo() -> None:
    error = _refusal(_upload(b"Totally a photo, trust me.\n" * 20, "fire-lane.jpg", "image/jpeg"))

    assert error.code == ErrorCode.BAD_FILE
    assert "“fire-lane.jpg”" in error.message
    assert "JPEG, PNG, WebP" in error.message


def test_an_image_in_an_unaccepted_format_is_refused() -> None:
    error = _refusal(_upload(_encode(_two_colour(), "GIF"), "anim.gif", "image/gif"))

    assert error.code == ErrorCode.BAD_FILE
    assert "“anim.gif”" in error.message


def test_a_truncated_jpeg_is_refused() -> None:
    data = _noisy_jpeg()

    error = _refusal(_upload(data[: len(data) // 2], "cut.jpg"))

    assert error.code == ErrorCode.BAD_FILE
    assert "“cut.jpg”" in error.message


def test_a_png_with_a_broken_checksum_is_refused() -> None:
    data = bytearray(_encode(_two_colour(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF

    assert _refusal(_upload(bytes(data), "broken.png", "image/png")).code == ErrorCode.BAD_FILE


def test_an_empty_file_is_refused() -> None:
    error = _refusal(_upload(b"", "empty.jpg"))

    assert error.code == ErrorCode.BAD_FILE
    assert "“empty.jpg”" in error.message


def test_an_oversize_file_is_refused_before_it_is_read(settings: Any) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": 1000}
    data = _noisy_jpeg()
    stream = CountingStream(data, name="big.jpg", size=len(data))

    error = _refusal(stream)

    assert error.code == ErrorCode.FILE_TOO_LARGE
    assert stream.bytes_read == 0
    assert "“big.jpg”" in error.message
    assert (
        "1000" in error.message or "1.0" in error.message
    )  # the limit, as filesizeformat renders it


def test_an_oversize_stream_without_a_size_is_read_only_to_the_limit(settings: Any) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": 1000}
    stream = CountingStream(_noisy_jpeg(), name="big.jpg", size=None)

    error = _refusal(stream)

    assert error.code == ErrorCode.FILE_TOO_LARGE
    assert stream.bytes_read == 1001


def test_a_declared_size_that_lies_does_not_get_past_the_limit(settings: Any) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": 1000}
    stream = CountingStream(_noisy_jpeg(), name="liar.jpg", size=10)

    assert _refusal(stream).code == ErrorCode.FILE_TOO_LARGE
    assert stream.bytes_read == 1001


def test_a_decompression_bomb_is_refused() -> None:
    data = _png_claiming(50_000, 50_000)
    assert len(data) < 1000

    error = _refusal(_upload(data, "bomb.png", "image/png"))

    assert error.code == ErrorCode.FILE_TOO_LARGE
    assert "“bomb.png”" in error.message


def test_a_canvas_over_our_pixel_limit_is_refused_before_decoding() -> None:
    # 72 MP: under Pillow's own bomb threshold (≈ 89 MP), over ours (2**26).
    error = _refusal(_upload(_png_claiming(9_000, 8_000), "huge.png", "image/png"))

    assert error.code == ErrorCode.FILE_TOO_LARGE


def test_the_pixel_limit_follows_settings(settings: Any) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_PIXELS": 500}

    assert _refusal(_upload(_jpeg(size=(40, 20)))).code == ErrorCode.FILE_TOO_LARGE


def test_accepted_formats_follow_settings(settings: Any) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "PHOTO_FORMATS": ("JPEG",)}

    error = _refusal(_upload(_png_rgba(), "sign.png", "image/png"))

    assert error.code == ErrorCode.BAD_FILE
    assert "(JPEG)" in error.message


def test_the_error_names_the_file_without_its_path() -> None:
    error = _refusal(_upload(b"nope", "C:\\Users\\wang\\Desktop\\IMG_7.jpg"))

    assert "“IMG_7.jpg”" in error.message
    assert "Users" not in error.message


# ---------------------------------------------------------------------------
# EXIF


def test_capture_time_without_offset_is_local_to_the_city(settings: Any) -> None:
    settings.TIME_ZONE = "Asia/Urumqi"

    taken_at = photo_check(_upload(_jpeg(_exif(offset=None)))).exif.taken_at

    assert taken_at == dt.datetime(2026, 11, 20, 3, 15, 30, tzinfo=dt.UTC)


def test_capture_time_with_a_negative_offset() -> None:
    taken_at = photo_check(_upload(_jpeg(_exif(offset="-05:00")))).exif.taken_at

    assert taken_at == dt.datetime(2026, 11, 20, 14, 15, 30, tzinfo=dt.UTC)


def test_southern_and_western_positions_are_negative() -> None:
    exif = photo_check(
        _upload(_jpeg(_exif(lat=(33, 52, 4.0), lat_ref="S", lon=(151, 12, 36.0), lon_ref="W")))
    ).exif

    assert exif.gps_lat == pytest.approx(-(33 + 52 / 60 + 4 / 3600), abs=1e-7)
    assert exif.gps_lon == pytest.approx(-(151 + 12 / 60 + 36 / 3600), abs=1e-7)


@pytest.mark.parametrize(
    "garbage",
    [
        {"taken": "0000:00:00 00:00:00", "lat": (IFDRational(36, 0), 3, 1), "lon": (103, 50, 5)},
        {"taken": "    :  :     :  :  ", "lat_ref": "X"},
        {"taken": "yesterday", "offset": "+99:99", "lat": (95, 0, 0)},
        {"taken": "2026:02:30 10:00:00", "lon": (103, 75, 0)},
        {"lat": (0, 0, 0), "lon": (0, 0, 0)},
        {"lat": (36, 3, 12.34), "lon": None},
        {"make": "\x00\x01", "model": "\x00"},
    ],
)
def test_garbage_exif_is_ignored_not_fatal(garbage: dict[str, Any]) -> None:
    exif = photo_check(_upload(_jpeg(_exif(**garbage)))).exif

    assert (
        exif.gps_lat is None
        and exif.gps_lon is None
        or "lat" not in garbage
        and "lon" not in garbage
        and "lat_ref" not in garbage
    )
    if "taken" in garbage:
        assert exif.taken_at is None
    json.dumps(exif.as_json())


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
@pytest.mark.parametrize("gps_pointer", [None, 0xFFFF0000])
def test_malformed_exif_blocks_are_ignored_not_fatal(gps_pointer: int | None) -> None:
    checked = photo_check(_upload(_encode(_two_colour(), "JPEG", exif=_raw_exif(gps_pointer))))

    assert (checked.exif.gps_lat, checked.exif.gps_lon) == (None, None)
    _assert_stripped(checked.public)


def test_a_photo_without_exif_has_empty_metadata() -> None:
    exif = photo_check(_upload(_encode(_two_colour(), "PNG"), "plain.png")).exif

    assert exif.as_json() == {}


# ---------------------------------------------------------------------------
# The stripped public copy


def test_the_public_copy_has_no_exif_gps_xmp_or_icc() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><exif:GPSLatitude>36,3.2N</exif:GPSLatitude></rdf:RDF></x:xmpmeta>'
    data = _jpeg(_exif(), icc_profile=srgb, xmp=xmp)
    assert b"Exif" in data and b"ICC_PROFILE" in data and b"xmpmeta" in data

    checked = photo_check(_upload(data))

    _assert_stripped(checked.public)
    copy = Image.open(io.BytesIO(checked.public))
    assert _close(copy.getpixel((5, 10)), RED)


def test_a_broken_icc_profile_does_not_refuse_the_photo() -> None:
    checked = photo_check(_upload(_jpeg(icc_profile=b"not an ICC profile at all")))

    _assert_stripped(checked.public)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_orientation_is_applied_to_the_pixels(fmt: str) -> None:
    # Orientation 6: the camera was turned; the picture must be rotated 90° clockwise to stand up.
    data = _encode(_two_colour((40, 20)), fmt, exif=_exif(orientation=6))

    checked = photo_check(_upload(data, f"turned.{fmt.lower()}"))

    copy = Image.open(io.BytesIO(checked.public))
    assert copy.size == (20, 40) == (checked.public_width, checked.public_height)
    assert _close(copy.getpixel((10, 5)), RED)
    assert _close(copy.getpixel((10, 35)), BLUE)
    assert checked.exif.orientation == 6
    _assert_stripped(checked.public)


def test_big_photos_are_downscaled_to_the_max_edge() -> None:
    checked = photo_check(_upload(_jpeg(size=(3000, 1500))))

    assert (checked.width, checked.height) == (3000, 1500)
    assert (checked.public_width, checked.public_height) == (PUBLIC_MAX_EDGE, PUBLIC_MAX_EDGE // 2)
    assert Image.open(io.BytesIO(checked.public)).size == (PUBLIC_MAX_EDGE, PUBLIC_MAX_EDGE // 2)


def test_small_photos_are_not_enlarged() -> None:
    checked = photo_check(_upload(_jpeg(size=(640, 480))))

    assert (checked.public_width, checked.public_height) == (640, 480)


def test_sixteen_bit_and_palette_pngs_become_rgb() -> None:
    grey16 = _encode(Image.new("I;16", (30, 20), 40_000), "PNG")
    palette = _encode(_two_colour().convert("P"), "PNG")

    grey = Image.open(io.BytesIO(photo_check(_upload(grey16, "depth.png")).public))
    colour = Image.open(io.BytesIO(photo_check(_upload(palette, "pal.png")).public))

    assert _close(grey.getpixel((5, 5)), (156, 156, 156), tolerance=3)
    assert _close(colour.getpixel((30, 10)), BLUE)


# ---------------------------------------------------------------------------
# photo_attach


def test_attach_keeps_the_original_privately_and_publishes_the_stripped_copy(
    case: Case, worker: Any, photo_storage: tuple[Path, Path]
) -> None:
    public_root, private_root = photo_storage
    data = _jpeg(_exif())
    event = CaseEvent.objects.create(case=case, kind=EventKind.REPORTED, created_at=timezone.now())

    photo = photo_attach(
        case=case,
        kind=PhotoKind.BEFORE,
        upload=_upload(data, "lane.png", "image/png"),
        by=worker,
        event=event,
    )

    photo = Photo.objects.get(pk=photo.pk)
    assert (photo.case, photo.event, photo.kind, photo.uploaded_by) == (
        case,
        event,
        PhotoKind.BEFORE,
        worker,
    )
    assert (photo.sha256, photo.size, photo.content_type) == (
        hashlib.sha256(data).hexdigest(),
        len(data),
        "image/jpeg",
    )
    assert photo.taken_at == dt.datetime(2026, 11, 20, 1, 15, 30, tzinfo=dt.UTC)
    assert photo.gps_lat == pytest.approx(36.0534278, abs=1e-6)
    assert photo.gps_lon == pytest.approx(103.8348611, abs=1e-6)
    assert photo.exif["make"] == "HUAWEI" and photo.exif["gps_lat"] == photo.gps_lat
    assert (photo.width, photo.height) == (40, 20)

    public_name, original_name = _stored(photo)
    assert original_name.startswith(f"{PRIVATE_PREFIX}/20261123/")
    assert public_name.startswith(f"{PUBLIC_PREFIX}/20261123/")
    assert (private_root / original_name).read_bytes() == data
    _assert_stripped((public_root / public_name).read_bytes())
    # The original never lands where the web server serves from.
    assert _files(public_root) == {public_name}
    assert _files(private_root) == {original_name}


def test_the_same_photo_twice_gets_two_rows_and_two_files(
    case: Case, photo_storage: tuple[Path, Path]
) -> None:
    data = _jpeg()

    first = photo_attach(case=case, kind=PhotoKind.BEFORE, upload=_upload(data))
    second = photo_attach(case=case, kind=PhotoKind.AFTER, upload=_upload(data))

    assert first.image.name != second.image.name and first.original.name != second.original.name
    assert len(_files(photo_storage[0])) == len(_files(photo_storage[1])) == 2


def test_attach_refuses_a_bad_file_and_writes_nothing(
    case: Case, photo_storage: tuple[Path, Path]
) -> None:
    with pytest.raises(CivicError) as caught:
        photo_attach(
            case=case, kind=PhotoKind.AFTER, upload=_upload(b"<script>alert(1)</script>", "x.jpg")
        )

    assert caught.value.code == ErrorCode.BAD_FILE
    assert _nothing_written(photo_storage)


def test_attach_refuses_an_oversize_file_and_writes_nothing(
    case: Case, settings: Any, photo_storage: tuple[Path, Path]
) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": 1000}

    with pytest.raises(CivicError) as caught:
        photo_attach(case=case, kind=PhotoKind.AFTER, upload=_upload(_noisy_jpeg()))

    assert caught.value.code == ErrorCode.FILE_TOO_LARGE
    assert _nothing_written(photo_storage)


def test_attach_refuses_a_bomb_and_writes_nothing(
    case: Case, photo_storage: tuple[Path, Path]
) -> None:
    with pytest.raises(CivicError):
        photo_attach(
            case=case,
            kind=PhotoKind.AFTER,
            upload=_upload(_png_claiming(50_000, 50_000), "bomb.png"),
        )

    assert _nothing_written(photo_storage)


def test_attach_refuses_an_event_of_another_case(
    case: Case, grid: Area, photo_storage: tuple[Path, Path]
) -> None:
    other = _case(grid, "20261123-000002")
    event = CaseEvent.objects.create(case=other, kind=EventKind.FEEDBACK, created_at=timezone.now())

    with pytest.raises(ValidationFailed):
        photo_attach(case=case, kind=PhotoKind.AFTER, upload=_upload(_jpeg()), event=event)

    assert _nothing_written(photo_storage)


def test_attach_refuses_an_unknown_kind(case: Case, photo_storage: tuple[Path, Path]) -> None:
    with pytest.raises(ValidationFailed):
        photo_attach(case=case, kind="selfie", upload=_upload(_jpeg()))

    assert _nothing_written(photo_storage)


def test_when_the_row_cannot_be_saved_the_files_are_removed(
    case: Case, photo_storage: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: Photo, *args: Any, **kwargs: Any) -> None:
        raise IntegrityError("simulated")

    monkeypatch.setattr(Photo, "save", fail)

    with pytest.raises(IntegrityError):
        photo_attach(case=case, kind=PhotoKind.AFTER, upload=_upload(_jpeg()))

    assert _nothing_written(photo_storage)  # and the caller's transaction still answers queries


def test_when_the_second_file_cannot_be_written_the_first_is_removed(
    case: Case, photo_storage: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = Photo._meta.get_field("image").storage

    def full_disk(*args: Any, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage, "save", full_disk)

    with pytest.raises(OSError):
        photo_attach(case=case, kind=PhotoKind.AFTER, upload=_upload(_jpeg()))

    assert _nothing_written(photo_storage)


# ---------------------------------------------------------------------------
# Orphans left by a rollback of the caller's transaction


def _age(root: Path, name: str, minutes: int) -> None:
    then = time.time() - minutes * 60
    os.utime(root / name, (then, then))


def _rolled_back_attach(case: Case) -> tuple[str, str]:
    names: list[str] = []

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        photo = photo_attach(case=case, kind=PhotoKind.AFTER, upload=_upload(_jpeg(size=(41, 21))))
        names += _stored(photo)
        raise Rollback
    return names[0], names[1]


def test_cleanup_removes_files_a_rolled_back_transaction_left(
    case: Case, photo_storage: tuple[Path, Path]
) -> None:
    public_root, private_root = photo_storage
    kept_public, kept_original = _stored(
        photo_attach(case=case, kind=PhotoKind.BEFORE, upload=_upload(_jpeg()))
    )
    orphan_public, orphan_private = _rolled_back_attach(case)
    assert not Photo.objects.filter(image=orphan_public).exists()
    for root, name in (
        (public_root, kept_public),
        (public_root, orphan_public),
        (private_root, kept_original),
        (private_root, orphan_private),
    ):
        _age(root, name, 120)

    out = io.StringIO()
    call_command("cleanup_orphan_photos", stdout=out)

    assert _files(public_root) == {kept_public}
    assert _files(private_root) == {kept_original}
    assert "2" in out.getvalue()


def test_cleanup_spares_young_files_whose_transaction_may_still_be_open(
    case: Case, photo_storage: tuple[Path, Path]
) -> None:
    public_root, private_root = photo_storage
    orphan_public, orphan_private = _rolled_back_attach(case)

    assert photo_orphans_delete() == []
    assert _files(public_root) == {orphan_public} and _files(private_root) == {orphan_private}

    assert sorted(photo_orphans_delete(older_than=dt.timedelta(0))) == [
        f"private:{orphan_private}",
        f"public:{orphan_public}",
    ]
    assert not _files(public_root) and not _files(private_root)


def test_cleanup_dry_run_deletes_nothing(case: Case, photo_storage: tuple[Path, Path]) -> None:
    public_root, _private_root = photo_storage
    orphan_public, _orphan_private = _rolled_back_attach(case)
    _age(public_root, orphan_public, 120)

    out = io.StringIO()
    call_command("cleanup_orphan_photos", "--dry-run", "--verbosity=2", stdout=out)

    assert f"public:{orphan_public}" in out.getvalue()
    assert _files(public_root) == {orphan_public}


def test_cleanup_leaves_other_media_alone(db: None, photo_storage: tuple[Path, Path]) -> None:
    public_root, _private_root = photo_storage
    (public_root / "avatars").mkdir(parents=True)
    (public_root / "avatars" / "me.jpg").write_bytes(b"x")
    _age(public_root, "avatars/me.jpg", 120)

    assert photo_orphans_delete(older_than=dt.timedelta(0)) == []
    assert _files(public_root) == {"avatars/me.jpg"}


# ---------------------------------------------------------------------------
# photos_side_by_side


def test_before_and_after_are_paired_in_order(case: Case, django_assert_num_queries: Any) -> None:
    def attach(kind: str, width: int) -> Photo:
        return photo_attach(case=case, kind=kind, upload=_upload(_jpeg(size=(width, 20))))

    before_1 = attach(PhotoKind.BEFORE, 40)
    after_1 = attach(PhotoKind.AFTER, 41)
    attach(PhotoKind.VERIFY, 42)
    before_2 = attach(PhotoKind.BEFORE, 43)

    with django_assert_num_queries(1):
        pairs = photos_side_by_side(case)

    assert pairs == [(before_1, after_1), (before_2, None)]


def test_a_case_without_photos_has_no_pairs(case: Case) -> None:
    assert photos_side_by_side(case) == []


def test_after_photos_without_before_are_paired_with_none(case: Case) -> None:
    after = photo_attach(case=case, kind=PhotoKind.AFTER, upload=_upload(_jpeg()))

    assert photos_side_by_side(case) == [(None, after)]
