"""Composition root of the notifications service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.runtime.http import create_http_app
from services.runtime.service import Runtime
from services.runtime.uow import Context, UnitOfWork

from . import links, subscribers
from .api import ROUTERS
from .handlers import load_partners, read_seed
from .handlers.deliveries import Links
from .mailer import BOUNCE_KEY, Mailer
from .repository import NotificationsRepository
from .schedule import Scheduler
from .settings import NotificationsSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_runtime(settings: NotificationsSettings) -> Runtime:
    async def seed(runtime: Runtime) -> None:
        # The deployment's keys exist, committed, before a consumer or the dispatcher reads them
        # (they keep what they read: a key made in a transaction that rolls back must not be kept).
        async with runtime.unit_of_work(Context.system()) as uow:
            for name in (links.KEY_NAME, BOUNCE_KEY):
                await uow.repo.service_key(name)
        if settings.load_seed:
            await load_partners(runtime.unit_of_work(Context.system()), read_seed())

    # The service publishes what became of its messages (passerelle.notifications.v1): its relay runs.
    runtime = Runtime(settings, migrations=MIGRATIONS, repository=NotificationsRepository, on_start=[seed])
    subscribers.register(runtime, Links(settings.public_url, settings.dashboard_url))

    def system_unit_of_work() -> UnitOfWork[NotificationsRepository]:
        return runtime.unit_of_work(Context.system())

    runtime.background(Mailer(settings, system_unit_of_work).run, "mailer")
    scheduler = Scheduler(settings, system_unit_of_work)
    runtime.every(settings.schedule_interval_s, scheduler.run_once, "schedule")

    emails = runtime.metrics.gauge(
        "passerelle_emails", "Messages (e-mails, webhooks, feed) by delivery status.", ["status"]
    )
    oldest = runtime.metrics.gauge(
        "passerelle_emails_oldest_pending_age_seconds",
        "Age of the oldest message due and not sent yet (0 when none).",
        [],
    )

    async def count_emails() -> None:
        repository = runtime.repository()
        counts = await repository.deliveries_by_status()
        for status in ("pending", "sent", "failed", "bounced", "suppressed"):
            emails.labels(status).set(counts.get(status, 0))
        oldest.set(await repository.oldest_pending_age_s())

    runtime.metrics.on_scrape(count_emails)
    return runtime


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    """The service's app; with no settings, the defaults (e.g. to write its AsyncAPI document)."""
    settings = settings or NotificationsSettings()
    return create_http_app(
        create_runtime(settings),
        title="Passerelle — notifications",
        description="Tells the partners of the Working Group and the COPIL what matters to them, in French or Dutch: "
        "by e-mail, signed webhook or in-app feed, at once or in digests; convenes their meetings.",
        routers=ROUTERS,
    )
