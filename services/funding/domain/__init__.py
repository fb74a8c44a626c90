"""The funding domain, without I/O: grants, the register of the EPNs with their label, the
funding cadastre, and calls for projects with their applications, agreements, payments and
reports.

A grant's amount is positive, in euros with at most two decimals, and its date is a calendar
day: the HTTP model and the contract check both before a command exists, and the database checks
the amount again.

The EPN register is the master list of EPNs. An EPN's label moves along ``TRANSITIONS``
(candidate -> labelled -> suspended -> withdrawn, and back), one decision of the Coordination at
a time. Each decision checks the label charter's criteria against the EPN's figures as they are
that day, and keeps the result with the decision: a later change of a threshold does not rewrite
why an EPN was labelled. Labelling is refused while a criterion is unmet; suspending or
withdrawing never is (the unmet criteria are then the reason on record).

The modules: ``grants`` (grants, who reads which), ``register`` (EPNs, the label and its
charter), ``cadastre`` (funding lines and a year's coverage); this package re-exports their names.
"""

from .cadastre import LINE_FIELDS, Coverage, FundingLine, line_changes
from .grants import READ_ALL_ROLES, Grant, GrantTerms, reader_scope
from .register import (
    DETAIL_FIELDS,
    LABELLED,
    MEASURES,
    TRANSITIONS,
    Criterion,
    CriterionResult,
    Epn,
    EpnDetails,
    HistoryEntry,
    check_charter,
    decide,
    detail_changes,
    may_edit_epn,
    measure,
    plain,
)

__all__ = [
    "DETAIL_FIELDS",
    "LABELLED",
    "LINE_FIELDS",
    "MEASURES",
    "READ_ALL_ROLES",
    "TRANSITIONS",
    "Coverage",
    "Criterion",
    "CriterionResult",
    "Epn",
    "EpnDetails",
    "FundingLine",
    "Grant",
    "GrantTerms",
    "HistoryEntry",
    "check_charter",
    "decide",
    "detail_changes",
    "line_changes",
    "may_edit_epn",
    "measure",
    "plain",
    "reader_scope",
]
