#!/usr/bin/env bash
# The real-engine e2e: builds (or reuses) the toolchain, then runs dev and prod through
# `pulumi up`, the scheduler's verdict, a no-change preview, a rollout, a drain, a preview
# with the policy pack and `pulumi destroy` on a local control plane, and generates and
# compiles the TypeScript and Go SDKs. AWS is answered by a stand-in provider
# (e2e/aws_standin, a test double): nothing here is evidence about AWS.
# Writes build/e2e/report.json; exits non-zero unless every check in it holds.
#   bash scripts/e2e.sh [--stacks dev,prod]
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"
ensure_project_venv
ensure_policy_venv
command -v go >/dev/null || { echo "e2e: needs Go 1.26 (go on PATH) to build its toolchain" >&2; exit 1; }
command -v openssl >/dev/null || { echo "e2e: needs openssl for the control plane's certificates" >&2; exit 1; }

started=$SECONDS
source scripts/toolchain.sh
toolchain="$(toolchain_path)"
echo "== e2e: toolchain ready in $((SECONDS - started)) s"
export PATH="$toolchain:$ROOT/e2e/aws_standin:$PATH"
export LLM_PLATFORM_E2E_KUBERNETES_PROVIDER="${KUBERNETES_PROVIDER_MODULE_VERSION#v}"

.venv/bin/python -m e2e.run "$@"
.venv/bin/python -m e2e.verdict build/e2e/report.json
echo "== e2e: done in $((SECONDS - started)) s"
