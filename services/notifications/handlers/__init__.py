"""Use cases of the notifications service: each runs in one unit of work (it never emits:
notifications publishes no events)."""

from .deliveries import notify_subscribers
from .partners import ReplaceSubscriptions, load_partners, read_seed, replace_subscriptions, save_partner

__all__ = [
    "ReplaceSubscriptions",
    "load_partners",
    "notify_subscribers",
    "read_seed",
    "replace_subscriptions",
    "save_partner",
]
