"""French and Dutch labels of the codes the events carry: kept importable for partners' code
written against it; the labels, and number and date formatting, now live in ``i18n``."""

from __future__ import annotations

from .common import Language
from .i18n import FIELD, MEETING_KIND, RECIPIENT_KIND, REPORT_STATUS, STATUS, TRAFFIC_LIGHT, UNIT, Labels, label

__all__ = [
    "FIELD",
    "MEETING_KIND",
    "RECIPIENT_KIND",
    "REPORT_STATUS",
    "STATUS",
    "TRAFFIC_LIGHT",
    "UNIT",
    "Labels",
    "Language",
    "label",
]
