"""The local PostgreSQL cluster: Debian's server binaries, a cluster of our own (initdb), on
loopback, with the application role and the service databases.

PostgreSQL refuses to run as root. As root we run it as the ``postgres`` system user (created by
Debian's package); as anyone else we run it as ourselves. That user must reach the cluster's
directory through every parent directory, and a new user's clone often sits where it cannot: in
root's home, mode 0700 on these machines. So, as root, the cluster lives in
``$PASSERELLE_RUN_DIR/postgres`` when ``postgres`` can reach that directory, and otherwise in
``/var/lib/passerelle/<hash of the run directory>/`` (owned by ``postgres``, mode 0700; Debian
keeps its own clusters in /var/lib/postgresql the same way), with ``.run/postgres`` a symlink to
it, so ``status``, ``stop`` and ``reset`` find it and ``.run/postgres/postgres.log`` still works.
A file ``run-dir`` in it names the checkout it belongs to.

Why not the alternatives: loosening the permissions of the user's home (or ACLs on it) changes
what the user chose; running the server as root is refused by PostgreSQL; a non-root account
has the same problem as ``postgres``; /tmp is cleaned at boot and the socket path must stay
short. ``reset`` removes the directory in /var/lib/passerelle and the symlink, so nothing is left
outside the checkout; a checkout deleted without a reset leaves its directory behind, and the
next start names it.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from tools.common import (
    HOST,
    PG_PORT,
    RUN_DIR,
    Stopwatch,
    chown,
    current_user,
    die,
    is_root,
    log,
    need_root_or_say,
    port_in_use,
    tail,
    warn,
)

READY_TIMEOUT_S = 60

# Application role and databases.
ROLE = "passerelle"
PASSWORD = "passerelle"  # noqa: S105 - the local stack's, on loopback; documented in the README
DATABASES = (
    "passerelle_actions",
    "passerelle_dashboard",
    "passerelle_equipment",
    "passerelle_funding",
    "passerelle_gateway",
    "passerelle_notifications",
    "passerelle_test",
)
DATABASE_URL_BASE = f"postgresql://{ROLE}:{PASSWORD}@{HOST}:{PG_PORT}"

LINK = RUN_DIR / "postgres"
# Where clusters go when the server's OS user cannot reach the run directory.
SHARED_ROOT = Path("/var/lib/passerelle")
OWNER_FILE = "run-dir"


def bin_dir() -> Path:
    """PASSERELLE_PG_BIN, else PostgreSQL 15 (what we target), else the newest installed major."""
    if configured := os.environ.get("PASSERELLE_PG_BIN"):
        return Path(configured)
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "postgres").is_file():
        return preferred
    found = [d / "bin" for d in Path("/usr/lib/postgresql").glob("*") if os.access(d / "bin" / "postgres", os.X_OK)]
    if not found:
        die("no PostgreSQL server found in /usr/lib/postgresql/*/bin; run scripts/install")

    def version(path: Path) -> list[int]:
        return [int(part) for part in re.findall(r"\d+", path.parent.name)]

    return max(found, key=version)


def os_user() -> str:
    """The account the server runs as: `postgres` for root, the caller otherwise."""
    if not is_root():
        return current_user()
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        die("system user 'postgres' missing; install Debian's postgresql package (scripts/install)")
    return "postgres"


def _exists(path: Path) -> bool:
    """Path.exists() that says no, rather than raising, for a path we may not look into."""
    try:
        return path.exists()
    except PermissionError:
        return False


def shared_dir() -> Path:
    """This run directory's place under SHARED_ROOT: a hash of its real path, so two checkouts
    (or two run directories of one checkout) never share a cluster."""
    digest = hashlib.sha256(str(RUN_DIR.resolve()).encode()).hexdigest()[:12]
    return SHARED_ROOT / digest


class Cluster:
    def __init__(self) -> None:
        self.bin = bin_dir()
        # Where the cluster is now: the symlink's target, or .run/postgres itself.
        self.dir = LINK.resolve() if LINK.is_symlink() else LINK
        self._user: str | None = None

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log_file(self) -> Path:
        return self.dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        # The unix socket lives in the cluster's directory (owned by the server's OS user, mode
        # 0700), so only that user and root can use the passwordless admin connection.
        return self.dir

    @property
    def user(self) -> str:
        return self.need_user()

    def need_user(self) -> str:
        """The server's OS user; as another user than the caller, only root may act for it."""
        if self._user is None:
            self._user = os_user()
            if self._user != current_user():
                need_root_or_say(f"running PostgreSQL as '{self._user}'")
        return self._user

    # --- running things as the server's user -------------------------------------------------

    def tool(self, name: str, *args: object) -> list[str]:
        """The command line of one of the server's programs (pg_ctl, psql, initdb ...)."""
        return [str(self.bin / name), *map(str, args)]

    def as_pg(self, *argv: str, cwd: Path | None = None, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run a command as the server's OS user, from a directory that user can read (pg tools
        complain when they cannot access the working directory, e.g. /root)."""
        command = list(argv)
        if is_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        if cwd is None:
            cwd = self.dir if _exists(self.dir) else Path("/")
        return subprocess.run(command, check=False, cwd=cwd, **kwargs)

    def can_reach(self, path: Path, *tests: str) -> bool:
        """Whether the server's OS user passes `test` on PATH (every parent must let it through)."""
        flags = [arg for flag in tests for arg in ("-a", flag, str(path))][1:]
        return self.as_pg("test", *flags, cwd=Path("/")).returncode == 0

    def admin_psql(self, sql: str) -> bool:
        """Run SQL over the unix socket as the bootstrap superuser."""
        psql = self.tool("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir, "-p", PG_PORT)
        return self.as_pg(*psql, "-U", "postgres", "-d", "postgres", input=sql, text=True).returncode == 0

    # --- state ---------------------------------------------------------------------------------

    def running(self) -> bool:
        if not _exists(self.data / "PG_VERSION"):
            return False
        pg_ctl = self.tool("pg_ctl", "status", "-D", self.data)
        return self.as_pg(*pg_ctl, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def pid(self) -> str:
        try:
            return (self.data / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return "-"

    # --- where the cluster lives ---------------------------------------------------------------

    def place(self) -> None:
        """Decide where the cluster lives, before it is created or started (see the module doc),
        and make that directory the server's."""
        if LINK.is_symlink():
            self.dir = LINK.resolve()
        elif self.user == current_user() or self.can_reach(RUN_DIR, "-x"):
            self.dir = LINK
        else:
            self._move_out()
        self.dir.mkdir(parents=True, exist_ok=True)
        chown(self.dir, self.user)
        self.dir.chmod(0o700)
        if self.dir != LINK:
            (self.dir / OWNER_FILE).write_text(f"{RUN_DIR}\n")
        # The server's OS user must be able to reach it through every parent directory.
        if not self.can_reach(self.dir, "-w", "-x"):
            die(f"postgres: user '{self.user}' cannot write {self.dir} (check parent directory permissions)")

    def _move_out(self) -> None:
        target = shared_dir()
        log(f"postgres: user '{self.user}' cannot reach {RUN_DIR}; the cluster goes to {target} ({LINK} links there)")
        if _exists(target):
            # Left by a run directory deleted without `reset` and made again at the same path.
            previous = Cluster()
            previous.dir = target
            if previous.running():
                stop = f"runuser -u postgres -- {self.bin}/pg_ctl stop -D {previous.data}"
                die(f"postgres: a server left by a deleted {RUN_DIR} still runs from {target}; stop it: {stop}")
            log(f"postgres: deleting {target}, left by a deleted {RUN_DIR}")
            shutil.rmtree(target)
        for owner in SHARED_ROOT.glob(f"*/{OWNER_FILE}"):
            run_dir = Path(owner.read_text().strip())
            link = run_dir / "postgres"
            if not (link.is_symlink() and link.resolve() == owner.parent):
                warn(f"postgres: {owner.parent} belongs to {run_dir}, which is gone; delete it: rm -rf {owner.parent}")
        SHARED_ROOT.mkdir(mode=0o755, exist_ok=True)
        if _exists(LINK):
            # A cluster (or the leftover of a failed start) the server cannot use where it is:
            # PostgreSQL's data directory can move while the server is down.
            log(f"postgres: moving {LINK} to {target}")
            shutil.move(LINK, target)
        LINK.symlink_to(target)
        self.dir = target

    # --- commands ------------------------------------------------------------------------------

    def start(self) -> bool:
        """True if this call started the cluster, False if it was running already."""
        watch = Stopwatch()
        if self.running():
            # passerelle.conf is rewritten only at start, so it describes the running server.
            conf = (self.data / "passerelle.conf").read_text().splitlines()
            if f"port = {PG_PORT}" not in conf:
                current = next((line for line in conf if line.startswith("port")), "?")
                die(
                    f"postgres: already running (pid {self.pid()}) with another port ({current}); "
                    "run: scripts/infra stop postgres"
                )
            log(f"postgres: already running (pid {self.pid()}, port {PG_PORT})")
            return False
        if port_in_use(PG_PORT):
            die(f"postgres: port {PG_PORT} on {HOST} is used by another process; set PASSERELLE_PG_PORT")
        self.place()
        # The socket path (dir + /.s.PGSQL.PORT) must fit in sockaddr_un (107 bytes).
        if len(str(self.socket_dir)) + 20 >= 107:
            die(f"postgres: socket dir path too long: {self.socket_dir} (set PASSERELLE_RUN_DIR shorter)")

        if not (self.data / "PG_VERSION").is_file():
            self.init()
        data_version = (self.data / "PG_VERSION").read_text().strip()
        banner = subprocess.run(self.tool("postgres", "--version"), check=True, capture_output=True, text=True).stdout
        bin_version = m.group(1) if (m := re.search(r" (\d+)\.", banner)) else "?"
        if data_version != bin_version:
            die(
                f"postgres: data dir is version {data_version} but binaries are {bin_version} ({self.bin}); "
                "run: scripts/infra reset postgres"
            )
        self.write_conf()

        log(f"postgres: starting on {HOST}:{PG_PORT} (log: {self.log_file})")
        # pg_ctl appends the server log to the log file (made first so the OS user may write it).
        self.log_file.touch()
        chown(self.log_file, self.user)
        pg_ctl = self.tool("pg_ctl", "start", "-D", self.data, "-l", self.log_file, "-w", "-t", READY_TIMEOUT_S)
        if self.as_pg(*pg_ctl, stdout=subprocess.DEVNULL).returncode != 0:
            tail(self.log_file)
            die(f"postgres: failed to start (log: {self.log_file})")
        # Ready means accepting TCP connections on the address the services use.
        deadline = time.monotonic() + READY_TIMEOUT_S
        while subprocess.run(self.tool("pg_isready", "-q", "-h", HOST, "-p", PG_PORT), check=False).returncode != 0:
            if time.monotonic() > deadline:
                tail(self.log_file)
                die(f"postgres: not ready after {READY_TIMEOUT_S}s (log: {self.log_file})")
            time.sleep(0.2)
        if not self.provision():
            die(f"postgres: creating role/databases failed (log: {self.log_file})")
        log(f"postgres: ready in {watch} (pid {self.pid()}, databases: {' '.join(DATABASES)})")
        return True

    def init(self) -> None:
        if _exists(self.data) and any(self.data.iterdir()):
            die(f"{self.data} exists but has no PG_VERSION (failed initdb?); run: scripts/infra reset postgres")
        log(f"postgres: initdb in {self.data}")
        # Passwordless admin only over the (private) socket for the superuser; the application
        # role authenticates with a password over TCP on loopback.
        initdb = self.tool("initdb", "-D", self.data, "-U", "postgres", "--encoding=UTF8", "--locale=C.UTF-8")
        with open(self.log_file, "ab") as out:
            done = self.as_pg(*initdb, "--auth-local=trust", "--auth-host=scram-sha-256", stdout=out, stderr=out)
        if done.returncode != 0:
            tail(self.log_file)
            die(f"initdb failed (log: {self.log_file})")
        (self.data / "pg_hba.conf").write_text(
            "# Generated by scripts/infra at initdb.\n"
            "# TYPE  DATABASE  USER              ADDRESS        METHOD\n"
            "local   all       postgres                         trust\n"
            f"host    all       {ROLE}        127.0.0.1/32   scram-sha-256\n"
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'passerelle.conf'\n")
        for name in ("pg_hba.conf", "postgresql.conf"):
            chown(self.data / name, self.user)

    def write_conf(self) -> None:
        """Settings we own, regenerated on every start so port changes in the environment apply.
        postgresql.conf includes this file (added once at initdb)."""
        conf = self.data / "passerelle.conf"
        conf.write_text(
            "# Generated by scripts/infra on every start; edits are overwritten.\n"
            f"listen_addresses = '{HOST}'\n"
            f"port = {PG_PORT}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "max_connections = 200\n"
            # benchmarks.suite measures latency from commit to commit with the server's own clock.
            "track_commit_timestamp = on\n"
        )
        chown(conf, self.user)

    def provision(self) -> bool:
        """The role and every database, each created only when missing."""
        databases = ",".join(f"'{d}'" for d in DATABASES)
        return self.admin_psql(f"""\
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
    CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'
      NOSUPERUSER NOCREATEROLE;
  END IF;
END
$$;
-- CREATEDB: the tests give every test its own fresh databases.
ALTER ROLE {ROLE} CREATEDB;
SELECT format('CREATE DATABASE %I OWNER %I', d, '{ROLE}')
  FROM unnest(ARRAY[{databases}]) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\\gexec
""")  # noqa: S608 - this module's constants, not input

    def stop(self) -> None:
        if not self.running():
            log("postgres: not running")
            return
        log(f"postgres: stopping (pid {self.pid()})")
        # fast = roll back open transactions and disconnect clients, then a clean shutdown.
        pg_ctl = self.tool("pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w", "-t", 60)
        if self.as_pg(*pg_ctl, stdout=subprocess.DEVNULL).returncode != 0:
            die(f"postgres: pg_ctl stop failed (log: {self.log_file})")
        log("postgres: stopped")

    def status(self) -> bool:
        running = self.running()
        state, pid = ("running", self.pid()) if running else ("stopped", "-")
        print(f"postgres  {state}  pid={pid}  port={PG_PORT}  log={self.log_file}")
        return running

    def reset(self) -> None:
        self.stop()
        if LINK.is_symlink():
            # Nothing of this checkout stays outside it; the next start places the cluster anew.
            log(f"postgres: deleting {self.dir} and the link {LINK}")
            shutil.rmtree(self.dir, ignore_errors=True)
            LINK.unlink()
            return
        log(f"postgres: deleting {self.data}")
        shutil.rmtree(self.data, ignore_errors=True)
