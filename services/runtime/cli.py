"""The command line every service shares: serve, migrate, create-api-key, and the operator's
``dlq`` (dead letters: list, show, replay, discard; see ``dlq``) and ``outbox`` (list, release or
discard parked rows; see ``outbox_faults``). A mistake a person can make (an unknown id, a bad
date) ends with its reason and exit status 2; a refusal of a service's own command with its
reason and status 1; neither with a traceback."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from passerelle_contracts.common import KEY_ROLES, WIRE_ROLE
from pydantic_core import to_jsonable_python

from . import db, dlq, outbox_faults
from .auth import create_api_key, expire_api_key, list_api_keys, revoke_api_key
from .dlq import AuditEntry, OperatorError
from .errors import PasserelleError
from .logs import configure_logging
from .settings import ServiceSettings, load_settings
from .uow import RepositoryFactory, Session

# The roles a key can carry (the contracts' ``KeyRole``): the event roles but "system" (Passerelle
# itself, never a person's key), and finer ones that act in events as the role WIRE_ROLE names.
ROLES = KEY_ROLES

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
    _create_key_args(commands_sub.add_parser("create-api-key", help="the same as keys create"))

    def consumers() -> dlq.Consumers:
        # The service's composition root, built but not started: the consumers it registers.
        return dlq.consumers_of(create_app(settings).state.runtime.broker, settings)

    operator_commands = {
        "dlq": Command(
            "dead letters of this service's consumers: list, show, replay, discard",
            dlq.configure,
            lambda args, session: dlq.run(args, session, consumers()),
        ),
        "outbox": Command("events not yet published: list, release or discard parked rows", _outbox_args, _outbox),
        "keys": Command("bearer API keys: create, list, revoke, expire", _keys_args, _keys),
    }
    if clash := operator_commands.keys() & (commands or {}).keys():
        raise ValueError(f"a service's own command cannot be named {', '.join(sorted(clash))}: the runtime's is")
    for name, command in {**operator_commands, **(commands or {})}.items():
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
        args.keys_action, args.own_command = "create", operator_commands["keys"]
        asyncio.run(_run_own(settings, migrations, args, repository or _no_repository))
    elif args.command in operator_commands:  # the runtime's own tables and Kafka: no repository needed
        asyncio.run(_run_own(settings, migrations, args, repository or _no_repository))
    else:
        if repository is None:
            raise SystemExit(f"{args.command}: this service gave its commands no repository")
        asyncio.run(_run_own(settings, migrations, args, repository))


def _no_repository(executor: db.Executor) -> None:
    return None


async def _run_own(
    settings: ServiceSettings, migrations: Path, args: argparse.Namespace, repository: RepositoryFactory[Any]
) -> None:
    pool = await db.create_pool(settings.database_url, max_size=4)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, settings.service_name: migrations})
        await args.own_command.run(args, Session(settings, pool, repository))
    except PasserelleError as error:  # a refusal with its reason, as HTTP would answer: not a traceback
        raise SystemExit(f"{args.command}: {error.reason}") from None
    except OperatorError as error:  # a person's mistake: the reason, and status 2 as argparse gives
        print(f"{args.command}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except KafkaError as error:  # the operator commands read and write Kafka
        raise SystemExit(
            f"{args.command}: the broker at {settings.kafka_bootstrap} did not answer: {error!r}"
        ) from None
    finally:
        await pool.close()


# -- keys create | list | revoke | expire ----------------------------------------------------------


def _create_key_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--organisation", required=True, help="organisation code, e.g. easy-brussels")
    parser.add_argument(
        "--role",
        required=True,
        choices=ROLES,
        metavar="ROLE",
        help=f"one of {', '.join(ROLES)}. {_acting_as()}; a reader key writes nothing",
    )
    parser.add_argument("--label", default="", help="what the key is for")
    parser.add_argument("--expires", type=_moment, help="when it stops working (ISO 8601; default: never)")


def _acting_as() -> str:
    """'caban, epn-operator, applicant, reader act as partner in events' (from WIRE_ROLE)."""
    by_event: dict[str, list[str]] = {}
    for finer, event in WIRE_ROLE.items():
        by_event.setdefault(event, []).append(finer)
    return "; ".join(f"{', '.join(finer)} act as {event} in events" for event, finer in by_event.items())


def _keys_args(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="keys_action", required=True, metavar="{create,list,revoke,expire}")
    _create_key_args(actions.add_parser("create", help="create a key; prints it once (only its hash is kept)"))
    listing = actions.add_parser("list", help="the keys (ids, never secrets), newest first")
    listing.add_argument("--organisation", help="only this organisation's keys")
    revoke = actions.add_parser("revoke", help="refuse a key from now on (its row stays)")
    revoke.add_argument("key_id", help="the key's id: the part after psk_ (keys list shows them)")
    expire = actions.add_parser("expire", help="set when a key stops working")
    expire.add_argument("key_id", help="the key's id: the part after psk_ (keys list shows them)")
    expire.add_argument(
        "--at", type=_moment, required=True, help="ISO 8601 date and time, e.g. 2027-06-30T23:59:59+02:00"
    )


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add +01:00, +02:00 or Z)")
    return moment


async def _keys(args: argparse.Namespace, session: Session[Any]) -> None:
    pool = session.pool
    if args.keys_action == "create":
        try:
            print(await create_api_key(pool, args.organisation, args.role, args.label, args.expires))
        except ValueError as error:
            raise OperatorError(str(error)) from None
    elif args.keys_action == "list":
        now = datetime.now(UTC)
        for key in await list_api_keys(pool, args.organisation):
            revoked, expires = key["revoked_at"], key["expires_at"]
            if isinstance(revoked, datetime):
                state = f"revoked {revoked:%Y-%m-%dT%H:%M:%SZ}"
            elif isinstance(expires, datetime):
                state = f"{'expired' if expires <= now else 'expires'} {expires:%Y-%m-%dT%H:%M:%SZ}"
            else:
                state = "live"
            print(
                f"{key['key_id']}  {key['organisation']}  {key['role']}  {key['created_at']:%Y-%m-%dT%H:%M:%SZ}"
                f"  {state}  {key['label']}"
            )
    elif args.keys_action == "revoke":
        if not await revoke_api_key(pool, args.key_id):
            raise OperatorError(f"no live key {args.key_id}")
        print(f"revoked {args.key_id}: requests with it are refused from now on", file=sys.stderr)
    else:
        if not await expire_api_key(pool, args.key_id, args.at):
            raise OperatorError(f"no live key {args.key_id}")
        print(f"{args.key_id} stops working at {args.at.isoformat()}", file=sys.stderr)


# -- outbox list | release | discard --------------------------------------------------------------


def _outbox_args(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="outbox_action", required=True, metavar="{list,release,discard}")
    listing = actions.add_parser("list", help="unpublished rows: parked, held back behind a parked row, or waiting")
    listing.add_argument("--parked", action="store_true", help="only the parked rows")
    listing.add_argument("--limit", type=dlq.positive, default=100, help="rows shown at most (default %(default)s)")
    listing.add_argument("--json", action="store_true", help="one JSON object, for machines")
    release = actions.add_parser(
        "release", help="let the relay try parked rows again, once the cause is fixed (e.g. the broker's limit raised)"
    )
    release.add_argument("ids", nargs="*", type=_row_id, metavar="ID", help="outbox row ids, as list shows them")
    release.add_argument("--all-parked", action="store_true", help="every parked row")
    release.add_argument("--operator", help="who acts (default: $USER)")
    discard = actions.add_parser(
        "discard", help="remove parked rows for good (kept whole in the audit): their aggregates' later events flow"
    )
    discard.add_argument("ids", nargs="+", type=_row_id, metavar="ID", help="outbox row ids, as list shows them")
    discard.add_argument("--reason-text", required=True, help="why the event is given up (kept in the audit)")
    discard.add_argument("--operator", help="who acts (default: $USER)")


def _row_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an outbox row id (a number, as list shows it)") from None


async def _outbox(args: argparse.Namespace, session: Session[Any]) -> None:
    if args.outbox_action == "list":
        await _outbox_list(args, session.pool)
        return
    operator = dlq.operator_name(args.operator)
    if args.outbox_action == "release":
        if bool(args.ids) == args.all_parked:
            raise OperatorError("name the rows to release by id, or give --all-parked (not both)")
        ids = args.ids or None
        action, change = "outbox-release", outbox_faults.release
    else:
        ids = args.ids
        if not args.reason_text.strip():
            raise OperatorError("--reason-text says why the event is given up: it cannot be empty")
        action, change = "outbox-discard", outbox_faults.discard
    async with session.pool.acquire() as conn, conn.transaction():
        rows = await outbox_faults.lock_rows(conn, ids)
        if ids is not None:
            _check_parked(ids, rows)
        await change(conn, [r["id"] for r in rows])
        lines = []
        for row in rows:
            entry = AuditEntry(
                operator=operator,
                action=action,
                target=f"outbox:{row['id']}",
                topic=row["topic"],
                partition=None,
                offset=None,
                event_id=str(row["event_id"]),
                outcome="done",
                reason=args.reason_text.strip() if action == "outbox-discard" else None,
                detail=_row_detail(row, whole=action == "outbox-discard"),
            )
            lines.append(entry.line(await dlq.audit(conn, entry)))
    for line in lines:
        print(line)
    verb = "released: the relay tries them now" if action == "outbox-release" else "discarded"
    print(f"{len(rows)} outbox rows {verb}", file=sys.stderr)


def _check_parked(ids: list[int], rows: list[asyncpg.Record]) -> None:
    found = {r["id"]: r for r in rows}
    problems = []
    for row_id in dict.fromkeys(ids):
        row = found.get(row_id)
        if row is None:
            problems.append(f"no outbox row {row_id} (published rows are deleted after a while)")
        elif row["published_at"] is not None:
            problems.append(f"outbox row {row_id} was published at {row['published_at'].isoformat()}")
        elif row["parked_at"] is None:
            problems.append(f"outbox row {row_id} is not parked: the relay publishes or retries it on its own")
    if problems:
        raise OperatorError("\n".join(problems))


def _row_detail(row: asyncpg.Record, *, whole: bool) -> dict[str, Any]:
    """What the row was before the operator acted (all of it, payload included, when it goes)."""
    detail = {
        "message_key": row["message_key"],
        "event_type": row["event_type"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "created_at": row["created_at"],
        "parked_at": row["parked_at"],
    }
    if whole:
        detail["payload"] = row["payload"]
    return dict(to_jsonable_python(detail))


async def _outbox_list(args: argparse.Namespace, pool: asyncpg.Pool) -> None:
    rows, total = await outbox_faults.unpublished_rows(pool, parked_only=args.parked, limit=args.limit)
    if args.json:
        shown = [
            {**_row_detail(r, whole=False), "id": r["id"], "event_id": str(r["event_id"]), "topic": r["topic"],
             "state": _state(r)}
            for r in rows
        ]  # fmt: skip
        print(json.dumps({"rows": shown, "total": total}, ensure_ascii=False))
        return
    for r in rows:
        error = " ".join((r["last_error"] or "").split())
        error = error if len(error) <= dlq.ERROR_SHOWN else error[: dlq.ERROR_SHOWN - 1] + "…"
        print(
            "  ".join(
                [str(r["id"]), _state(r), f"{r['created_at']:%Y-%m-%dT%H:%M:%SZ}", r["topic"], r["message_key"],
                 r["event_type"], f"attempts={r['attempts']}", error]
            )
        )  # fmt: skip
    print(f"{len(rows)} of {total} unpublished rows shown", file=sys.stderr)


def _state(row: asyncpg.Record) -> str:
    if row["parked_at"] is not None:
        return "parked"
    return "held-back" if row["held_back"] else "waiting"


async def _migrate(settings: ServiceSettings, migrations: Path) -> None:
    pool = await db.create_pool(settings.database_url, max_size=2)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, settings.service_name: migrations})
    finally:
        await pool.close()
