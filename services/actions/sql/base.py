"""What every query class of the actions service shares: the executor it runs on."""

from __future__ import annotations

from typing import Any

from services.runtime.db import Executor

Row = dict[str, Any]
"""A row as a plain dict (never an asyncpg Record): the fake repository returns the same."""


class Queries:
    def __init__(self, executor: Executor) -> None:
        self.db = executor
