# Sourced by the scripts here: make the project virtualenv (and, with --tools, the
# validators that need their own) from nothing but python3, and reuse them while
# their pins are unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CHECKOV_VERSION="3.3.30"  # runs from its own virtualenv: its pins clash with the project's

quiet_pip() {
  # pip's warnings about unreachable extra indexes are noise; real errors still fail the script
  "$@" --quiet --disable-pip-version-check 2> >(grep -v "^WARNING: Location" >&2)
}

ensure_project_venv() {
  local stamp="$ROOT/.venv/.installed-$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "== installing the project and its dev tools into .venv"
    "$PYTHON" -m venv "$ROOT/.venv"
    quiet_pip "$ROOT/.venv/bin/pip" install -e "$ROOT[dev]"
    rm -f "$ROOT"/.venv/.installed-*
    touch "$stamp"
  fi
}

ensure_policy_venv() {
  # The policy pack pins protobuf and grpcio differently from the project: its own .venv.
  local stamp="$ROOT/policy/.venv/.installed-$(cat "$ROOT/policy/requirements.txt" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "== installing the policy pack's requirements into policy/.venv"
    "$PYTHON" -m venv "$ROOT/policy/.venv"
    quiet_pip "$ROOT/policy/.venv/bin/pip" install -r "$ROOT/policy/requirements.txt"
    rm -f "$ROOT"/policy/.venv/.installed-*
    touch "$stamp"
  fi
}

ensure_debian_tools() {
  # promtool checks and tests the alert rules and dashboard queries; amtool the alert routing,
  # fed to the packaged Alertmanager to test inhibition.
  if command -v promtool >/dev/null && command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null; then
    return
  fi
  echo "== installing promtool and amtool (Debian packages prometheus, prometheus-alertmanager)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager >/dev/null
}

ensure_checkov() {
  local venv="$ROOT/.venv-tools/checkov"
  if [ ! -x "$venv/bin/checkov" ] || ! "$venv/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
    echo "== installing checkov $CHECKOV_VERSION into .venv-tools/checkov"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    quiet_pip "$venv/bin/pip" install "checkov==$CHECKOV_VERSION"
  fi
  export CHECKOV="$venv/bin/checkov"
}
