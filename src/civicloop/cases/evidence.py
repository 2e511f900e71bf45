"""Photo evidence for cases: check an upload, keep the original privately, publish a stripped copy.

Decisions:

* The type is decided from the content alone. ``Image.open`` is limited to the
  formats of ``settings.CIVICLOOP["PHOTO_FORMATS"]``, so no other Pillow decoder
  ever touches an upload; the name's extension and the declared content type are
  ignored.
* Size is refused before the file is read: the declared size first, then at most
  ``MAX_PHOTO_BYTES + 1`` bytes are read. Pixel count is refused from the header,
  before anything is decoded (``MAX_PHOTO_PIXELS``, default 2**26 = 8192 × 8192,
  which admits 50 and 64 MP phone photos). Pillow's own bomb check (about 89 MP
  warns, twice that raises) sits above ours and is caught too. We never change
  Pillow's process-wide ``MAX_IMAGE_PIXELS`` or ``LOAD_TRUNCATED_IMAGES``.
* The public copy is a fresh JPEG built from pixels only: no EXIF, no XMP, no
  comments, no ICC profile. Colours are converted to sRGB with the embedded ICC
  profile first (phones shoot Display P3), so dropping the profile does not
  shift colours, and the copy carries nothing but pixels. Orientation is applied
  to the pixels, alpha is flattened onto white, the long edge is at most
  ``PUBLIC_MAX_EDGE``.
* ``Photo.sha256``, ``size`` and ``content_type`` describe the original, which is
  stored byte for byte in the private storage: the hash proves later that the
  evidence was not altered. ``width``/``height`` are those of the public copy.
* ``Photo.exif``, ``gps_lat`` and ``gps_lon`` are private data (they say where the
  photographer stood); only staff views may show them.
* Files are written before the row. If the row cannot be saved, both files are
  deleted at once. If the caller's transaction rolls back later, Django has no
  rollback hook, so the files stay unreferenced; ``manage.py
  cleanup_orphan_photos`` (``photo_orphans_delete``) removes such files once they
  are older than any transaction could be.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import posixpath
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from civicloop.core.errors import CivicError, ErrorCode, ValidationFailed

from .models import Case, CaseEvent, Photo, PhotoKind

if TYPE_CHECKING:
    from civicloop.org.models import User

# Longest edge of the public copy, and its JPEG quality.
PUBLIC_MAX_EDGE = 2560
PUBLIC_JPEG_QUALITY = 85
# Default pixel limit when settings.CIVICLOOP has no "MAX_PHOTO_PIXELS".
DEFAULT_MAX_PIXELS = 1 << 26
# Folders the upload_to functions of models.Photo write into (public and private storage).
PUBLIC_PREFIX = "cases"
PRIVATE_PREFIX = "originals"

_READ_CHUNK = 1 << 16
_MAX_NAME_CHARS = 80
_FORMAT_LABELS = {
    "JPEG": "JPEG",
    "PNG": "PNG",
    "WEBP": "WebP",
    "GIF": "GIF",
    "TIFF": "TIFF",
    "BMP": "BMP",
}
_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
}
# Pillow raises these for broken or truncated data (PNG chunk errors surface as SyntaxError).
# MemoryError is left out on purpose: it is the server's trouble, not a fault of the file.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)

# EXIF tags (CIPA DC-008) we read.
_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_ORIENTATION = 0x0112
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_TAG_OFFSET_TIME_DIGITIZED = 0x9012
_TAG_SUBSEC_TIME_ORIGINAL = 0x9291
_TAG_SUBSEC_TIME_DIGITIZED = 0x9292
_GPS_LATITUDE_REF, _GPS_LATITUDE, _GPS_LONGITUDE_REF, _GPS_LONGITUDE = 1, 2, 3, 4

_EXIF_DATETIME = re.compile(r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class Readable(Protocol):
    """What an upload must offer: Django's UploadedFile, an open file, a BytesIO with a name."""

    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class PhotoExif:
    """What the original's EXIF says, already validated. Every field may be missing."""

    taken_at: dt.datetime | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    make: str = ""
    model: str = ""
    orientation: int | None = None

    def as_json(self) -> dict[str, str | float | int]:
        out: dict[str, str | float | int] = {}
        if self.taken_at is not None:
            out["taken_at"] = self.taken_at.isoformat()
        if self.gps_lat is not None and self.gps_lon is not None:
            out["gps_lat"] = self.gps_lat
            out["gps_lon"] = self.gps_lon
        if self.make:
            out["make"] = self.make
        if self.model:
            out["model"] = self.model
        if self.orientation is not None:
            out["orientation"] = self.orientation
        return out


