"""Printable documents of the equipment service: a device's label (a PNG for a 62 mm thermal label
printer, or an A4 sheet of labels as PDF), both with a QR code, and the bilingual (French then
Dutch) NIST SP 800-88 Rev. 1 sanitisation certificate of a wiped device, as HTML and PDF.

Pure functions: no database, no network. Every text from the data goes through ``html.escape``
(or, in the certificate's PDF, into an escaped PDF string). Deterministic: the same input gives
byte-identical files (WeasyPrint writes no date metadata unless the HTML asks for it; the
certificate's PDF, written directly with pydyf, has no dates and a content-derived identifier),
so a certificate's SHA-256 (``sha256``) can be recorded on an event and checked again by
re-rendering.

QR codes come from segno (error correction M, a 4-module quiet zone included in the image); a
module is never smaller than ``MIN_MODULE_MM`` (0.4 mm), below which phone cameras and
hand scanners struggle: a payload too long for that raises ``ValueError``."""

from __future__ import annotations

from .certificate import certificate_html
from .certificate_pdf import certificate_pdf
from .data import MIN_MODULE_MM, CertificateData, LabelData, MediumRecord, sha256
from .labels import label_png, labels_html, labels_pdf

__all__ = [
    "MIN_MODULE_MM",
    "CertificateData",
    "LabelData",
    "MediumRecord",
    "certificate_html",
    "certificate_pdf",
    "label_png",
    "labels_html",
    "labels_pdf",
    "sha256",
]
