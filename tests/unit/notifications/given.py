"""What the notifications use-case tests share: partners, the contracts' examples, units of work on the fake."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from passerelle_contracts import Envelope

from services.notifications.domain import PartnerDetails
from services.notifications.repository import NotificationsRepository
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, UnitOfWork
from tests.fakes.notifications import FakeNotificationsRepository

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"

EASY = PartnerDetails(
    code="easy-brussels", name="easy.brussels", email="easy@partners.example", language="fr", working_group=True
)
ACTIRIS = PartnerDetails(
    code="actiris", name="Actiris", email="actiris@partners.example", language="nl", working_group=True
)
CABAN = PartnerDetails(code="caban", name="CABAN", email="caban@partners.example", language="fr")


def example(event_type: str, *, occurred_at: datetime | None = None) -> Envelope:
    """The contracts' example of ``event_type``, happening now (or at ``occurred_at``): the
    service e-mails only what happened since it first started."""
    envelope = Envelope.model_validate_json((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))
    return envelope.model_copy(update={"occurred_at": occurred_at or datetime.now(UTC)})


Store = FakeStore[FakeNotificationsRepository]


def system(store: Store, context: Context | None = None) -> UnitOfWork[NotificationsRepository]:
    """A unit of work on the fake, acting as the system (or in ``context``)."""
    fake = store.unit_of_work(context or Context.system(), source="notifications")
    return fake  # type: ignore[return-value]  # the fake repository stands in for NotificationsRepository


async def subscribe(store: Store, partner: PartnerDetails, *event_types: str) -> None:
    await store.repo.upsert_partner(partner)
    await store.repo.set_subscriptions(partner.code, event_types)
