"""What the repository's parts share: the executor they run on, and how an actor is stored."""

from __future__ import annotations

from typing import Any

from passerelle_contracts import Actor

from services.runtime.db import Executor

Row = dict[str, Any]


class Queries:
    def __init__(self, executor: Executor) -> None:
        self.db = executor


def actor_json(actor: Actor) -> dict[str, Any]:
    """An actor as the ``actor`` / ``recorded_by`` jsonb columns keep it."""
    return actor.model_dump(mode="json")
