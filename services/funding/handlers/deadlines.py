"""Every deadline the funding service watches, checked at once: reports of grants and calls
closing (``calls.check_deadlines``), and activity returns (``returns.chase_returns``). The scheduled job, ``POST /deadlines/check`` and the ``check-deadlines`` command
all call this one function, each in one unit of work."""

from __future__ import annotations

from datetime import date

from services.runtime.uow import UnitOfWork

from ..repository import FundingRepository
from .calls import check_deadlines
from .returns import chase_returns


async def check_all_deadlines(uow: UnitOfWork[FundingRepository], today: date) -> int:
    """The number of reminders announced for ``today`` (a Brussels day)."""
    return len(await check_deadlines(uow, today)) + await chase_returns(uow, today)
