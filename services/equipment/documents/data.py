"""What the documents are made from: plain, frozen data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from ..domain import latest_per_medium

MM_PER_INCH = 25.4
LABEL_MM = (62.0, 29.0)  # a common continuous thermal label (e.g. Brother DK-22205 cut at 29 mm)
MIN_MODULE_MM = 0.4
QR_ERROR = "m"
QR_BORDER = 4  # the quiet zone the QR specification asks for, in modules

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FONT_REGULAR = FONT_DIR + "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR + "DejaVuSans-Bold.ttf"
FONT_CONDENSED = FONT_DIR + "DejaVuSansCondensed.ttf"  # the long lines: make and model, donor
FONT_CODE = FONT_DIR + "DejaVuSansMono-Bold.ttf"  # fixed width: "0"/"O" and "1"/"I" stay distinct


@dataclass(frozen=True)
class LabelData:
    device_id: str
    short_code: str  # what people read and type, e.g. "PSR-7K3F9Q"
    kind: str  # a device kind code (laptop, desktop, …) or a free text
    make: str
    model: str
    donor: str
    asset_tag: str  # the donor's inventory number
    qr_payload: str  # what the QR code encodes, e.g. "passerelle:device:<uuid>"


@dataclass(frozen=True)
class MediumRecord:
    """One NIST SP 800-88 sanitisation record of one storage medium."""

    medium_id: str
    medium_type: str  # hdd, ssd, nvme, emmc, … or a free text
    capacity_gb: int | None
    serial: str
    method: str  # clear | purge | destroy
    tool: str
    tool_version: str
    passes: int
    verification: str  # full | sample | none, or a free text
    operator: str
    started_at: datetime
    ended_at: datetime
    result: str  # passed | failed | passed_with_warnings
    warnings: str
    order: int = 0  # its place in the device's history (the record's id): the later record of a medium wins


@dataclass(frozen=True)
class CertificateData:
    certificate_id: str
    device_id: str
    short_code: str
    kind: str
    make: str
    model: str
    serial: str
    donor: str
    refurbisher: str  # the organisation that sanitised the device
    issued_on: date
    records: tuple[MediumRecord, ...]
    qr_payload: str = ""  # what the certificate's QR encodes; empty: the device id


def sha256(content: bytes) -> str:
    """The hexadecimal SHA-256 digest of ``content`` (what the certificate event records)."""
    return hashlib.sha256(content).hexdigest()


def outcome(cert: CertificateData) -> str:
    """The certificate's verdict (a key of ``TEXT``): no media, every medium's latest record
    passed, or not — "latest" as the sanitisation rule has it (``domain.latest_per_medium``)."""
    if not cert.records:
        return "no_media"
    latest = latest_per_medium(cert.records)
    return "all_passed" if all(r.result == "passed" for r in latest.values()) else "not_all_passed"
