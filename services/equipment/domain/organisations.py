"""Organisations: where each one's row comes from, and who may change it.

The funding service keeps the register of the EPNs (the master list); equipment learns them from
its events (``EpnRegistered``, ``EpnDetailsChanged``) and keeps, of each, what a recipient of
devices needs here: its code, its name, the kind ``epn`` and its commune. Every row says where it
comes from (``source``): the first start's seed, ``PUT /organisations/{code}``, or the register.

Two writers, one rule each, so that neither undoes the other:

* **The register writes only EPNs.** It creates the EPNs it announces and updates a row of kind
  ``epn`` whoever wrote it, so an EPN an operator typed by hand before the register existed is
  adopted under its code (and from then on kept by the register). A row of another kind under the
  same code (a school, a donor) is *another organisation*: overwriting it would turn its devices,
  requests and deliveries into an EPN's and change what they count for in the plan's indicators
  (action 30 counts EPNs only). The event is refused instead (``EpnCodeTaken``), so the consumer
  retries and then dead-letters it with that reason: a code collision is a data error that a
  person must resolve (the register's code, or the row's kind), after which the dead letter is
  replayed. Logging and skipping would leave the EPN unknown here with only a log line to say so,
  and its later changes skipped as well.
* **HTTP does not change the register's rows.** The register sends only *changes*: a name typed
  over HTTP would stay until the register next changes that field, and a kind changed over HTTP
  would take the row out of the register's hands. So ``PUT /organisations/{code}`` on a row the
  register keeps is refused (409, ``ManagedByRegister``), unless it changes nothing (a PUT repeated
  by a provisioning script stays harmless). Anything else, an EPN the register does not know yet
  included, is still registered over HTTP, as before.

A label decision (``EpnLabelStatusChanged``) changes nothing here: a suspended or withdrawn EPN is
still an organisation that holds devices, acknowledges deliveries, gets follow-ups and may return
devices; whether it may ask for more is the Coordination's review of its request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from passerelle_contracts.common import FieldChange

from services.runtime.errors import Conflict, Invalid

EPN = "epn"
SOURCES = ("seed", "http", "register")  # migration 0006's CHECK: the seed, PUT /organisations/{code}, the register
REGISTER_FIELDS = {"epn_name": "name", "commune": "commune"}
"""The register's fields equipment keeps, and their columns; the register's other details
(operator, address, hours, computers …) are the funding service's."""


class EpnCodeTaken(Conflict):
    """The register announced an EPN under a code that is another kind of organisation here."""


class ManagedByRegister(Conflict):
    """An HTTP write to an organisation the EPN register keeps."""


def optional_commune(value: Any) -> str | None:
    """A commune as the organisations table keeps it: none rather than an empty text (the register
    may know an EPN before its commune)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"commune must be text, not {value!r}")
    return value


def register_name(epn: str, value: Any) -> str:
    """An EPN's name from the register: a non-empty text, or the event is refused (the row would
    lose the name its deliveries, requests and certificates are known by)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"EPN {epn}: epn_name must be a non-empty text, not {value!r}")
    return value


def code_taken(epn: str, existing: Mapping[str, Any]) -> EpnCodeTaken:
    """Why the register may not write ``epn``: the code is ``existing``, another kind of organisation."""
    return EpnCodeTaken(
        f"the EPN register's code {epn} is already the organisation {existing['name']!r} of kind "
        f"{existing['kind']} here, not an EPN: left as it is (register the EPN under another code, "
        "or change that organisation's kind, then replay this dead letter)"
    )


def register_may_write(epn: str, existing: Mapping[str, Any]) -> None:
    """The register may write ``epn``'s row: it is an EPN's, whoever wrote it (see the module)."""
    if existing["kind"] != EPN:
        raise code_taken(epn, existing)


def require_unchanged_by_http(code: str, kept: Mapping[str, Any], name: str, kind: str, commune: str | None) -> None:
    """``PUT /organisations/{code}`` of a row the register keeps (``kept``, left as it is): refused
    unless it would change nothing."""
    if (kept["name"], kept["kind"], kept["commune"]) != (name, kind, commune):
        raise ManagedByRegister(
            f"organisation {code} is managed by the EPN register: its name and commune change in the "
            "funding service's register, and equipment follows"
        )


def register_changes(epn: str, changes: Iterable[FieldChange]) -> dict[str, str | None]:
    """Of an ``EpnDetailsChanged``, the columns equipment keeps and their new values (none if the
    change touches only the register's other details)."""
    columns: dict[str, str | None] = {}
    for change in changes:
        column = REGISTER_FIELDS.get(change.field)
        if column == "name":
            columns["name"] = register_name(epn, change.new)
        elif column == "commune":
            columns["commune"] = optional_commune(change.new)
    return columns
