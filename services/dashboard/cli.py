"""The dashboard's own commands: ``rebuild`` (see ``rebuild.py``). ``python -m services.dashboard
--help`` lists the runtime's too (``serve``, ``migrate``, ``keys create|list|revoke|expire``,
``dlq``, ``outbox``): an operator's key is made with ``keys create --organisation <code> --role
operator``, a partner's read-only view with any other role."""

from __future__ import annotations

import argparse
from typing import Any

from services.runtime.cli import Command
from services.runtime.settings import load_settings
from services.runtime.uow import Session

from .settings import DashboardSettings


def _rebuild_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--into", help="rebuild into this database instead of the dashboard's own (postgresql://…)")
    parser.add_argument("--batch", type=int, default=1000, help="records read and applied at a time (default 1000)")


async def _rebuild(args: argparse.Namespace, session: Session[Any]) -> None:
    from .rebuild import UnknownPartitions, rebuild

    settings = load_settings(DashboardSettings)
    try:
        result = await rebuild(settings, into=args.into, batch=max(1, min(args.batch, 10_000)))
    except UnknownPartitions as error:
        raise SystemExit(f"rebuild: {error}") from None
    print(result.summary())


COMMANDS: dict[str, Command] = {
    "rebuild": Command("drop the read models and build them again from the topics", _rebuild_args, _rebuild),
}
