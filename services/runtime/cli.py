"""The command line every service shares: serve, migrate, create-api-key."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args

import uvicorn
from fastapi import FastAPI
from passerelle_contracts import Role

from . import db
from .auth import create_api_key
from .errors import PasserelleError
from .logs import configure_logging
from .settings import ServiceSettings, load_settings
from .uow import RepositoryFactory, Session

# The contracts' roles a key can carry: "system" is Passerelle itself, never a person's key.
ROLES = tuple(role for role in get_args(Role) if role != "system")

S = TypeVar("S", bound=ServiceSettings)  # the service's own settings, given to its create_app


@dataclass(frozen=True)
class Command:
    """A service's own command: its help, its arguments, and what it does with them in a session."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Session[Any]], Awaitable[Any]]


def main(
    settings_cls: type[S],
    create_app: Callable[[S], FastAPI],
    migrations: Path,
    commands: Mapping[str, Command] | None = None,
    repository: RepositoryFactory[Any] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {settings_cls.__module__.rsplit('.', 1)[0]}")
    commands_sub = parser.add_subparsers(dest="command")
    commands_sub.add_parser("serve", help="run the service (default)")
    commands_sub.add_parser("migrate", help="apply database migrations and exit")
    key = commands_sub.add_parser("create-api-key", help="create a bearer API key; prints it once")
    key.add_argument("--organisation", required=True, help="organisation code, e.g. easy-brussels")
    key.add_argument("--role", required=True, choices=ROLES)
    key.add_argument("--label", default="", help="what the key is for")
    for name, command in (commands or {}).items():
        command.configure(commands_parser := commands_sub.add_parser(name, help=command.help))
        commands_parser.set_defaults(own_command=command)
    args = parser.parse_args()

    settings = load_settings(settings_cls)
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    if args.command in (None, "serve"):
        app = create_app(settings)
        uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings, migrations))
    elif args.command == "create-api-key":
        print(asyncio.run(_create_key(settings, migrations, args.organisation, args.role, args.label)))
    else:
        if repository is None:
            raise SystemExit(f"{args.command}: this service gave its commands no repository")
        asyncio.run(_run_own(settings, migrations, args, repository))


async def _run_own(
    settings: ServiceSettings, migrations: Path, args: argparse.Namespace, repository: RepositoryFactory[Any]
) -> None:
    pool = await db.create_pool(settings.database_url, max_size=4)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, settings.service_name: migrations})
        await args.own_command.run(args, Session(settings, pool, repository))
    except PasserelleError as error:  # a refusal with its reason, as HTTP would answer: not a traceback
        raise SystemExit(f"{args.command}: {error.reason}") from None
    finally:
        await pool.close()


async def _migrate(settings: ServiceSettings, migrations: Path) -> None:
    pool = await db.create_pool(settings.database_url, max_size=2)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, settings.service_name: migrations})
    finally:
        await pool.close()


async def _create_key(settings: ServiceSettings, migrations: Path, organisation: str, role: str, label: str) -> str:
    pool = await db.create_pool(settings.database_url, max_size=2)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, settings.service_name: migrations})
        return await create_api_key(pool, organisation, role, label)
    finally:
        await pool.close()
