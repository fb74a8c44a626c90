"""Container images of Passerelle, built and run with Debian's podman, everything project-local:
podman's storage, configuration, API socket and build scratch live under
$PASSERELLE_RUN_DIR/containers (default <repo>/.run/containers); nothing is configured globally.

Images are tagged localhost/passerelle-<name>:<hash> and :latest; <hash> is a sha256 over the
image's inputs (Containerfile, the files it copies, the base image id). See deploy/README.md.
Environment: PASSERELLE_BASE_IMAGE (use that image as the base instead of debootstrapping one),
PASSERELLE_APT_SOURCES (apt lines for the images, '|'-separated; default: from the host's apt),
PASSERELLE_DEBIAN_SUITE (bookworm).
"""

from __future__ import annotations

import enum
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from tools import images, podman
from tools.common import cli, die, locked, log, need_root_or_say

# podman and its helpers. netavark + aardvark-dns give compose networks their DNS (service
# names); catatonit is podman's --init; runc because Debian's crun refuses this kind of host's
# hybrid cgroup v1/v2 layout.
PACKAGES = (
    "podman", "runc", "fuse-overlayfs", "slirp4netns", "uidmap", "debootstrap", "iptables",
    "netavark", "aardvark-dns", "catatonit", "podman-compose",
)  # fmt: skip

app = cli(__doc__)
service_app = cli("The Docker-compatible API socket (testcontainers, compose).")
app.add_typer(service_app, name="service")


@app.callback()
def configure() -> None:
    # Every podman started from here reads only the project's configuration.
    os.environ.update(podman.ENVIRONMENT)


@app.command()
def install() -> None:
    """apt-get install podman & co (root), write the config."""
    listed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\\n", *PACKAGES], check=False, capture_output=True, text=True
    ).stdout.splitlines()
    present = {line.split()[0] for line in listed if line.endswith(" install ok installed")}
    missing = [p for p in PACKAGES if p not in present]
    if missing:
        need_root_or_say(
            f"installing {' '.join(missing)}",
            f"sudo apt-get update && sudo apt-get install -y --no-install-recommends {' '.join(missing)}",
        )
        log(f"containers: installing {' '.join(missing)}")
        apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=apt, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=apt, check=True)
    else:
        log(f"containers: packages present ({' '.join(PACKAGES)})")
    podman.write_config()
    log(f"containers: configuration in {podman.DIR} (next: scripts/containers build)")


@app.command()
def env() -> None:
    """Print `export ...` lines: eval "$(scripts/containers env)"."""
    if podman.installed():
        podman.write_config()
    for name, value in podman.ENVIRONMENT.items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"export DOCKER_HOST={shlex.quote(f'unix://{podman.SOCKET}')}")
    # Ryuk (the reaper container) needs the socket mounted into a container: not with podman.
    print("export TESTCONTAINERS_RYUK_DISABLED=true")
    print("export TESTCONTAINERS_CONNECTION_MODE=docker_host")


@service_app.command("start")
def service_start() -> None:
    """Start it and return once /_ping answers (idempotent)."""
    podman.need_podman()
    lock = podman.DIR / ".service.lock"
    with locked(lock, 60, busy=f"another scripts/containers service is still running (lock: {lock})"):
        podman.service_start()


@service_app.command("stop")
def service_stop() -> None:
    """Stop it (idempotent)."""
    podman.service_stop()


@service_app.command("status")
def service_status() -> None:
    """One line; exit 0 if it runs and answers, else 3."""
    raise typer.Exit(0 if podman.service_status() else 3)


class Image(enum.StrEnum):
    base = "base"
    kafka = "kafka"
    postgres = "postgres"
    services = "services"


@app.command()
def build(
    names: Annotated[
        list[Image] | None,
        typer.Argument(metavar="IMAGE", help="base, kafka, postgres, services (default: all)", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="rebuild from scratch (no layer cache)")] = False,
) -> None:
    """Build the images whose inputs changed.

    An image whose hash tag exists is `up to date`: :latest is pointed at it, nothing is built."""
    podman.need_podman()
    podman.BUILD_DIR.mkdir(parents=True, exist_ok=True)
    lock = podman.DIR / ".build.lock"
    with locked(lock, 1800, busy=f"another scripts/containers build is still running (lock: {lock})"):
        images.build([n.value for n in names or []], force)


@app.command()
def clean() -> None:
    """Remove the project's containers, images and storage (the configuration stays)."""
    if not podman.installed():
        die("podman not installed; nothing to clean")
    podman.write_config()
    podman.service_stop()
    log(f"containers: removing every container, pod, volume and image in {podman.DIR}/storage")
    for command in (
        ("pod", "rm", "-a", "-f"),
        ("rm", "-a", "-f", "-t", "5"),
        ("volume", "rm", "-a", "-f"),
        ("rmi", "-a", "-f"),
        ("network", "prune", "-f"),
    ):
        podman.podman(*command, quiet=True, check=False)
    # Whatever is still mounted under our storage (an interrupted build) goes before the deletion.
    prefix = f"{podman.DIR}/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, stderr=subprocess.DEVNULL)
    for name in ("storage", "runroot", "tmp", "networks", "build"):
        shutil.rmtree(podman.DIR / name, ignore_errors=True)
    log(f"containers: clean (configuration kept in {podman.DIR})")


if __name__ == "__main__":
    app(prog_name="scripts/containers")
