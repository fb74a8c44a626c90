"""A stopped clock for "today in Brussels": ``services.runtime.inputs`` reads the time once, in
``brussels_today``, and every day the equipment service dates (a certificate, the figures' and
the follow-ups' "today") comes from it."""

from __future__ import annotations

from datetime import datetime, tzinfo

import pytest

from services.runtime import inputs


def stop_the_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """From now until the test ends, it is ``moment`` (an aware datetime) for ``brussels_today``."""

    class Stopped(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Stopped:
            at = moment.astimezone(tz)
            return cls.combine(at.date(), at.timetz()) if tz else cls.combine(at.date(), at.time())

    monkeypatch.setattr(inputs, "datetime", Stopped)
