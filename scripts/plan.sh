#!/usr/bin/env bash
# The offline plan of a stack (default dev): what `pulumi up` would create, in
# build/plan/<stack>/, with no Pulumi CLI, cloud account or cluster.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"
ensure_project_venv
stack="${1:-dev}"
shift || true
exec .venv/bin/python -m infra plan --stack "$stack" "$@"
