"""``python -m services.access``: the principals, the ACLs and the partner kits of a deployment.

Run as the deployment's admin (``PASSERELLE_KAFKA_*``, see ``services.runtime.kafka_access``),
for its topic prefix (``PASSERELLE_TOPIC_PREFIX``):

    services bootstrap --credentials DIR     the services' principals and ACLs (idempotent);
                                             a new principal's password goes to DIR/<service>.password
    partners onboard CODE --topics T… --out DIR [--bootstrap HOST:PORT] [--docs-url URL]
    partners rotate CODE --out DIR [--bootstrap …]   a new password, and the kit again
    partners offboard CODE                   the credential and every ACL of the partner, gone
    partners list                            the partners and what they may read
    pki --dir DIR --host H… [--admin-password] [--mounted-at PATH] [--public DIR] [--owner UID]
                                             the CA and the broker's certificate, the admin's
                                             password and the broker's security.properties (for a
                                             container that mounts DIR at PATH); ca.crt also to DIR

Every change is printed, one line each: the ACLs added and removed, never a password.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from services.runtime.kafka_access import KafkaAccess, KafkaAccessError

from . import kit as kits
from .admin import Admin, AdminError
from .broker import security_properties
from .pki import Pki, ensure_password, ensure_pki, generate_password
from .principals import (
    PARTNER_PREFIX,
    Grant,
    partner_grants,
    partner_principal,
    partner_topics,
    service_grants,
    service_principal,
    services,
)


def _say(changes: tuple[set[Grant], set[Grant]]) -> None:
    added, removed = changes
    for grant in sorted(added):
        print(f"  + {grant}")
    for grant in sorted(removed):
        print(f"  - {grant}")


def _write_secret(path: Path, secret: str, owner: int | None = None) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    if owner is not None:
        _chown(path, owner)


def _chown(path: Path, owner: int) -> None:
    """Hand a file (and the directory holding it) to the user of the container that reads it."""
    os.chown(path, owner, owner)
    os.chown(path.parent, owner, owner)


def broker_secrets(
    directory: Path,
    hosts: list[str],
    *,
    admin_password: bool = True,
    mounted_at: str | None = None,
    public: Path | None = None,
    owner: int | None = None,
) -> Pki:
    """What a broker container mounts (idempotent): the PKI, the admin's password, and its
    security.properties with the paths it has where it mounts ``directory`` (``mounted_at``)."""
    made = ensure_pki(directory, hosts=hosts)
    if admin_password:
        ensure_password(directory / "admin.password")
    if mounted_at:
        (directory / "security.properties").write_text(security_properties(Pki.at(Path(mounted_at))))
    if public:
        public.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made.ca_cert, public / "ca.crt")
        (public / "ca.crt").chmod(0o644)
    if owner is not None:
        for path in sorted(directory.iterdir()):
            _chown(path, owner)
    return made


def pki(args: argparse.Namespace) -> int:
    made = broker_secrets(
        Path(args.dir),
        args.host,
        admin_password=args.admin_password,
        mounted_at=args.mounted_at,
        public=Path(args.public) if args.public else None,
        owner=args.owner,
    )
    print(f"CA {made.ca_cert}, broker certificate {made.broker_cert}")
    return 0


def bootstrap_services(
    admin: Admin,
    prefix: str,
    credentials: Path,
    *,
    rotate: bool = False,
    owner: int | None = None,
    per_service: bool = False,
) -> list[str]:
    """Every service's principal and ACLs; returns the principals given a (new) password.

    The passwords go to ``credentials/<service>.password``, or with ``per_service`` to
    ``credentials/<service>/password`` (a directory each: in compose, one volume per service, so
    that no service can read another's)."""
    existing = admin.users()
    renewed = []
    for service in services():
        who = service_principal(service, prefix)
        secret_file = credentials / service / "password" if per_service else credentials / f"{service}.password"
        if rotate or who not in existing or not secret_file.is_file():
            password = generate_password()
            admin.set_password(who, password)
            _write_secret(secret_file, password, owner)
            renewed.append(who)
        print(f"{who}: password in {secret_file}")
        _say(admin.converge(who, service_grants(service, prefix)))
    return renewed


def retire(admin: Admin, principal: str) -> int:
    """Leave a principal unusable: no ACL, a password nobody knows (not deleted: see
    ``Admin.lock_out``); returns the ACLs removed."""
    held = admin.grants(principal)
    admin.remove(held)
    if principal in admin.users():
        admin.lock_out(principal)
    return len(held)


def retire_services(admin: Admin, prefix: str) -> None:
    """Every service principal of a deployment (a test's, a stack taken down for good)."""
    for service in services():
        retire(admin, service_principal(service, prefix))


def _granted(admin: Admin, code: str, prefix: str) -> list[str]:
    who = partner_principal(code, prefix)
    return sorted(
        g.resource_name.removeprefix(prefix)
        for g in admin.grants(who)
        if g.resource_type == "topic" and g.operation == "read"
    )


def onboard(admin: Admin, access: KafkaAccess, args: argparse.Namespace, prefix: str) -> int:
    who = partner_principal(args.code, prefix)
    if who in admin.users() and admin.grants(who):
        print(f"{who} is already onboarded: `partners rotate` issues a new password and kit", file=sys.stderr)
        return 1
    grants = partner_grants(args.code, args.topics, prefix)  # refuses a topic that is not a partner topic
    if not access.ca_file:  # before anything is made: a partner without its kit cannot connect
        print("no CA file (PASSERELLE_KAFKA_CA_FILE): cannot write a kit", file=sys.stderr)
        return 1
    password = generate_password()
    admin.set_password(who, password)
    print(f"{who}: created")
    _say(admin.converge(who, grants))
    return _write_kit(access, args, prefix, password, args.topics)


def _write_kit(access: KafkaAccess, args: argparse.Namespace, prefix: str, password: str, topics: list[str]) -> int:
    kit = kits.Kit.for_partner(
        args.code,
        password,
        bootstrap=args.bootstrap or access.bootstrap,
        topics=topics,
        prefix=prefix,
        ca_cert=Path(access.ca_file or ""),  # checked by the callers, before anything was made
        docs_url=args.docs_url,
    )
    print(f"kit written to {kits.write(kit, Path(args.out))} (it holds the password: hand it over as one)")
    return 0


def rotate(admin: Admin, access: KafkaAccess, args: argparse.Namespace, prefix: str) -> int:
    who = partner_principal(args.code, prefix)
    topics = _granted(admin, args.code, prefix)
    if who not in admin.users() or not topics:  # an offboarded partner keeps a locked credential
        print(f"{who} is not onboarded (offboarded partners come back with `partners onboard`)", file=sys.stderr)
        return 1
    if not access.ca_file:
        print("no CA file (PASSERELLE_KAFKA_CA_FILE): cannot write a kit", file=sys.stderr)
        return 1
    password = generate_password()
    admin.set_password(who, password)
    print(f"{who}: new password (the old one no longer logs in)")
    return _write_kit(access, args, prefix, password, topics)


def offboard(admin: Admin, args: argparse.Namespace, prefix: str) -> int:
    who = partner_principal(args.code, prefix)
    _say((set(), admin.grants(who)))
    removed = retire(admin, who)  # not deleted: see Admin.lock_out
    print(f"{who}: locked out (a password nobody knows); {removed} ACLs removed")
    return 0


def list_partners(admin: Admin, prefix: str) -> int:
    """The onboarded partners: those with a credential and at least one ACL (an offboarded one
    keeps a credential nobody can use, see ``Admin.lock_out``)."""
    users = sorted(u for u in admin.users() if u.startswith(prefix + PARTNER_PREFIX) and admin.grants(u))
    for user in users:
        code = user.removeprefix(prefix + PARTNER_PREFIX)
        print(f"{code}  {user}  {', '.join(_granted(admin, code, prefix)) or '(no topic)'}")
    if not users:
        print("no partner onboarded", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.access", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    svc = sub.add_parser("services", help="the services' principals and ACLs").add_subparsers(
        dest="action", required=True
    )
    boot = svc.add_parser("bootstrap", help="create or update every service's principal and ACLs (idempotent)")
    boot.add_argument("--credentials", required=True, help="directory of the services' password files")
    boot.add_argument("--rotate", action="store_true", help="new passwords for every service")
    boot.add_argument("--owner", type=int, help="uid to give the password files (the services' containers')")
    boot.add_argument("--per-service", action="store_true", help="DIR/<service>/password: one directory each")

    partners = sub.add_parser("partners", help="partners' principals, ACLs and kits").add_subparsers(
        dest="action", required=True
    )
    on = partners.add_parser("onboard", help="a new partner: its credential, its ACLs, its kit")
    on.add_argument("code")
    on.add_argument("--topics", nargs="+", required=True, choices=partner_topics(), metavar="TOPIC")
    rot = partners.add_parser("rotate", help="a new password, and the kit again")
    rot.add_argument("code")
    for command in (on, rot):
        command.add_argument("--out", required=True, help="the kit goes to OUT/<code>/")
        command.add_argument("--bootstrap", help="the address partners connect to (default: ours)")
        command.add_argument("--docs-url", default="", help="where the documentation is published")
    off = partners.add_parser("offboard", help="remove a partner's credential and ACLs")
    off.add_argument("code")
    partners.add_parser("list", help="the partners and what they may read")

    pki = sub.add_parser("pki", help="the CA and the broker's certificate (idempotent)")
    pki.add_argument("--dir", required=True)
    pki.add_argument("--host", action="append", required=True, help="a name or address of the broker (repeat)")
    pki.add_argument("--admin-password", action="store_true", help="make DIR/admin.password if missing")
    pki.add_argument("--mounted-at", help="write DIR/security.properties for a broker that mounts DIR there")
    pki.add_argument("--public", help="copy ca.crt (only) into this directory, for the clients")
    pki.add_argument("--owner", type=int, help="uid to give the files (the broker container's)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "pki":
        return pki(args)
    prefix = os.environ.get("PASSERELLE_TOPIC_PREFIX", "")
    try:
        access = KafkaAccess.from_environment()
        admin = Admin(access)
        if args.command == "services":
            bootstrap_services(
                admin,
                prefix,
                Path(args.credentials),
                rotate=args.rotate,
                owner=args.owner,
                per_service=args.per_service,
            )
            return 0
        if args.action == "onboard":
            return onboard(admin, access, args, prefix)
        if args.action == "rotate":
            return rotate(admin, access, args, prefix)
        if args.action == "offboard":
            return offboard(admin, args, prefix)
        return list_partners(admin, prefix)
    except (AdminError, KafkaAccessError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
