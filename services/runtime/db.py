"""PostgreSQL: one asyncpg pool per process, a jsonb codec, numbered .sql migrations."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg
from pydantic_core import to_json

from .logs import get_logger

log = get_logger(__name__)


class Executor(Protocol):
    """What repositories need of asyncpg: a pooled connection inside a transaction, or the pool
    itself for single statements (both have these methods)."""

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...

    async def executemany(
        self, command: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None: ...

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[asyncpg.Record]: ...

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> asyncpg.Record | None: ...

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any: ...


if TYPE_CHECKING:

    def _executors(
        pool: asyncpg.Pool, connection: asyncpg.Connection, pooled: asyncpg.pool.PoolConnectionProxy
    ) -> list[Executor]:
        """Never run: mypy checks here, against asyncpg-stubs, that the pool, a connection and a
        pooled connection (what ``pool.acquire()`` gives) all are Executors."""
        return [pool, connection, pooled]


RUNTIME_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works: it only serialises concurrent start-ups of one service's replicas.
MIGRATION_LOCK_KEY = 7_231_118_001


def _jsonb_encode(value: object) -> bytes:
    # pydantic-core's encoder, about six times faster than json.dumps, which a consumer writing a
    # dozen json values per event feels. For what is written here (dicts with string keys, lists,
    # strings, numbers, booleans, None) the JSON means the same (test_db_codecs). It differs
    # elsewhere: it encodes what json.dumps refuses (a UUID, a date, a Decimal: as strings; a
    # set: as a list) and writes a None key as "None" where json.dumps writes "null".
    return b"\x01" + to_json(value)  # binary jsonb: a version byte, then the text


def _jsonb_decode(data: bytes) -> object:
    return json.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary codecs, so that COPY (bulk intake) can carry json values too.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec("json", encoder=to_json, decoder=json.loads, schema="pg_catalog", format="binary")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs (LISTEN, leader locks)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def read_migrations(component: str, folder: Path) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} is not named NNNN_what.sql")
        sql = path.read_text(encoding="utf-8")
        if not sql.startswith("--"):
            raise ValueError(f"migration {path.name} must start with a comment saying why")
        found.append(Migration(component, int(match.group(1)), path.stem, sql))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {folder}")
    return found


async def migrate(pool: asyncpg.Pool, components: dict[str, Path]) -> list[str]:
    """Apply what is not applied yet, each migration in its own transaction; return their names.

    A migration already applied whose file changed is refused: migrations are append-only.
    """
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       component text NOT NULL,
                       version integer NOT NULL,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (component, version))"""
            )
            rows = await conn.fetch("SELECT component, version, checksum FROM schema_migrations")
            done = {(r["component"], r["version"]): r["checksum"] for r in rows}
            for component, folder in components.items():
                for migration in read_migrations(component, folder):
                    key = (component, migration.version)
                    if key in done:
                        if done[key] != migration.checksum:
                            raise RuntimeError(
                                f"applied migration {component}/{migration.name} was edited; add a new one"
                            )
                        continue
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)",
                            component,
                            migration.version,
                            migration.name,
                            migration.checksum,
                        )
                    applied_now.append(f"{component}/{migration.name}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    if applied_now:
        log.info("migrations applied", migrations=applied_now)
    return applied_now