@dataclass(frozen=True)
class CheckedPhoto:
    """An upload that passed ``photo_check``, with its stripped public copy ready."""

    name: str
    format: str
    content_type: str
    size: int
    sha256: str
    width: int
    height: int
    exif: PhotoExif
    public_width: int
    public_height: int
    data: bytes = field(repr=False)
    public: bytes = field(repr=False)


# ---------------------------------------------------------------------------
# Checking


def photo_check(upload: Readable) -> CheckedPhoto:
    """Read and check one upload; refuse it with a readable reason, or return it with its public copy.

    Raises ``CivicError`` with ``ErrorCode.FILE_TOO_LARGE`` (bytes or pixels over
    the limit) or ``ErrorCode.BAD_FILE`` (empty, not a photo, unsupported format,
    damaged or truncated).
    """
    name = _display_name(upload)
    data = _read_limited(upload, name)
    if not data:
        raise CivicError(_("“%(name)s” is empty.") % {"name": name}, code=ErrorCode.BAD_FILE)
    formats = _accepted_formats()

    _verify(data, name, formats)
    return _decode(data, name, formats)


def _display_name(upload: object) -> str:
    raw = str(getattr(upload, "name", "") or "")
    # Browsers of old sent full Windows paths; keep the last part only.
    base = posixpath.basename(raw.replace("\\", "/"))
    base = _CONTROL_CHARS.sub("", base).strip()
    if not base:
        return _("the photo")
    if len(base) > _MAX_NAME_CHARS:
        base = base[: _MAX_NAME_CHARS - 1] + "…"
    return base


def _config() -> dict[str, Any]:
    config: dict[str, Any] = settings.CIVICLOOP
    return config


def _accepted_formats() -> list[str]:
    return [str(f).upper() for f in _config()["PHOTO_FORMATS"]]


def _max_bytes() -> int:
    return int(_config()["MAX_PHOTO_BYTES"])


def _max_pixels() -> int:
    return int(_config().get("MAX_PHOTO_PIXELS", DEFAULT_MAX_PIXELS))


def _too_large(name: str, size: int | None) -> CivicError:
    limit = filesizeformat(_max_bytes())
    if size is None:
        message = _("“%(name)s” is larger than the limit of %(limit)s.") % {
            "name": name,
            "limit": limit,
        }
    else:
        message = _("“%(name)s” is %(size)s; the limit is %(limit)s.") % {
            "name": name,
            "size": filesizeformat(size),
            "limit": limit,
        }
    return CivicError(message, code=ErrorCode.FILE_TOO_LARGE)


