"""Use cases of the funding service: each runs in one unit of work (state and outbox together)."""

from .epn_labels import LabelEpn, label_epn
from .grants import AwardGrant, award_grant

__all__ = ["AwardGrant", "LabelEpn", "award_grant", "label_epn"]
