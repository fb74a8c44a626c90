"""Use cases of the notifications service: each runs in one unit of work."""

from .directory import on_epn_details_changed, on_epn_label_status_changed, on_epn_registered, on_grant_holder
from .partners import ReplaceSubscriptions, load_partners, read_seed, replace_subscriptions, save_partner

__all__ = [
    "ReplaceSubscriptions",
    "load_partners",
    "on_epn_details_changed",
    "on_epn_label_status_changed",
    "on_epn_registered",
    "on_grant_holder",
    "read_seed",
    "replace_subscriptions",
    "save_partner",
]
