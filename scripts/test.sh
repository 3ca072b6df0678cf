#!/usr/bin/env bash
# Everything CI checks, on a machine with only python3: lint, types, tests, and
# the offline plans of dev and prod through kubernetes-validate, the pinned CRD
# schemas, checkov, parliament and the pinned charts' values
# (tests/test_validators.py); alert rules through promtool, routing through amtool;
# the policy pack against resources of those plans (policy/tests).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"
ensure_project_venv
ensure_checkov
ensure_debian_tools
ensure_policy_venv

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
.venv/bin/mypy examples/consumer/__main__.py
echo "== pytest"
.venv/bin/python -m pytest "$@"
echo "== policy pack (its own environment; plans made by the project's)"
LLM_PLATFORM_PYTHON="$ROOT/.venv/bin/python" policy/.venv/bin/python -m pytest -p no:cacheprovider policy/tests
