# shellcheck shell=bash
# Shared helpers for the Passerelle scripts. Sourced, never executed:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# Everything is derived from this file's location so the scripts work from any cwd
# and on any machine (no absolute paths baked in).

# Guard against double sourcing (readonly variables would otherwise fail).
[[ -n "${_PASSERELLE_COMMON_LOADED:-}" ]] && return 0
_PASSERELLE_COMMON_LOADED=1

PASSERELLE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export PASSERELLE_ROOT

# Local state (data, logs, pids). Ignored by git (.run/ in .gitignore).
: "${PASSERELLE_RUN_DIR:=${PASSERELLE_ROOT}/.run}"
export PASSERELLE_RUN_DIR

# Everything binds to loopback only: this is a developer/test stack, not a service.
PASSERELLE_HOST=127.0.0.1
: "${PASSERELLE_KAFKA_PORT:=19092}"
: "${PASSERELLE_KAFKA_CONTROLLER_PORT:=19093}"
: "${PASSERELLE_KAFKA_INTERNAL_PORT:=19094}"
: "${PASSERELLE_PG_PORT:=15432}"
export PASSERELLE_HOST PASSERELLE_KAFKA_PORT PASSERELLE_KAFKA_CONTROLLER_PORT PASSERELLE_KAFKA_INTERNAL_PORT PASSERELLE_PG_PORT

# The services scripts/up starts, scripts/down stops and scripts/status asks, with their ports:
# one list, so that a new service cannot be started and then left running.
PASSERELLE_SERVICES=(actions equipment funding notifications gateway dashboard)
declare -A PASSERELLE_SERVICE_PORTS=([actions]=8101 [equipment]=8102 [funding]=8103 [notifications]=8104 [gateway]=8105 [dashboard]=8110)

# Python interpreter of the project venv (created by scripts/install).
: "${PASSERELLE_PYTHON:=${PASSERELLE_ROOT}/.venv/bin/python}"

# Kafka broker jars fetched by Maven (scripts/install).
PASSERELLE_KAFKA_LIBS="${PASSERELLE_ROOT}/deploy/kafka/target/libs"

log() { printf '[passerelle] %s\n' "$*" >&2; }
warn() { printf '[passerelle] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[passerelle] ERROR: %s\n' "$*" >&2
  exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# need_root_or_say WHAT HOW: succeed when root; otherwise explain what needs root and how
# to do it by hand, then exit. Used before anything that needs apt or another user.
need_root_or_say() {
  local what="$1" how="${2:-}"
  is_root && return 0
  printf '[passerelle] ERROR: %s needs root.\n' "$what" >&2
  [[ -n "$how" ]] && printf '[passerelle] Run as root, or do it yourself:\n    %s\n' "$how" >&2
  exit 1
}

# Milliseconds since the epoch (bash 5 EPOCHREALTIME; the separator follows the locale).
now_ms() {
  local t="${EPOCHREALTIME//[.,]/}"
  printf '%s\n' "$((t / 1000))"
}

# elapsed_since START_MS -> "1.234s"
elapsed_since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%03ds\n' "$((ms / 1000))" "$((ms % 1000))"
}

# kafka_jars_present: the broker jar is what matters; the rest come with it.
kafka_jars_present() {
  compgen -G "${PASSERELLE_KAFKA_LIBS}/kafka_2.13-*.jar" >/dev/null
}

# run_tool MODULE ARGS...: replace this shell with `python -m tools.MODULE ARGS...` in the venv.
# The long commands (infra, containers) are Python programs in tools/; their scripts/ entry
# points stay so that nothing that calls them changes. -P: the caller's working directory never
# shadows the repository's modules.
run_tool() {
  local module="$1" venv
  shift
  [[ -x "$PASSERELLE_PYTHON" ]] ||
    die "$PASSERELLE_PYTHON is missing: run scripts/install first (it creates the Python environment)"
  # A venv made before the tools needed typer: say what to do rather than show a traceback.
  venv="${PASSERELLE_PYTHON%/bin/*}"
  if [[ -f "$venv/pyvenv.cfg" ]] && ! compgen -G "$venv/lib/python3*/site-packages/typer/__init__.py" >/dev/null; then
    die "typer is missing from $venv: run scripts/install"
  fi
  PYTHONPATH="${PASSERELLE_ROOT}${PYTHONPATH:+:$PYTHONPATH}" exec "$PASSERELLE_PYTHON" -P -m "tools.$module" "$@"
}
