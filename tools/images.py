"""Building the images: base, kafka, postgres, services (deploy/README.md describes them).

Each image is tagged localhost/passerelle-<name>:<hash> and :latest; <hash> is a sha256 over the
image's inputs (Containerfile, the files it copies with their paths and modes, the wheels' names,
the base image's id), so an image whose inputs did not change is not rebuilt, and a new base
rebuilds the others.

The base is PASSERELLE_BASE_IMAGE when set (and pullable), otherwise a minimal Debian root file
system made with debootstrap from the machine's own mirror and imported: no registry is
reachable from these machines. The mirror, and the apt lines the builds use, come from apt's own
configuration; PASSERELLE_APT_SOURCES ('|'-separated apt lines) overrides them.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import hashlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from tools.common import (
    ROOT,
    Stopwatch,
    die,
    fetch_kafka_jars,
    is_root,
    kafka_jars_present,
    log,
    tail,
    warn,
)
from tools.podman import BUILD_DIR, CONF_POLICY, podman

DEPLOY = ROOT / "deploy"
# Debian release of the images (bookworm: Python 3.11, PostgreSQL 15, OpenJDK 17).
SUITE = os.environ.get("PASSERELLE_DEBIAN_SUITE") or "bookworm"
PREFIX = "localhost/passerelle-"
ALL = ("base", "kafka", "postgres", "services")


# --- inputs ---------------------------------------------------------------------------------------


@functools.cache
def apt_sources() -> str:
    """The host's apt sources for the images' release, as '|'-separated one-line entries, read
    from apt's own configuration (deb822 .sources and classic .list files alike): the images then
    use the same mirror as the machine. The host's codename is swapped for the images' suite."""
    if configured := os.environ.get("PASSERELLE_APT_SOURCES"):
        return configured
    if not shutil.which("apt-get"):
        return ""
    try:
        os_release = Path("/etc/os-release").read_text()
    except OSError:
        os_release = ""
    found = re.search(r"^VERSION_CODENAME=(.*)$", os_release, re.MULTILINE)
    host = found.group(1).strip().strip('"') if found else ""
    targets = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(TARGET_OF) $(REPO_URI) $(RELEASE) $(COMPONENT)"],
        check=False,
        capture_output=True,
        text=True,
    ).stdout
    components: dict[str, list[str]] = {}  # "<uri> <release>" -> components, in apt's order
    for line in targets.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] != "deb":
            continue
        _, uri, release, component = fields[:4]
        if release != host and not release.startswith(f"{host}-"):
            continue
        listed = components.setdefault(f"{uri} {SUITE}{release[len(host) :]}", [])
        if component not in listed:
            listed.append(component)
    return "|".join(f"deb {repo} {' '.join(comps)}" for repo, comps in components.items())


def apt_mirror() -> str:
    """The mirror of the images' main suite (for debootstrap)."""
    for entry in apt_sources().split("|"):
        fields = entry.split()
        if len(fields) > 2 and fields[2] == SUITE:
            return fields[1]
    return ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def short(text: str) -> str:
    return sha256(text)[:16]