def _read_limited(upload: Readable, name: str) -> bytes:
    """The whole file, reading at most limit + 1 bytes; refused before reading when the declared size is over."""
    limit = _max_bytes()
    declared = getattr(upload, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise _too_large(name, declared)
    seek = getattr(upload, "seek", None)
    if callable(seek):
        try:
            seek(0)
        except (OSError, ValueError):
            pass  # A stream that cannot rewind is read from where it stands.
    buf = bytearray()
    while len(buf) <= limit:
        chunk = upload.read(min(_READ_CHUNK, limit + 1 - len(buf)))
        if not chunk:
            break
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise _not_a_photo(name, [])
        buf += chunk
    if len(buf) > limit:
        # The declared size was missing or wrong, so the real one is unknown: say "larger than".
        raise _too_large(name, None)
    return bytes(buf)


def _not_a_photo(name: str, formats: list[str]) -> CivicError:
    labels = ", ".join(_FORMAT_LABELS.get(f, f) for f in formats or _accepted_formats())
    return CivicError(
        _("“%(name)s” is not a photo (%(formats)s).") % {"name": name, "formats": labels},
        code=ErrorCode.BAD_FILE,
    )


def _damaged(name: str) -> CivicError:
    return CivicError(
        _("“%(name)s” is damaged or incomplete; please upload it again.") % {"name": name},
        code=ErrorCode.BAD_FILE,
    )


def _too_many_pixels(name: str) -> CivicError:
    limit = max(1, round(_max_pixels() / 1_000_000))
    return CivicError(
        _("“%(name)s” has too many pixels; the limit is %(limit)s megapixels.")
        % {"name": name, "limit": limit},
        code=ErrorCode.FILE_TOO_LARGE,
    )


def _open(data: bytes, name: str, formats: list[str]) -> Image.Image:
    """Open lazily (header only) with only the accepted decoders, and refuse oversized canvases."""
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(name) from exc
    except UnidentifiedImageError as exc:
        raise _not_a_photo(name, formats) from exc
    except _DECODE_ERRORS as exc:
        raise _damaged(name) from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        image.close()
        raise _damaged(name)
    if width * height > _max_pixels():
        image.close()
        raise _too_many_pixels(name)
    return image


def _verify(data: bytes, name: str, formats: list[str]) -> None:
    """Refuse files whose structure is broken (PNG chunk checksums and the like), before decoding pixels."""
    with _open(data, name, formats) as image:
        try:
            image.verify()
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(name) from exc
        except _DECODE_ERRORS as exc:
            raise _damaged(name) from exc


# ---------------------------------------------------------------------------
# EXIF


def photo_exif(image: Image.Image) -> PhotoExif:
    """Capture time, GPS position, camera and orientation from an opened original.

    EXIF is written by any app and often wrong; anything that does not parse is
    left out rather than refusing the photo.
    """
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - metadata is optional; a broken block must not refuse the photo
        return PhotoExif()
    exif_ifd = _ifd(exif, _IFD_EXIF)
    gps_ifd = _ifd(exif, _IFD_GPS)
    taken_at = _taken_at(
        exif_ifd, _TAG_DATETIME_ORIGINAL, _TAG_OFFSET_TIME_ORIGINAL, _TAG_SUBSEC_TIME_ORIGINAL
    ) or _taken_at(
        exif_ifd, _TAG_DATETIME_DIGITIZED, _TAG_OFFSET_TIME_DIGITIZED, _TAG_SUBSEC_TIME_DIGITIZED
    )
    lat = _gps_coordinate(
        gps_ifd.get(_GPS_LATITUDE), gps_ifd.get(_GPS_LATITUDE_REF), "N", "S", 90.0
    )
    lon = _gps_coordinate(
        gps_ifd.get(_GPS_LONGITUDE), gps_ifd.get(_GPS_LONGITUDE_REF), "E", "W", 180.0
    )
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        # Half a position is no position; 0,0 is what receivers write before a fix.
        lat = lon = None
    orientation = exif.get(_TAG_ORIENTATION)
    return PhotoExif(
        taken_at=taken_at,
        gps_lat=lat,
        gps_lon=lon,
        make=_text(exif.get(_TAG_MAKE)),
        model=_text(exif.get(_TAG_MODEL)),
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None,
    )


def _ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # noqa: BLE001 - a bad IFD offset is garbage, not a reason to refuse
        return {}


def _text(value: object, max_chars: int = 64) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    return _CONTROL_CHARS.sub("", value).strip()[:max_chars]


def _taken_at(
    ifd: dict[int, Any], date_tag: int, offset_tag: int, subsec_tag: int
) -> dt.datetime | None:
    match = _EXIF_DATETIME.match(_text(ifd.get(date_tag)))
    if not match:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        naive = dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    subsec = _text(ifd.get(subsec_tag))
    if subsec.isdigit():
        naive = naive.replace(microsecond=int(subsec[:6].ljust(6, "0")))
    offset = _EXIF_OFFSET.match(_text(ifd.get(offset_tag)))
    if offset:
        sign, hours, minutes = offset.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        if delta <= dt.timedelta(hours=14) and int(minutes) < 60:
            return naive.replace(tzinfo=dt.timezone(-delta if sign == "-" else delta))
    # Cameras record local wall time; without an offset assume the city's zone.
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def _gps_coordinate(
    value: object, ref: object, positive: str, negative: str, limit: float
) -> float | None:
    """Degrees, minutes, seconds (rationals) and an N/S or E/W reference → signed decimal degrees."""
    hemisphere = _text(ref).upper()[:1]
    if hemisphere not in (positive, negative):
        # Without the reference the sign is a guess, and a wrong hemisphere is worse than none.
        return None
    parts = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [float(part) for part in parts]  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if any(not math.isfinite(n) or n < 0 for n in numbers) or any(n >= 60 for n in numbers[1:]):
        return None
    degrees = numbers[0] + sum(n / 60**i for i, n in enumerate(numbers[1:], start=1))
    if degrees > limit:
        return None
    return round(-degrees if hemisphere == negative else degrees, 7)


# ---------------------------------------------------------------------------
# The public copy


def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _decode(data: bytes, name: str, formats: list[str]) -> CheckedPhoto:
    """Decode fully (this is where truncation shows), read the EXIF and build the stripped JPEG.

    ``verify()`` leaves an image unusable, hence this second open of the same bytes.
    """
    with _open(data, name, formats) as image:
        image_format = str(image.format)
        width, height = image.size
        icc = image.info.get("icc_profile")
        # JPEG can decode at 1/2, 1/4 or 1/8 scale: less memory and time for big photos.
        image.draft(None, (PUBLIC_MAX_EDGE, PUBLIC_MAX_EDGE))
        try:
            image.load()
            # After load(): PNG may keep its eXIf chunk after the pixel data.
            exif = photo_exif(image)
            small = _normalised_mode(image)
            small.thumbnail((PUBLIC_MAX_EDGE, PUBLIC_MAX_EDGE), Image.Resampling.LANCZOS)
            # Reads the orientation from the EXIF the copy still carries in .info, and turns the pixels.
            upright = ImageOps.exif_transpose(small)
            rgb = _to_srgb(_flatten(upright), icc if isinstance(icc, bytes) else None)
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(name) from exc
        except _DECODE_ERRORS as exc:
            raise _damaged(name) from exc
    # A new image from pixels only: nothing of .info (EXIF, XMP, ICC, comments) can reach the encoder.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=PUBLIC_JPEG_QUALITY, optimize=True, progressive=True)
    return CheckedPhoto(
        name=name,
        format=image_format,
        content_type=_CONTENT_TYPES.get(image_format, "application/octet-stream"),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        exif=exif,
        public_width=clean.width,
        public_height=clean.height,
        data=data,
        public=out.getvalue(),
    )


def _normalised_mode(image: Image.Image) -> Image.Image:
    """A mode that resizes well: palette and bit images expanded, 16-bit grey scaled to 8 bits."""
    mode = image.mode
    if mode in ("RGB", "RGBA", "L", "CMYK"):
        return image
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("LA", "La", "PA", "RGBa"):
        return image.convert("RGBA")
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return image.convert("RGB")


def _flatten(image: Image.Image) -> Image.Image:
    """Transparent areas become white, as on the page the photo is shown on."""
    if image.mode != "RGBA":
        return image
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    background.alpha_composite(image)
    return background.convert("RGB")


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    if icc and image.mode in ("RGB", "L", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _srgb_profile(), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # A broken or mismatched profile: keep the numbers as they are.
        if converted is not None:
            return converted
    return image if image.mode == "RGB" else image.convert("RGB")


# ---------------------------------------------------------------------------
# Writing


def photo_attach(
    *,
    case: Case,
    kind: PhotoKind | str,
    upload: Readable,
    by: User | None = None,
    event: CaseEvent | None = None,
    checked: CheckedPhoto | None = None,
) -> Photo:
    """Check an upload and attach it to a case: original kept privately, stripped copy public.

    ``checked`` is the upload's ``photo_check`` result when the caller already checked
    it (case actions check every photo before they lock the case), so it is not read twice.

    Meant to run inside the caller's case action, which passes the timeline event
    the photo belongs to. On any failure nothing is left: no row, no file (a later
    rollback of the caller's transaction is cleaned by ``photo_orphans_delete``).
    """
    if kind not in PhotoKind.values:
        raise ValidationFailed(
            _("“%(kind)s” is not a kind of photo.") % {"kind": kind}, field="kind"
        )
    if event is not None and event.case_id != case.pk:
        raise ValidationFailed(_("The event belongs to another case."), field="event")
    if checked is None:
        checked = photo_check(upload)

    photo = Photo(
        case=case,
        event=event,
        kind=PhotoKind(kind),
        uploaded_by=by,
        sha256=checked.sha256,
        content_type=checked.content_type,
        size=checked.size,
        exif=checked.exif.as_json(),
        taken_at=checked.exif.taken_at,
        gps_lat=checked.exif.gps_lat,
        gps_lon=checked.exif.gps_lon,
        # The ImageField measures the copy again when it is saved; the values agree.
        width=checked.public_width,
        height=checked.public_height,
    )
    written: list[tuple[Storage, str]] = []
    try:
        # The names given here are placeholders: upload_to derives the stored names from the hash.
        photo.original.save("original", ContentFile(checked.data, name="original"), save=False)
        written.append((photo.original.storage, photo.original.name or ""))
        photo.image.save("photo.jpg", ContentFile(checked.public, name="photo.jpg"), save=False)
        written.append((photo.image.storage, photo.image.name or ""))
        # A savepoint, so a failed INSERT leaves the caller's transaction usable.
        with transaction.atomic():
            photo.save()
    except BaseException:
        for storage, name in written:
            _delete_quietly(storage, name)
        raise
    return photo


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        pass  # The orphan sweep will find it.


# ---------------------------------------------------------------------------
# Reading


def photos_side_by_side(case: Case) -> list[tuple[Photo | None, Photo | None]]:
    """Before and after photos paired in upload order for the case page; the shorter side is padded with None."""
    photos = list(
        Photo.objects.filter(case=case, kind__in=[PhotoKind.BEFORE, PhotoKind.AFTER]).order_by(
            "created_at", "id"
        )
    )
    before = [p for p in photos if p.kind == PhotoKind.BEFORE]
    after = [p for p in photos if p.kind == PhotoKind.AFTER]
    return list(zip_longest(before, after))


# ---------------------------------------------------------------------------
# Sweeping files no row refers to


def photo_orphans_delete(
    *, older_than: dt.timedelta = dt.timedelta(hours=1), dry_run: bool = False
) -> list[str]:
    """Delete photo files that no ``Photo`` refers to and that are older than ``older_than``.

    The age guard spares files whose transaction is still open. Returns the
    deleted (or, with ``dry_run``, deletable) names as ``public:<name>`` and
    ``private:<name>``.
    """
    cutoff = timezone.now() - older_than
    found: list[str] = []
    for label, field_name, prefix in (
        ("public", "image", PUBLIC_PREFIX),
        ("private", "original", PRIVATE_PREFIX),
    ):
        storage: Storage = Photo._meta.get_field(field_name).storage  # type: ignore[union-attr]
        batch: list[str] = []
        for name in _walk(storage, prefix):
            batch.append(name)
            if len(batch) >= 500:
                found += _sweep(storage, label, field_name, batch, cutoff, dry_run)
                batch = []
        found += _sweep(storage, label, field_name, batch, cutoff, dry_run)
    return found


def _walk(storage: Storage, top: str) -> Iterator[str]:
    try:
        dirs, files = storage.listdir(top)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield posixpath.join(top, name)
    for sub in sorted(dirs):
        yield from _walk(storage, posixpath.join(top, sub))


def _sweep(
    storage: Storage,
    label: str,
    field_name: str,
    names: list[str],
    cutoff: dt.datetime,
    dry_run: bool,
) -> list[str]:
    if not names:
        return []
    referenced = set(
        Photo.objects.filter(**{f"{field_name}__in": names}).values_list(field_name, flat=True)
    )
    swept: list[str] = []
    for name in names:
        if name in referenced:
            continue
        try:
            if storage.get_modified_time(name) > cutoff:
                continue
        except (NotImplementedError, OSError):
            continue  # Age unknown: it may belong to a transaction still open.
        if not dry_run:
            storage.delete(name)
        swept.append(f"{label}:{name}")
    return swept
