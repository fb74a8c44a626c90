"""The EPN register over HTTP: the EPNs (a public register), their history, the label decisions,
the label charter's criteria, and the labelled EPNs of the first contract (``/epn-labels``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response
from passerelle_contracts.common import LabelStatus, Public
from pydantic import BaseModel, Field, model_validator

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code, Count, Flag, Happened, Line, Text, Threshold, WeeklyHours
from services.runtime.uow import UnitOfWork

from ..domain import Criterion, Epn, EpnDetails, HistoryEntry
from ..handlers import (
    ChangeEpnDetails,
    DecideLabel,
    RegisterEpn,
    change_epn_details,
    decide_label,
    register_epn,
    set_criterion,
)
from ..repository import FundingRepository

router = api_router(tags=["epn register"])

LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2}$", max_length=2, description="ISO 639-1, e.g. fr, nl, en, ar")]
Commune = Annotated[Line, Field(min_length=2, max_length=64)]
Postcode = Annotated[
    str, Field(pattern=r"^1[0-2][0-9]{2}$", max_length=4, description="A Brussels postcode (1000-1299)")
]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


class EpnDetailsIn(BaseModel):
    epn_name: Annotated[Line, Field(min_length=2, max_length=120)]
    operator: Annotated[Code, Field(min_length=2, description="Code of the organisation that runs the EPN")]
    address: Annotated[Line, Field(max_length=200)] | None = None
    postcode: Postcode | None = None
    commune: Commune
    hours_per_week: WeeklyHours
    computers: Count
    tablets: Count
    publics: Annotated[list[Public], Field(max_length=12)] = []
    languages: Annotated[list[LanguageCode], Field(max_length=12)] = []
    accessible: Flag


class EpnIn(EpnDetailsIn):
    epn: Annotated[Code, Field(min_length=2, description="The EPN's organisation code")]


CLEARABLE = frozenset({"address", "postcode"})


class EpnChangeIn(BaseModel):
    """The details to change; the others stay as they are."""

    epn_name: Annotated[Line, Field(min_length=2, max_length=120)] | None = None
    operator: Annotated[Code, Field(min_length=2)] | None = None
    address: Annotated[Line, Field(max_length=200)] | None = None
    postcode: Postcode | None = None
    commune: Commune | None = None
    hours_per_week: WeeklyHours | None = None
    computers: Count | None = None
    tablets: Count | None = None
    publics: Annotated[list[Public], Field(max_length=12)] | None = None
    languages: Annotated[list[LanguageCode], Field(max_length=12)] | None = None
    accessible: Flag | None = None

    @model_validator(mode="after")
    def names_something(self) -> EpnChangeIn:
        if not self.model_fields_set:
            raise ValueError("name at least one detail to change")
        cleared = sorted(n for n in self.model_fields_set - CLEARABLE if getattr(self, n) is None)
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be empty; only {', '.join(sorted(CLEARABLE))} can")
        return self


class LabelDecisionIn(BaseModel):
    status: LabelStatus
    decided_on: Happened
    note: Text | None = None


class CriterionIn(BaseModel):
    measure: Literal["hours_per_week", "devices", "computers", "tablets", "accessible"]
    minimum: Threshold
    label_fr: Annotated[Line, Field(min_length=2)]
    label_nl: Annotated[Line, Field(min_length=2)]


def _details(body: EpnDetailsIn) -> EpnDetails:
    values = body.model_dump(exclude={"epn"})
    return EpnDetails(**(values | {"publics": tuple(body.publics), "languages": tuple(body.languages)}))


@router.post("/epns", status_code=201, summary="Register an EPN, as a candidate for the label")
async def post_epn(
    response: Response,
    body: EpnIn,
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work("coordination")),
) -> dict[str, Any]:
    epn, created = await register_epn(uow, RegisterEpn(epn=body.epn, details=_details(body)))
    if not created:
        response.status_code = 200  # registered already with these details: a retry
    return shown(epn, full=True)


@router.get("/epns", summary="The register of EPNs, by code (public)")
async def get_epns(
    commune: Annotated[Line, Query(max_length=64)] | None = None,
    status: LabelStatus | None = None,
    operator: Code | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    repo: FundingRepository = Depends(repository),
) -> list[dict[str, Any]]:
    found = await repo.epns(commune=commune, status=status, operator=operator, limit=limit, offset=offset)
    return [shown(epn) for epn in found]


@router.get("/epns/{epn}", summary="One EPN of the register (public)")
async def get_epn(epn: Code, repo: FundingRepository = Depends(repository)) -> dict[str, Any]:
    return shown(await _found(repo, epn))


@router.patch("/epns/{epn}", summary="Change an EPN's details (the Coordination, or the EPN's operator)")
async def patch_epn(
    epn: Code, body: EpnChangeIn, uow: UnitOfWork[FundingRepository] = Depends(unit_of_work())
) -> dict[str, Any]:
    values = {name: getattr(body, name) for name in body.model_fields_set}
    for listed in ("publics", "languages"):
        if values.get(listed) is not None:
            values[listed] = tuple(values[listed])
    updated, _ = await change_epn_details(uow, ChangeEpnDetails(epn=epn, values=values))
    return shown(updated, full=True)


@router.get("/epns/{epn}/history", summary="An EPN's registration, changes and label decisions, oldest first")
async def get_epn_history(
    epn: Code, _reader: Any = Depends(require()), repo: FundingRepository = Depends(repository)
) -> list[dict[str, Any]]:
    await _found(repo, epn)
    return [history_entry(entry) for entry in await repo.history(epn)]


@router.post(
    "/epns/{epn}/label-decisions", status_code=201, summary="Decide on an EPN's label (the charter is checked)"
)
async def post_label_decision(
    epn: Code,
    body: LabelDecisionIn,
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work("coordination")),
) -> dict[str, Any]:
    entry = await decide_label(uow, DecideLabel(epn=epn, **body.model_dump()))
    return history_entry(entry)


@router.get("/label-criteria", summary="The label charter's criteria and their thresholds (public)")
async def get_label_criteria(repo: FundingRepository = Depends(repository)) -> list[dict[str, Any]]:
    return [criterion(c) for c in await repo.criteria()]


@router.put("/label-criteria/{code}", summary="Set a criterion of the label charter (its threshold is data)")
async def put_label_criterion(
    code: Code,
    body: CriterionIn,
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work("coordination")),
) -> dict[str, Any]:
    return criterion(await set_criterion(uow, Criterion(code=code, **body.model_dump())))


@router.get("/epn-labels", summary="The labelled EPNs, by code (public)")
async def get_epn_labels(
    commune: Annotated[Line, Query(max_length=64)] | None = None, repo: FundingRepository = Depends(repository)
) -> list[dict[str, Any]]:
    found = await repo.epns(commune=commune, status="labelled", limit=10_000)
    return [labelled(epn) for epn in found]


@router.get("/epn-labels/{epn}", summary="One labelled EPN (public)")
async def get_epn_label(epn: Code, repo: FundingRepository = Depends(repository)) -> dict[str, Any]:
    found = await repo.epn(epn)
    if found is None or found.label_status != "labelled":
        raise NotFound(f"{epn} is not a labelled EPN")
    return labelled(found)


async def _found(repo: FundingRepository, code: str) -> Epn:
    epn = await repo.epn(code)
    if epn is None:
        raise NotFound(f"no EPN {code} in the register")
    return epn


def shown(epn: Epn, *, full: bool = False) -> dict[str, Any]:
    """An EPN as anyone may read it (a public place); ``full`` adds who registered it."""
    d = epn.details
    out: dict[str, Any] = {
        "epn": epn.epn,
        **d.values(),
        "hours_per_week": _number(d.hours_per_week),
        "publics": list(d.publics),
        "languages": list(d.languages),
        "label_status": epn.label_status,
        "labelled_on": epn.labelled_on,
        "registered_at": epn.registered_at,
        "updated_at": epn.updated_at,
    }
    if full:
        out["registered_by"] = epn.registered_by.model_dump(mode="json")
    return out


def labelled(epn: Epn) -> dict[str, Any]:
    """A labelled EPN as the first contract's list showed it: the EPN, its commune, the day."""
    return {"epn": epn.epn, "commune": epn.details.commune, "labelled_on": epn.labelled_on}


def history_entry(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "previous_status": entry.previous_status,
        "status": entry.status,
        "decided_on": entry.decided_on,
        "criteria": list(entry.criteria),
        "changes": list(entry.changes),
        "note": entry.note,
        "register_version": entry.register_version,
        "actor": {"organisation": entry.actor.organisation, "role": entry.actor.role},
        "recorded_at": entry.recorded_at,
    }


def criterion(c: Criterion) -> dict[str, Any]:
    return {"code": c.code, "measure": c.measure, "minimum": _number(c.minimum), "label_fr": c.label_fr,
            "label_nl": c.label_nl}  # fmt: skip


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)
