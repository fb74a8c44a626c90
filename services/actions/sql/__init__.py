"""All of the actions service's SQL, as named methods of one repository, split by aggregate.

The repository runs on an ``Executor``: the connection of a unit of work's transaction, or the
pool for single reads. Plain SQL with ``$n`` parameters; rows come back as dicts, so that the
fake repository of the tests (``tests/fakes/actions/``) can return the same, and the shared
suite (``tests/integration/actions_repository/``) checks that both agree.
"""

from __future__ import annotations

from .annual_reports import AnnualReportQueries
from .base import Row
from .governance import GovernanceQueries
from .indicators import IndicatorQueries
from .milestones import MilestoneQueries
from .plan import PlanQueries
from .progress_reports import ProgressReportQueries

__all__ = ["ActionsRepository", "Row"]


class ActionsRepository(
    PlanQueries, IndicatorQueries, MilestoneQueries, ProgressReportQueries, GovernanceQueries, AnnualReportQueries
):
    """The actions service's repository: every query of every aggregate, on one executor."""