def hash_tree(base: Path, *paths: str) -> str:
    """sha256 over the relative path, mode and content of every regular file under the PATHS
    (byte-compiled Python left out). Byte for byte what the shell version computed (`find
    -printf '%m %p'`, then `sha256sum` of each file, both in C-locale order), so an image built
    by either is recognised by the other."""
    files: list[tuple[str, Path]] = []
    for start in paths:
        full = base / start
        candidates = [(start, full)]
        if full.is_dir() and not full.is_symlink():
            candidates = [
                (os.path.join(start, os.path.relpath(os.path.join(d, name), full)), Path(d, name))
                for d, _, names in os.walk(full)
                for name in names
            ]
        for relative, path in candidates:
            if path.is_symlink() or not path.is_file():
                continue
            if relative.endswith(".pyc") or fnmatch.fnmatch(relative, "*/__pycache__/*"):
                continue
            files.append((relative, path))
    files.sort(key=lambda item: item[0].encode())
    modes = sorted((f"{path.stat().st_mode & 0o7777:o} {relative}\n" for relative, path in files), key=str.encode)
    sums = [f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {relative}\n" for relative, path in files]
    return sha256("".join(modes) + "".join(sums))


def recipe(*functions: Callable[..., object]) -> str:
    """The code of FUNCTIONS without comments or layout: a change of how the base is made
    rebuilds it, a change of a comment does not (as the shell version's `declare -f` did)."""
    return "".join(ast.dump(ast.parse(textwrap.dedent(inspect.getsource(f)))) for f in functions)


# --- podman ---------------------------------------------------------------------------------------


def image_id(ref: str) -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


def drop_old_tags(name: str, keep: str) -> None:
    """Keep only the current hash tag of an image (older builds' layers go when nothing uses them)."""
    ref = f"{PREFIX}{name}"
    for tag in podman("images", "--format", "{{.Tag}}", "--filter", f"reference={ref}").stdout.split():
        if tag not in (keep, "latest"):
            podman("rmi", f"{ref}:{tag}", quiet=True, check=False)


class Build:
    """One `scripts/containers build`: every image is built FROM the base, so the base is
    resolved (built only if needed) before any other."""

    def __init__(self, force: bool) -> None:
        self.force = force  # rebuild from scratch (no layer cache) even when up to date
        self.base_ref = ""
        self.base_id = ""

    def up_to_date(self, name: str, digest: str) -> bool:
        """When NAME:DIGEST exists, point :latest at it, say so and succeed."""
        ref = f"{PREFIX}{name}"
        if self.force or not image_exists(f"{ref}:{digest}"):
            return False
        podman("tag", f"{ref}:{digest}", f"{ref}:latest")
        log(f"{name}: up to date ({ref}:{digest})")
        return True

    def base(self) -> None:
        watch = Stopwatch()
        ref = f"{PREFIX}base"
        if wanted := os.environ.get("PASSERELLE_BASE_IMAGE"):
            pull = ["podman", "pull", "--signature-policy", str(CONF_POLICY), wanted]
            if image_exists(wanted) or subprocess.run(pull, check=False, stdout=sys.stderr).returncode == 0:
                digest = short(f"from-image {image_id(wanted)}\n")
                if not self.up_to_date("base", digest):
                    podman("tag", wanted, f"{ref}:{digest}", f"{ref}:latest")
                    log(f"base: tagged {wanted} as {ref}:{digest}")
                self.base_ref = f"{ref}:{digest}"
                self.base_id = image_id(self.base_ref)
                return
            warn(f"base: cannot pull {wanted}; making one with debootstrap instead")
        # The recipe is this method and debootstrap themselves: changing them rebuilds. The mirror
        # is part of the inputs only through apt_sources(): a base made from another mirror has
        # other sources in it.
        architecture = subprocess.run(
            ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
        ).stdout.strip()
        digest = short(f"{SUITE} {architecture} {apt_sources()}\n{recipe(Build.base, Build.debootstrap)}")
        if not self.up_to_date("base", digest):
            self.debootstrap(digest)
            drop_old_tags("base", digest)
            log(f"base: built {ref}:{digest} in {watch}")
        self.base_ref = f"{ref}:{digest}"
        self.base_id = image_id(self.base_ref)

    def debootstrap(self, digest: str) -> None:
        ref = f"{PREFIX}base"
        rootfs = BUILD_DIR / "rootfs"
        log_file = BUILD_DIR / "debootstrap.log"
        if not shutil.which("debootstrap"):
            die("base: debootstrap not installed; run: scripts/containers install")
        if not is_root():
            die(f"base: debootstrap needs root (or set PASSERELLE_BASE_IMAGE to an existing Debian {SUITE} image)")
        if not (mirror := apt_mirror()):
            die(
                f"base: no apt source for {SUITE} found in the host's apt configuration; "
                f"set PASSERELLE_APT_SOURCES='deb <mirror> {SUITE} main'"
            )
        shutil.rmtree(rootfs, ignore_errors=True)
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        watch = Stopwatch()
        log(f"base: debootstrap --variant=minbase {SUITE} from {mirror} (log: {log_file})")
        debootstrap = ["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror]
        with open(log_file, "wb") as out:
            done = subprocess.run(debootstrap, check=False, stdout=out, stderr=out)
        if done.returncode != 0:
            tail(log_file, 20)
            die(f"base: debootstrap failed (log: {log_file})")
        log(f"base: debootstrap done in {watch}")
        # What a slim Debian image does: no docs, man pages or translations from later installs,
        # no recommended packages, no package cache kept.
        (rootfs / "etc/apt/sources.list").write_text(apt_sources().replace("|", "\n") + "\n")
        (rootfs / "etc/dpkg/dpkg.cfg.d/passerelle-slim").write_text(
            "path-exclude /usr/share/doc/*\n"
            "path-include /usr/share/doc/*/copyright\n"
            "path-exclude /usr/share/man/*\n"
            "path-exclude /usr/share/info/*\n"
            "path-exclude /usr/share/locale/*\n"
            "path-include /usr/share/locale/locale.alias\n"
        )
        (rootfs / "etc/apt/apt.conf.d/90passerelle").write_text(
            'APT::Install-Recommends "false";\n'
            'APT::Install-Suggests "false";\n'
            'Acquire::Languages "none";\n'
            'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n'
        )
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "var/log/*.log", "tmp/*"):
            for path in rootfs.glob(pattern):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        # Files only: maintainer scripts (OpenJDK's) expect /usr/share/man/man1 to exist.
        for top in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"):
            for directory, subdirs, names in os.walk(rootfs / top):
                for name in [*names, *(s for s in subdirs if Path(directory, s).is_symlink())]:
                    if name not in ("copyright", "locale.alias"):
                        Path(directory, name).unlink()
        # No init system in a container: package scripts must not try to start daemons.
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        # A container gets its own hostname and resolv.conf at run time.
        (rootfs / "etc/hostname").write_text("")
        (rootfs / "etc/resolv.conf").unlink(missing_ok=True)
        watch = Stopwatch()
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        # fmt: off
        imported = subprocess.run(
            ["podman", "import", "-q", "--signature-policy", str(CONF_POLICY),
             "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--change", "ENV LANG=C.UTF-8",
             "--change", 'CMD ["/bin/bash"]',
             "--message", f"debootstrap --variant=minbase {SUITE}",
             "-", f"{ref}:{digest}"],
            check=False, stdin=tar.stdout, stdout=subprocess.DEVNULL,
        )
        # fmt: on
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            die("base: tar | podman import failed")
        podman("tag", f"{ref}:{digest}", f"{ref}:latest")
        shutil.rmtree(rootfs)
        log(f"base: import done in {watch}")

    def podman_build(self, name: str, digest: str, context: Path, *extra: str) -> None:
        """Build deploy/NAME/Containerfile in CONTEXT."""
        ref = f"{PREFIX}{name}"
        log_file = BUILD_DIR / f"{name}.log"
        watch = Stopwatch()
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        log(f"{name}: building {ref}:{digest} (log: {log_file})")
        # --network host: the build reaches the mirror exactly as the host does.
        # --no-cache (--force): a real rebuild (fresh packages), not the layer cache.
        command = ["podman", "build", "--signature-policy", str(CONF_POLICY), "--pull=never", "--network", "host"]
        command += ["--no-cache"] if self.force else []
        command += ["-f", str(DEPLOY / name / "Containerfile")]
        command += ["--build-arg", f"BASE={self.base_ref}", "--build-arg", f"APT_SOURCES={apt_sources()}"]
        command += ["-t", f"{ref}:{digest}", "-t", f"{ref}:latest", *extra, str(context)]
        with open(log_file, "wb") as out:
            done = subprocess.run(command, check=False, stdout=out, stderr=out)
        if done.returncode != 0:
            tail(log_file)
            die(f"{name}: build failed (log: {log_file})")
        drop_old_tags(name, digest)
        log(f"{name}: built {ref}:{digest} in {watch}")

    def kafka(self) -> None:
        context = DEPLOY / "kafka"
        if not kafka_jars_present():
            if not shutil.which("mvn"):
                die("kafka: broker jars missing and no Maven; run scripts/install")
            fetch_kafka_jars()
        digest = short(
            f"base {self.base_id}\n{hash_tree(context, 'Containerfile', 'entrypoint.sh', 'log4j2.yaml', 'target/libs')}\n"
        )
        if not self.up_to_date("kafka", digest):
            self.podman_build("kafka", digest, context)

    def postgres(self) -> None:
        context = DEPLOY / "postgres"
        digest = short(f"base {self.base_id}\n{hash_tree(context, 'Containerfile', 'entrypoint.sh')}\n")
        if not self.up_to_date("postgres", digest):
            self.podman_build("postgres", digest, context)

    def services(self) -> None:
        # A context with only what the image needs, in the repository's layout, plus the wheels.
        context = BUILD_DIR / "services-context"
        shutil.rmtree(context, ignore_errors=True)
        (context / "requirements").mkdir(parents=True)
        shutil.copy2(ROOT / "requirements" / "runtime.txt", context / "requirements")
        junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for tree in ("contracts", "services"):
            shutil.copytree(ROOT / tree, context / tree, symlinks=True, ignore=junk)
        extra: list[str] = []
        wheels = wheelhouse()
        if wheels:
            extra = ["--build-context", f"wheels={wheels}"]  # replaces the Containerfile's empty stage
        else:
            warn("services: no Python 3.11 venv in .venv (scripts/install): pip in the build will use the index")
        inputs = f"base {self.base_id}\n"
        inputs += hash_tree(DEPLOY / "services", "Containerfile") + "\n"
        inputs += hash_tree(context, "requirements", "contracts", "services") + "\n"
        # Wheel file names carry name and version: enough to tell one wheelhouse from another.
        inputs += "".join(f"{w.name}\n" for w in sorted(wheels.glob("*.whl"))) if wheels else ""
        digest = short(inputs)
        if not self.up_to_date("services", digest):
            self.podman_build("services", digest, context, *extra)


def wheelhouse() -> Path | None:
    """Wheels for the services image, built on the host (Debian 12's Python 3.11, like the
    image's) once per requirements: the image build then installs offline, fast and always the
    same. The extra packages (the mail sink) are read from the Containerfile's MAILSINK_PACKAGES."""
    python = ROOT / ".venv" / "bin" / "python"
    requirements = ROOT / "requirements" / "runtime.txt"
    found = re.search(
        r'^ARG MAILSINK_PACKAGES="(.*)"$', (DEPLOY / "services" / "Containerfile").read_text(), re.MULTILINE
    )
    extra = found.group(1) if found else ""
    if not python.is_file():
        return None
    is_311 = "import sys; sys.exit(sys.version_info[:2] != (3, 11))"
    if subprocess.run([python, "-c", is_311], check=False).returncode != 0:
        return None
    directory = BUILD_DIR / f"wheels-{short(requirements.read_text() + extra + chr(10))}"
    if not (directory / ".complete").is_file():
        watch = Stopwatch()
        for old in BUILD_DIR.glob("wheels-*"):
            shutil.rmtree(old)
        log(f"services: building wheels on the host into {directory}")
        pip_wheel = [python, "-m", "pip", "wheel", "-q", "-r", requirements, *extra.split(), "-w", directory]
        if subprocess.run(pip_wheel, check=False, stdout=sys.stderr).returncode != 0:
            return None
        (directory / ".complete").touch()
        log(f"services: wheels ready in {watch}")
    return directory


def build(images: list[str], force: bool) -> None:
    wanted = [name for name in ALL if name in images] or list(ALL)
    watch = Stopwatch()
    builder = Build(force)
    if "base" not in wanted:
        builder.force = False
        builder.base()
        builder.force = force
    for name in wanted:
        getattr(builder, name)()
    # Images left without a tag (a failed or superseded build); the layer cache of the current
    # images stays, as their parents.
    podman("image", "prune", "-f")
    log(f"build: done in {watch}")
    row = "{{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}"
    listing = podman("images", "--filter", f"reference={PREFIX}*", "--format", row)
    print("\n".join(sorted(listing.stdout.splitlines(), key=str.encode)), file=sys.stderr)
