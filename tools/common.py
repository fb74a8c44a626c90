"""What the local tools behind ``scripts/*`` share: where things are, the ports, logging, and the
few process helpers that both the infrastructure (:mod:`tools.infra`) and the containers
(:mod:`tools.containers`) need.

Everything is derived from this file's location and from the environment, read once per command
(each command is one process), so the tools work from any working directory and on any machine:
no absolute path is baked in. The variables are those ``scripts/lib/common.sh`` exports, with the
same defaults, so ``python -m tools.infra`` behaves the same with or without the wrapper.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NoReturn

import typer

ROOT = Path(__file__).resolve().parent.parent


# --- messages -------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[passerelle] {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    log(f"WARNING: {message}")


def die(message: str) -> NoReturn:
    log(f"ERROR: {message}")
    raise SystemExit(1)


def tail(path: Path, lines: int = 30) -> None:
    """The end of a log, on stderr: what a failure shows before it names the whole log."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return
    for line in text[-lines:]:
        print(line, file=sys.stderr)


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __str__(self) -> str:
        return f"{time.monotonic() - self.start:.3f}s"


def cli(help_text: str | None, *, no_args_is_help: bool = True) -> typer.Typer:
    """A command-line app the way every tool here wants one: no shell-completion installers
    (the entry points are bash wrappers), plain tracebacks for real bugs, help on no arguments."""
    return typer.Typer(
        help=help_text,
        add_completion=False,
        no_args_is_help=no_args_is_help,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # click's plain help: greppable, and it rewraps paragraphs
        context_settings={"help_option_names": ["-h", "--help"]},
    )


# --- settings -------------------------------------------------------------------------------------


def _env(name: str, default: str) -> str:
    # Like the shell's ${VAR:=default}: empty counts as unset.
    return os.environ.get(name) or default


def _port(name: str, default: int) -> int:
    value = _env(name, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        die(f"{name}={value!r} is not a TCP port")
    return int(value)


# Local state (data, logs, pids). Ignored by git (.run/ in .gitignore).
RUN_DIR = Path(_env("PASSERELLE_RUN_DIR", str(ROOT / ".run"))).absolute()

# Everything binds to loopback only: this is a developer/test stack, not a service.
HOST = "127.0.0.1"
KAFKA_PORT = _port("PASSERELLE_KAFKA_PORT", 19092)
KAFKA_CONTROLLER_PORT = _port("PASSERELLE_KAFKA_CONTROLLER_PORT", 19093)
# Broker to broker (mutual TLS); on one node only the broker itself connects there.
KAFKA_INTERNAL_PORT = _port("PASSERELLE_KAFKA_INTERNAL_PORT", 19094)
PG_PORT = _port("PASSERELLE_PG_PORT", 15432)

# Kafka broker jars fetched by Maven (scripts/install).
KAFKA_LIBS = ROOT / "deploy" / "kafka" / "target" / "libs"


def kafka_jars_present() -> bool:
    """The broker jar is what matters; the rest come with it."""
    return any(KAFKA_LIBS.glob("kafka_2.13-*.jar"))


def fetch_kafka_jars() -> None:
    """What scripts/install does, for a build that finds the jars missing."""
    log(f"kafka: fetching the broker jars with Maven into {KAFKA_LIBS}")
    mvn = ["mvn", "-B", "-q", "dependency:copy-dependencies", "-DoutputDirectory=target/libs", "-DincludeScope=runtime"]
    subprocess.run(mvn, cwd=KAFKA_LIBS.parent.parent, check=True)
    if not kafka_jars_present():
        die(f"kafka: Maven finished but no kafka_2.13 jar in {KAFKA_LIBS}")


# --- users ----------------------------------------------------------------------------------------


def is_root() -> bool:
    return os.geteuid() == 0


def current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def need_root_or_say(what: str, how: str = "") -> None:
    """Succeed when root; otherwise explain what needs root and how to do it by hand, then exit.
    Used before anything that needs apt or another user."""
    if is_root():
        return
    log(f"ERROR: {what} needs root.")
    if how:
        log(f"Run as root, or do it yourself:\n    {how}")
    raise SystemExit(1)


def chown(path: Path, user: str) -> None:
    """Like ``chown user: path``: the user and their login group."""
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


# --- files ----------------------------------------------------------------------------------------


def write_if_changed(path: Path, text: str) -> None:
    """Leave a file untouched (and its mtime) when it already has exactly this content."""
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    write_atomically(path, text)


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of it."""
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


@contextmanager
def locked(path: Path, wait_s: float, busy: str, waiting: str | None = None) -> Iterator[None]:
    """Hold an exclusive flock on PATH: concurrent commands (two test runs launched at once)
    run one after the other. flock and not a pid file: the kernel drops it when we die, and the
    shell versions of these commands used the same files. Python opens files close-on-exec, so a
    daemon started meanwhile does not inherit the lock and hold it forever."""
    with open(path, "w") as handle:
        deadline = time.monotonic() + wait_s
        said = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waiting and not said:
                    log(waiting)
                    said = True
                if time.monotonic() > deadline:
                    die(busy)
                time.sleep(0.2)
        yield


# --- processes ------------------------------------------------------------------------------------


def port_in_use(port: int) -> bool:
    """Something accepts TCP connections on HOST:PORT."""
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (one of our own children that died and was not
    waited for yet still answers kill -0)."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def live_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in PID_FILE, only if that process is alive and really ours: its command line
    contains MARKER (pids get reused)."""
    try:
        text = pid_file.read_text().strip()
    except OSError:
        return None
    if not text.isdigit() or not alive(pid := int(text)):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    return pid if marker in cmdline else None


def spawn(argv: Sequence[str], log_file: Path) -> subprocess.Popen[bytes]:
    """Start a daemon: its own session (Ctrl-C in the calling terminal does not reach it), stdin
    from /dev/null, output appended to LOG_FILE, no other descriptor inherited (a caller that
    captures our output must not wait for the daemon to close the pipe)."""
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def terminate(pid: int, name: str, timeout_s: float) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it does not end in time."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > deadline:
            warn(f"{name}: still alive after {timeout_s:.0f}s, sending SIGKILL")
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.1)
