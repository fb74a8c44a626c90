"""The templates' filters: numbers, amounts, dates, times and codes written per language, as the
Region's partners read them, and a changed field's label and values (``rendering`` registers them
in each language's Jinja2 environment). Pure functions over ``passerelle_contracts.i18n``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from passerelle_contracts import i18n
from passerelle_contracts.common import LANGUAGES, Language
from passerelle_contracts.i18n import NOTHING, fmt_date, fmt_datetime, fmt_number, fmt_percent, label

from services.runtime.inputs import BRUSSELS

# --- formatting, per language: the templates' filters ---------------------------------------------

TABLES: dict[str, i18n.Labels] = {
    name: value
    for name, value in vars(i18n).items()
    if name.isupper() and isinstance(value, dict) and set(value) == set(LANGUAGES)
}
"""The label tables of ``i18n`` by name, for the ``label`` filter: ``{{ d.status | label("STATUS") }}``."""
# The label table of a changed field's values (``changes``); "status" depends on the event type.
CHANGE_TABLES = {
    "traffic_light": "TRAFFIC_LIGHT",
    "physical": "PHYSICAL_STATE",
    "sanitisation": "SANITISATION_STATE",
    "beneficiary_kind": "BENEFICIARY_KIND",
    "funder": "FUNDER_KIND",
    "unit": "UNIT",
    "label_status": "LABEL_STATUS",
    "publics": "PUBLIC",
    "languages": "LANGUAGE_NAME",
}
STATUS_TABLES = {
    "ActionStatusChanged": "STATUS",
    "ReportSubmitted": "REPORT_STATUS",
    "ReportApproved": "REPORT_STATUS",
    "ReportReturned": "REPORT_STATUS",
    "RequestReviewed": "REQUEST_STATUS",
}
LIST_FIELDS = frozenset({"publics", "languages"})  # codes joined by commas in a FieldChange
NUMBER_FIELDS = frozenset({"hours_per_week", "computers", "tablets", "weight", "baseline", "target", "value"})
NBSP = "\u00a0"  # between an amount and "€", so that a line never ends on a bare number
# Line breaks and runs of ordinary spaces; not U+00A0 and U+202F, which French writes on purpose.
_BREAKS = re.compile(r"[ \t\r\n\v\f\x85\u2028\u2029]+")
_TRANCHE = re.compile(r"tranche_(\d+)_eur")


def one_line(text: str) -> str:
    """``text`` on one line: a subject, a digest line (a line break in data never breaks them)."""
    return _BREAKS.sub(" ", text).strip()


def paragraphs(text: str) -> str:
    """A body as templates leave it, tidied: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


def f_number(value: Any, decimals: int = 2, *, language: Language) -> str:
    number = _decimal(value)
    return NOTHING if number is None else fmt_number(number, language, decimals)


def f_amount(value: Any, *, language: Language) -> str:
    """Euros: "15 000 €"; cents only when there are some, and then both: "9 200,50 €"."""
    number = _decimal(value)
    if number is None:
        return NOTHING
    text = fmt_number(number, language, 2)
    if "," in text and len(text.rsplit(",", 1)[1]) == 1:
        text += "0"
    return f"{text}{NBSP}€"


def f_percent(value: Any, decimals: int = 1, *, language: Language) -> str:
    number = _decimal(value)
    return NOTHING if number is None else fmt_percent(number, language, decimals)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return _local(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        moment = _as_datetime(value) if len(value) > 10 else None  # a time: its day in Brussels
        try:
            return moment.date() if moment is not None else date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _local(value: datetime) -> datetime:
    """Brussels wall-clock time, naive (``fmt_datetime`` then writes no zone). Passerelle's times
    are UTC: a naive one is taken as UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(BRUSSELS).replace(tzinfo=None)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _local(value)
    if isinstance(value, str) and value:
        try:
            return _local(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def f_date(value: Any, numeric: bool = False, *, language: Language) -> str:
    day = _as_date(value)
    if day is None:
        return NOTHING if value in (None, "") else str(value)
    return fmt_date(day, language, numeric=numeric)


def f_datetime(value: Any, *, language: Language) -> str:
    """In Brussels time, to the minute: "12 mars 2024 à 09:30" (the templates say "heure de Bruxelles")."""
    moment = _as_datetime(value)
    if moment is None:
        return NOTHING if value in (None, "") else str(value)
    return fmt_datetime(moment, language)


def f_time(value: Any) -> str:
    moment = _as_datetime(value)
    return NOTHING if moment is None else f"{moment:%H:%M}"


def f_weekday(value: Any, *, language: Language) -> str:
    day = _as_date(value)
    return NOTHING if day is None else i18n.weekday_name(day, language)


def _code(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def _table(name: str) -> i18n.Labels:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no label table {name!r} in passerelle_contracts.i18n; known: {', '.join(TABLES)}") from None


def f_label(code: Any, table: str, *, language: Language) -> str:
    return label(_table(table), language, _code(code))


def f_labels(codes: Iterable[Any], table: str, *, language: Language) -> list[str]:
    return [label(_table(table), language, _code(code)) for code in codes]


def field_label(name: str, language: Language) -> str:
    """The label of a changed field: "statut", "tranche 2"; an unknown one as words."""
    if name in i18n.FIELD[language]:
        return i18n.FIELD[language][name]
    if match := _TRANCHE.fullmatch(name):
        return f"{i18n.FIELD[language]['tranche']} {match[1]}"
    return name.replace("_", " ")


def change_value(event_type: str, name: str, value: Any, language: Language) -> str:
    """One side of a FieldChange, as partners read it: codes by their labels, amounts, dates and
    numbers formatted, nothing as "—"."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return label(i18n.YES_NO, language, _code(value))
    table = STATUS_TABLES.get(event_type) if name == "status" else CHANGE_TABLES.get(name)
    if table is not None:
        if name in LIST_FIELDS:
            codes = [code.strip() for code in str(value).split(",") if code.strip()]
            return ", ".join(label(TABLES[table], language, code) for code in codes)
        return label(TABLES[table], language, str(value))
    if name.endswith("_eur"):
        return f_amount(value, language=language) if _decimal(value) is not None else str(value)
    if name.endswith("_pct") or name == "progress":
        return f_percent(value, language=language) if _decimal(value) is not None else str(value)
    if name.endswith("_on"):
        return f_date(value, language=language)
    if name.endswith("_at"):
        return f_datetime(value, language=language)
    if (name in NUMBER_FIELDS or isinstance(value, int | float)) and _decimal(value) is not None:
        return f_number(value, language=language)
    return str(value)


def f_short(value: Any) -> str:
    """A UUID's first 8 characters, as people quote it; any other id whole."""
    text = str(value)
    return text[:8] if len(text) == 36 and text.count("-") == 4 else text


def f_clip(value: Any, length: int = 60) -> str:
    """At most ``length`` characters, cut at a word, "…" added: for free titles in subjects."""
    text = one_line(str(value))
    if len(text) <= length:
        return text
    cut = text[: length - 1].rsplit(" ", 1)[0] or text[: length - 1]
    return cut.rstrip(" ,;:—-") + "…"


def f_capfirst(value: Any) -> str:
    """The first letter in upper case, the rest as it is ("het Stuurcomité (COPIL)" → "Het Stuurcomité (COPIL)")."""
    text = str(value)
    return text[:1].upper() + text[1:]


def f_nonzero(counts: Mapping[str, Any]) -> dict[str, Any]:
    return {key: count for key, count in counts.items() if count}
