"""The actions service's storage in memory: what ``ActionsRepository`` does, without PostgreSQL.

``tests/integration/actions_repository/`` runs one suite against both, so this fake
cannot drift from the SQL. Rows are returned as fresh dicts (as asyncpg's would be), JSON columns
go through a JSON round trip (as jsonb does), and the constraints the use cases rely on are kept:
uniqueness of measurements per indicator and source event or external id, two decimals for progress,
one report per action and period, the overdue flag cleared by a re-plan.
"""

from __future__ import annotations

from .annual_reports import FakeAnnualReports
from .governance import FakeGovernance
from .indicators import FakeIndicators
from .milestones import FakeMilestones
from .plan import FakePlan
from .progress_reports import FakeProgressReports

__all__ = ["FakeActionsRepository"]


class FakeActionsRepository(
    FakePlan, FakeIndicators, FakeMilestones, FakeProgressReports, FakeGovernance, FakeAnnualReports
):
    """What ``ActionsRepository`` does, in memory: every part, on one set of tables."""
