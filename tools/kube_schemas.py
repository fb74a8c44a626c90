"""The offline toolchain that validates the manifests of ``deploy/kubernetes``: kubeconform with the
JSON schemas of Kubernetes and of our operators' CustomResourceDefinitions, and kubectl-validate.

``python -m tools.kube_schemas ensure`` (or :func:`ensure`) builds it into ``.run/kube/`` (ignored
by git) and returns a :class:`Toolchain`; :func:`kubeconform_command` and
:func:`kubectl_validate_command` give the argv to run on files.

Why this shape:

- **Offline.** CI reaches package registries only, and a validation that downloads schemas at run
  time fails (or, worse, passes by skipping) when a web site is down. kubeconform's default schema
  location is a web address, and the schemas of the ``kubernetes-validate`` wheel carry web ``$id``
  that their ``$ref`` resolve against: kubeconform would fetch those, so they are rewritten to
  references between local files. kubectl-validate reads a kubeconfig (and would ask that cluster)
  and fetches from GitHub any Kubernetes version it does not embed: :func:`kubectl_validate_command`
  hides the kubeconfig and passes the version's OpenAPI documents as local files.
- **Pinned.** Every input has an exact version (below; CloudNativePG's in the go.mod/go.sum of
  ``deploy/kubernetes/schemas/cloudnative-pg``, Strimzi's in ``deploy/kubernetes/schemas/strimzi``),
  and the wheel's hash is checked: the same commit validates the same way on every machine, and an
  upgrade is a reviewed change of one pin.
- **Generated, not vendored.** The schemas are several megabytes of machine output; committing
  them would hide upgrades in huge diffs and let them drift from the pins. They are rebuilt from
  the registries (PyPI, the Go module proxy) by committed code: the CRDs of CloudNativePG by a Go
  program using its module's ``releases`` package, those of Strimzi by
  ``deploy/kubernetes/schemas/strimzi/crds``, converted by kubeconform's own
  ``scripts/openapi2jsonschema.py``.
- **Cheap when warm.** A stamp records a hash of the pins, of this file and of every input file
  under ``deploy/kubernetes/schemas/``; when it matches and the outputs exist, :func:`ensure`
  returns without running anything. Each part also has its own stamp, so a change to the Strimzi
  script does not download Kubernetes' schemas again.

Layout of ``.run/kube/``::

    bin/kubeconform, bin/kubectl-validate
    schemas/kubernetes/v1.33.0-local-strict/<kind>-<group>-<version>.json   (kubeconform, native)
    schemas/crds/<group>/<kind>_<version>.json                              (kubeconform, CRDs)
    openapi/api/v1.json, openapi/apis/<group>/<version>.json                (kubectl-validate)
    crds/<plural>.<group>.yaml ...                                          (raw CRDs, both tools)
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "deploy" / "kubernetes" / "schemas"
CNPG_PROGRAM = SOURCES / "cloudnative-pg"
STRIMZI_SCRIPT = SOURCES / "strimzi" / "crds"

RUN = ROOT / ".run" / "kube"
BIN = RUN / "bin"
STAMP = RUN / "stamp"
NATIVE_SCHEMAS = RUN / "schemas" / "kubernetes"
CRD_SCHEMAS = RUN / "schemas" / "crds"
NATIVE_OPENAPI = RUN / "openapi"
CRDS = RUN / "crds"

# --- pins -----------------------------------------------------------------------------------------

# The Kubernetes version the manifests are checked against: recent, supported by CloudNativePG 1.28
# and Strimzi, shipped by kubernetes-validate (1.25–1.37) and published by k8s.io/kubernetes.
KUBERNETES_VERSION = "1.33.0"

# kubernetes-validate is only a carrier of JSON schemas (generated from Kubernetes' OpenAPI); it is
# downloaded, never installed, and the wheel must have this hash.
KUBERNETES_VALIDATE_VERSION = "1.37.0"
KUBERNETES_VALIDATE_SHA256 = "85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9"
KUBERNETES_VALIDATE_SCHEMAS = "kubernetes_validate/kubernetes-json-schema/"


@dataclass(frozen=True)
class GoTool:
    module: str
    package: str  # the main package, as `go install` takes it
    version: str

    @property
    def name(self) -> str:
        """The binary's name: the package's last element, less a major-version suffix (as go does)."""
        parts = self.package.split("/")
        return parts[-2] if len(parts) > 1 and parts[-1][:1] == "v" and parts[-1][1:].isdigit() else parts[-1]


KUBECONFORM = GoTool("github.com/yannh/kubeconform", "github.com/yannh/kubeconform/cmd/kubeconform", "v0.8.0")
# Runs the API server's own validation (OpenAPI schemas, CEL rules, metadata names) offline.
KUBECTL_VALIDATE = GoTool("sigs.k8s.io/kubectl-validate", "sigs.k8s.io/kubectl-validate", "v0.0.4")
# Renders the overlays as `kubectl apply -k` would (kubectl embeds the same kustomize), so that the
# tests validate what a platform team applies, not only base/.
KUSTOMIZE = GoTool("sigs.k8s.io/kustomize/kustomize/v5", "sigs.k8s.io/kustomize/kustomize/v5", "v5.7.1")
# The OpenAPI v3 documents the API server publishes, from the Kubernetes source module
# (api/openapi-spec/v3): kubectl-validate embeds them only up to 1.30.
KUBERNETES_MODULE = "k8s.io/kubernetes"

# What the generated CRD schemas must contain at least (group -> "<kind>_<version>"): the kinds
# of deploy/kubernetes, so that a broken generator fails here rather than as "schema not found".
EXPECTED_CRD_SCHEMAS: Mapping[str, tuple[str, ...]] = {
    "postgresql.cnpg.io": ("backup_v1", "cluster_v1", "database_v1", "pooler_v1", "scheduledbackup_v1"),
    "kafka.strimzi.io": ("kafka_v1", "kafkanodepool_v1", "kafkatopic_v1", "kafkauser_v1"),
}

# Bumped when the layout or the processing of an output changes, so that old outputs are rebuilt.
LAYOUT = 1

PINS: Mapping[str, object] = {
    "layout": LAYOUT,
    "kubernetes": KUBERNETES_VERSION,
    "kubernetes-validate": [KUBERNETES_VALIDATE_VERSION, KUBERNETES_VALIDATE_SHA256],
    "kubeconform": [KUBECONFORM.package, KUBECONFORM.version],
    "kubectl-validate": [KUBECTL_VALIDATE.package, KUBECTL_VALIDATE.version],
    "kustomize": [KUSTOMIZE.package, KUSTOMIZE.version],
}


# kubeconform's Go templates for -schema-location, under NATIVE_SCHEMAS and CRD_SCHEMAS. It fills
# in the version and "-strict" (always passed: see kubeconform_command); "<group>/<kind>_<version>"
# is the layout of the CRD catalogue kubeconform's README points to.
NATIVE_SCHEMA_TEMPLATE = (
    "{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
CRD_SCHEMA_TEMPLATE = "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"


# --- the toolchain --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Toolchain:
    kubeconform: Path
    schema_locations: tuple[str, ...]  # the -schema-location values: native schemas, then the CRDs'
    kubernetes_version: str  # e.g. "1.33.0", passed as -kubernetes-version
    crd_dir: Path  # the raw CRD YAMLs (Strimzi + CloudNativePG)
    kubectl_validate: Path  # run it with kubectl_validate_command()
    kustomize: Path  # `kustomize build DIR`


def toolchain() -> Toolchain:
    """The toolchain as :func:`ensure` leaves it (without checking that it is there)."""
    return Toolchain(
        kubeconform=BIN / KUBECONFORM.name,
        schema_locations=(
            f"{NATIVE_SCHEMAS}/{NATIVE_SCHEMA_TEMPLATE}",
            f"{CRD_SCHEMAS}/{CRD_SCHEMA_TEMPLATE}",
        ),
        kubernetes_version=KUBERNETES_VERSION,
        crd_dir=CRDS,
        kubectl_validate=BIN / KUBECTL_VALIDATE.name,
        kustomize=BIN / KUSTOMIZE.name,
    )


def kubeconform_command(tc: Toolchain, *extra: str) -> list[str]:
    """kubeconform's argv, files (or nothing, for stdin) to append. Strict: unknown and duplicated
    fields are errors; no -ignore-missing-schemas, so a kind without a schema is an error too."""
    argv = [str(tc.kubeconform), "-strict", "-output", "json", "-kubernetes-version", tc.kubernetes_version]
    for location in tc.schema_locations:
        argv += ["-schema-location", location]
    return [*argv, *extra]


def kubectl_validate_command(tc: Toolchain, *extra: str) -> list[str]:
    """kubectl-validate's argv, files or folders to append (it does not read stdin).

    Offline by construction: ``env`` hides any kubeconfig and in-cluster configuration (otherwise it
    asks that cluster for its schemas), and ``--version=`` is empty so that it neither fetches a
    version from GitHub nor uses its embedded ones: the native schemas are the local OpenAPI
    documents of :data:`KUBERNETES_VERSION`, the custom ones the CRDs of ``crd_dir``."""
    return [
        "env",
        "-u",
        "KUBERNETES_SERVICE_HOST",
        "-u",
        "KUBERNETES_SERVICE_PORT",
        f"KUBECONFIG={os.devnull}",
        str(tc.kubectl_validate),
        "--version=",
        f"--local-schemas={NATIVE_OPENAPI}",
        f"--local-crds={tc.crd_dir}",
        "--output=json",
        *extra,
    ]


def ensure(log: Callable[[str], None] = print) -> Toolchain:
    """Build what is missing or out of date in ``.run/kube/`` and return the toolchain."""
    tc = toolchain()
    key = _stamp_key()
    if _read_stamp(STAMP) == key and _outputs_present(tc):
        return tc
    RUN.mkdir(parents=True, exist_ok=True)
    with _locked(RUN / ".lock"):
        if _read_stamp(STAMP) == key and _outputs_present(tc):  # built by a concurrent call
            return tc
        start = time.monotonic()
        _go_install(KUBECONFORM, log)
        _go_install(KUBECTL_VALIDATE, log)
        _go_install(KUSTOMIZE, log)
        _native_schemas(log)
        _native_openapi(log)
        _crds(log)
        if not _outputs_present(tc):
            raise RuntimeError(f"{RUN} is incomplete after building it")
        _write_stamp(STAMP, key)
        log(f"kubernetes validation toolchain ready in {time.monotonic() - start:.1f}s ({RUN.relative_to(ROOT)})")
    return tc


# --- stamps ---------------------------------------------------------------------------------------


def _input_files() -> list[Path]:
    """The files under deploy/kubernetes/schemas/ that git would commit (tracked, or new and not
    ignored), so that build output someone leaves there does not count; all files without git."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", str(SOURCES)],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(p for p in SOURCES.rglob("*") if p.is_file())
    return sorted({ROOT / name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()})


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in _input_files():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
        digest.update(b"x" if os.access(path, os.X_OK) else b"-")
    return digest.hexdigest()


def _stamp_key() -> str:
    material = {
        "pins": PINS,
        "tool": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "sources": _sources_digest(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _read_stamp(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _write_stamp(path: Path, key: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(key + "\n", encoding="utf-8")
    tmp.replace(path)


def _outputs_present(tc: Toolchain) -> bool:
    paths = [
        tc.kubeconform,
        tc.kubectl_validate,
        tc.kustomize,
        NATIVE_SCHEMAS / ".stamp",
        NATIVE_OPENAPI / ".stamp",
        CRD_SCHEMAS / ".stamp",
        tc.crd_dir,
    ]
    return all(p.exists() for p in paths)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time (two test sessions started at once wait for each other)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _replacing(target: Path, key: str) -> Iterator[Path]:
    """A fresh folder to fill; on success it replaces TARGET, with KEY in its ``.stamp``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    work.chmod(0o755)  # mkdtemp's 0700 would hide the toolchain from other users of the checkout
    try:
        yield work
        _write_stamp(work / ".stamp", key)
        old = target.with_name(f".{target.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _part_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([LAYOUT, *parts], sort_keys=True).encode()).hexdigest()


# --- processes ------------------------------------------------------------------------------------


def _run(
    argv: Sequence[str], *, cwd: Path = ROOT, env: Mapping[str, str] | None = None, what: str
) -> subprocess.CompletedProcess[str]:
    """Run ARGV; on failure a RuntimeError naming WHAT, the command and the end of its output."""
    full_env = {**os.environ, **(env or {})}
    try:
        done = subprocess.run(list(argv), cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise RuntimeError(f"{what}: cannot run {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip()).splitlines()[-25:]
        raise RuntimeError(
            f"{what} failed (exit {done.returncode}): {shlex.join(argv)}\n" + "\n".join(f"  {line}" for line in output)
        )
    return done


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("Go is needed to build the Kubernetes validation toolchain: `go` is not on PATH")
    return go


def _go_module_dir(module: str, version: str) -> Path:
    """The module's folder in the Go module cache, downloaded through the machine's GOPROXY."""
    done = _run(
        [_go(), "mod", "download", "-json", f"{module}@{version}"],
        cwd=RUN,
        env={"GOWORK": "off"},
        what=f"downloading the Go module {module}@{version}",
    )
    info = json.loads(done.stdout)
    if info.get("Error") or not info.get("Dir"):
        raise RuntimeError(f"downloading the Go module {module}@{version}: {info.get('Error', done.stdout)}")
    return Path(info["Dir"])


def _installed_version(binary: Path, module: str) -> str | None:
    """The version of MODULE a Go binary was built from (`go version -m`), None if unknown."""
    if not binary.is_file():
        return None
    done = subprocess.run([_go(), "version", "-m", str(binary)], capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "mod" and fields[1] == module:
            return fields[2]
    return None


def _go_install(tool: GoTool, log: Callable[[str], None]) -> None:
    binary = BIN / tool.name
    if _installed_version(binary, tool.module) == tool.version:
        return
    slow = " (a few minutes the first time)" if tool is KUBECTL_VALIDATE else ""
    log(f"building {tool.name} {tool.version} with go install{slow} ...")
    start = time.monotonic()
    BIN.mkdir(parents=True, exist_ok=True)
    _run(
        [_go(), "install", f"{tool.package}@{tool.version}"],
        env={"GOBIN": str(BIN)},
        what=f"installing {tool.name}",
    )
    if _installed_version(binary, tool.module) != tool.version:
        raise RuntimeError(f"go install did not leave {tool.name} {tool.version} in {BIN}")
    log(f"built {tool.name} {tool.version} in {time.monotonic() - start:.0f}s")


# --- native schemas -------------------------------------------------------------------------------


def _native_schemas(log: Callable[[str], None]) -> None:
    """kubernetes-validate's strict JSON schemas of KUBERNETES_VERSION, with local references."""
    key = _part_key("native", KUBERNETES_VALIDATE_VERSION, KUBERNETES_VALIDATE_SHA256, KUBERNETES_VERSION)
    if _read_stamp(NATIVE_SCHEMAS / ".stamp") == key:
        return
    log(
        f"fetching the JSON schemas of Kubernetes {KUBERNETES_VERSION} (kubernetes-validate {KUBERNETES_VALIDATE_VERSION}) ..."
    )
    folder = f"v{KUBERNETES_VERSION}-local-strict"
    prefix = f"{KUBERNETES_VALIDATE_SCHEMAS}{folder}/"
    with tempfile.TemporaryDirectory(dir=RUN) as download, _replacing(NATIVE_SCHEMAS, key) as out:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "--dest",
                download,
                f"kubernetes-validate=={KUBERNETES_VALIDATE_VERSION}",
            ],
            what="downloading kubernetes-validate (pip download)",
        )
        wheels = sorted(Path(download).glob("kubernetes_validate-*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"pip download left {[w.name for w in wheels]}, expected one kubernetes_validate wheel")
        digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
        if digest != KUBERNETES_VALIDATE_SHA256:
            raise RuntimeError(
                f"{wheels[0].name} has sha256 {digest}, expected {KUBERNETES_VALIDATE_SHA256}: not the pinned file"
            )
        target = out / folder
        target.mkdir()
        count = 0
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member in wheel.namelist():
                name = member.removeprefix(prefix)
                if name == member or not name.endswith(".json") or "/" in name:
                    continue
                schema = _localized(json.loads(wheel.read(member)), member)
                (target / name).write_text(json.dumps(schema, separators=(",", ":")), encoding="utf-8")
                count += 1
        if count == 0 or not (target / "deployment-apps-v1.json").is_file():
            raise RuntimeError(f"kubernetes-validate {KUBERNETES_VALIDATE_VERSION} has no schemas under {prefix}")
    log(f"wrote {count} JSON schemas of Kubernetes {KUBERNETES_VERSION}")


DEFINITIONS_REF = "/api/_definitions.json#"


def _localized(schema: Any, origin: str) -> Any:
    """SCHEMA with references between local files only. The wheel's schemas have a web address of
    the Kubernetes site as ``$id`` (``.../api/<kind>/<group>/<version>``) and refer to the shared
    definitions as ``/api/_definitions.json#/$defs/...``, which resolves against that address: without
    ``$id`` (so the base is the file itself) and as ``_definitions.json#/$defs/...`` they resolve to
    the file next to it. Any other form of reference is an error, not a silent download."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "$id":
                    raise RuntimeError(f"{origin}: unexpected nested $id: update tools/kube_schemas.py")
                if k == "$ref" and isinstance(v, str):
                    if v.startswith(DEFINITIONS_REF):
                        v = "_definitions.json#" + v.removeprefix(DEFINITIONS_REF)
                    elif not v.startswith("#"):
                        raise RuntimeError(f"{origin}: unexpected $ref {v!r}: update tools/kube_schemas.py")
                out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    if isinstance(schema, dict):
        schema = {k: v for k, v in schema.items() if k != "$id"}
    return walk(schema)


def _native_openapi(log: Callable[[str], None]) -> None:
    """The API server's OpenAPI v3 documents of KUBERNETES_VERSION, in kubectl-validate's
    --local-schemas layout: api/<version>.json and apis/<group>/<version>.json."""
    version = f"v{KUBERNETES_VERSION}"
    key = _part_key("openapi", KUBERNETES_MODULE, version)
    if _read_stamp(NATIVE_OPENAPI / ".stamp") == key:
        return
    log(f"fetching the OpenAPI documents of Kubernetes {KUBERNETES_VERSION} (Go module {KUBERNETES_MODULE}) ...")
    source = _go_module_dir(KUBERNETES_MODULE, version) / "api" / "openapi-spec" / "v3"
    with _replacing(NATIVE_OPENAPI, key) as out:
        count = 0
        for path in sorted(source.glob("*_openapi.json")):
            parts = path.name.removesuffix("_openapi.json").split("__")
            if len(parts) == 2 and parts[0] == "api":  # api__v1
                target = out / "api" / f"{parts[1]}.json"
            elif len(parts) == 3 and parts[0] == "apis":  # apis__apps__v1
                target = out / "apis" / parts[1] / f"{parts[2]}.json"
            else:  # discovery documents (apis__apps, api), /version, /logs ...
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            count += 1
        if not (out / "apis" / "apps" / "v1.json").is_file():
            raise RuntimeError(f"{source} has no apis__apps__v1_openapi.json")
    log(f"wrote {count} OpenAPI documents of Kubernetes {KUBERNETES_VERSION}")


# --- custom resources -----------------------------------------------------------------------------


def _crds(log: Callable[[str], None]) -> None:
    """The CRDs of CloudNativePG and Strimzi (raw, in CRDS) and their kubeconform schemas."""
    if not STRIMZI_SCRIPT.is_file():
        raise RuntimeError(
            f"{STRIMZI_SCRIPT.relative_to(ROOT)} is missing: it writes Strimzi's CustomResourceDefinitions "
            "(usage: crds OUTDIR), without which KafkaTopic, KafkaUser and Kafka cannot be validated"
        )
    key = _part_key("crds", _sources_digest(), KUBECONFORM.version)
    if _read_stamp(CRD_SCHEMAS / ".stamp") == key and _read_stamp(CRDS / ".stamp") == key:
        return
    log("generating the CustomResourceDefinitions of CloudNativePG and Strimzi ...")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(dir=RUN) as scratch, _replacing(CRDS, key) as raw:
        staging = Path(scratch)
        _run(
            [_go(), "run", ".", str(staging / "cloudnative-pg")], cwd=CNPG_PROGRAM, what="writing CloudNativePG's CRDs"
        )
        _run([str(STRIMZI_SCRIPT), str(staging / "strimzi")], what="writing Strimzi's CRDs")
        for source in ("cloudnative-pg", "strimzi"):
            files = sorted(p for p in (staging / source).rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not files:
                raise RuntimeError(f"the {source} generator wrote no .yaml file")
            for path in files:
                if (raw / path.name).exists():
                    raise RuntimeError(f"two CRD files are named {path.name}")
                shutil.copyfile(path, raw / path.name)
        with _replacing(CRD_SCHEMAS, key) as schemas:
            _crd_schemas(raw, schemas)
    log(f"wrote the CRDs and their JSON schemas in {time.monotonic() - start:.1f}s")


def _crd_schemas(crds: Path, out: Path) -> None:
    """Convert every CRD of CRDS with kubeconform's scripts/openapi2jsonschema.py (of the pinned
    version, from the Go module cache) into OUT/<group>/<kind>_<version>.json.

    The script writes to its working folder and keeps only the base name of FILENAME_FORMAT, so
    ``{fullgroup}/{kind}_{version}`` is written as ``{fullgroup}__{kind}_{version}`` (API groups
    are DNS names: no "__") and moved into place. DENY_ROOT_ADDITIONAL_PROPERTIES: a misspelt
    top-level field (``specs:``) is an error too, as in the native strict schemas (the CRDs of both
    operators declare apiVersion, kind and metadata at their root, which this needs)."""
    try:
        import yaml  # noqa: F401 - the script's only dependency, in the interpreter that runs it
    except ImportError as exc:
        raise RuntimeError(f"{sys.executable} lacks PyYAML, which openapi2jsonschema.py needs") from exc
    script = _go_module_dir(KUBECONFORM.module, KUBECONFORM.version) / "scripts" / "openapi2jsonschema.py"
    if not script.is_file():
        raise RuntimeError(f"{KUBECONFORM.module}@{KUBECONFORM.version} has no scripts/openapi2jsonschema.py")
    with tempfile.TemporaryDirectory(dir=RUN) as flat:
        files = sorted(str(p) for p in crds.iterdir() if p.suffix in (".yaml", ".yml"))
        _run(
            [sys.executable, str(script), *files],
            cwd=Path(flat),
            env={"FILENAME_FORMAT": "{fullgroup}__{kind}_{version}", "DENY_ROOT_ADDITIONAL_PROPERTIES": "1"},
            what="converting the CRDs to JSON schemas (openapi2jsonschema.py)",
        )
        for path in Path(flat).glob("*.json"):
            group, _, name = path.name.partition("__")
            if not name:
                raise RuntimeError(f"openapi2jsonschema.py wrote an unexpected {path.name}")
            (out / group).mkdir(exist_ok=True)
            path.rename(out / group / name)
    missing = [
        f"{group}/{name}.json"
        for group, names in EXPECTED_CRD_SCHEMAS.items()
        for name in names
        if not (out / group / f"{name}.json").is_file()
    ]
    if missing:
        raise RuntimeError(f"no JSON schema generated for {', '.join(missing)}: check the CRD generators")


# --- command line ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.kube_schemas", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ensure", help="build .run/kube/ if needed and print the toolchain")
    args = parser.parse_args(argv)
    if args.command == "ensure":
        try:
            tc = ensure(log=lambda message: print(f"[kube-schemas] {message}", file=sys.stderr, flush=True))
        except RuntimeError as exc:
            print(f"[kube-schemas] ERROR: {exc}", file=sys.stderr)
            return 1
        print(f"kubeconform:        {tc.kubeconform.relative_to(ROOT)}")
        print(f"kubernetes version: {tc.kubernetes_version}")
        print(f"CRDs:               {tc.crd_dir.relative_to(ROOT)}")
        for location in tc.schema_locations:
            print(f"schema location:    {location}")
        print(f"kubectl-validate:   {tc.kubectl_validate.relative_to(ROOT)}")
        print(f"kustomize:          {tc.kustomize.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
