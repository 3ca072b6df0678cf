#!/usr/bin/env bash
# Builds what the real-engine e2e runs, from Go modules only (nothing built is committed):
# the Pulumi CLI, a Python language host, the TypeScript and Go code generation hosts
# (for `pulumi package gen-sdk`), the Kubernetes provider, and a Kubernetes
# control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kwok). Each comes from a wrapper module under e2e/toolchain/<tool>/ (go.mod, go.sum,
# and at most a few lines of main); each build lands in a cache outside the checkout,
# keyed by the wrapper's files, the Go version and the flags, and is reused while they
# are unchanged.
#
#   bash scripts/toolchain.sh            build what is missing, print each build's time
#   source scripts/toolchain.sh && toolchain_path   (what e2e.sh does) prints a PATH prefix
#
# The cache is $LLM_PLATFORM_CACHE (default ~/.cache/llm-platform); the Go module and
# build caches are Go's own (GOMODCACHE, GOCACHE), also outside the checkout.
set -euo pipefail

TOOLCHAIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAIN_WRAPPERS="$TOOLCHAIN_ROOT/e2e/toolchain"
TOOLCHAIN_CACHE="${LLM_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llm-platform}/toolchain"

# The versions built. Each must match its wrapper's go.mod (tests/test_e2e_toolchain.py says so).
PULUMI_CLI_VERSION="3.274.1"
KUBERNETES_PROVIDER_MODULE_VERSION="v4.0.0-20260115033456-f47bc2d6f199"
KUBERNETES_RELEASE="1.36.3"
ETCD_VERSION="3.6.16"
KWOK_VERSION="0.8.0"

export GOFLAGS="-buildvcs=false -mod=readonly -trimpath"
export CGO_ENABLED=0

_key() {  # a digest of what decides a build: the wrapper's files, Go, and the build line
  local tool=$1
  shift
  {
    (cd "$TOOLCHAIN_WRAPPERS/$tool" && find . -type f | LC_ALL=C sort | xargs sha256sum)
    go version
    echo "$*"
  } | sha256sum | cut -c1-16
}

# _build TOOL OUT LDFLAGS [FLAG...] PACKAGE... : builds into the cache unless it is there
# and echoes the bin dir. OUT names the binary of a one-package build ("" keeps Go's names).
# Every step checks its own status: it runs inside `dir=$(_build ...) || return`, where
# bash ignores `set -e`.
_build() (
  local tool=$1 out=$2 ldflags=$3
  shift 3
  local dir
  dir="$TOOLCHAIN_CACHE/$tool-$(_key "$tool" "$ldflags" "$@")"
  if [ ! -f "$dir/.built" ]; then
    local started=$SECONDS work
    work="$(mktemp -d "$TOOLCHAIN_CACHE/.build-$tool-XXXXXX")" || exit 1
    cp -r "$TOOLCHAIN_WRAPPERS/$tool/." "$work/src" && mkdir -p "$work/bin" || exit 1
    if declare -F "_prepare_$tool" >/dev/null; then
      "_prepare_$tool" "$work/src" "$work/bin" || { echo "toolchain: preparing $tool failed" >&2; exit 1; }
    fi
    (cd "$work/src" && go build -ldflags "-s -w $ldflags" -o "$work/bin/$out" "$@") >&2 \
      || { echo "toolchain: building $tool failed" >&2; exit 1; }
    rm -rf "$dir" && mv "$work/bin" "$dir" && rm -rf "$work" && touch "$dir/.built" || exit 1
    echo "toolchain: built $tool in $((SECONDS - started)) s" >&2
  fi
  echo "$dir"
)

_moddir() {  # the module cache directory of MODULE@VERSION (downloading it if needed)
  (cd "$TOOLCHAIN_WRAPPERS/$1" && go mod download -json "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
}

_prepare_kubernetes-provider() {
  # What the provider's own `go generate` writes: the schema stamped with the version,
  # and the Terraform mapping, both re-serialised compactly.
  local src=$1 mod
  mod="$(_moddir kubernetes-provider "github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_PROVIDER_MODULE_VERSION")/cmd/pulumi-resource-kubernetes"
  python3 - "$mod" "$src" "${KUBERNETES_PROVIDER_MODULE_VERSION#v}" <<'EOF'
import json, sys, pathlib
mod, src, version = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
schema = json.loads((mod / "schema.json").read_text())
schema["version"] = version
(src / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
mapping = json.loads((mod / "terraform-mapping.json").read_text())
(src / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))
EOF
}

_prepare_kwok() {
  # kwok acts only through "stages"; these are the ones kwokctl gives a cluster by default
  # (nodes Ready with lease heartbeats, pods Ready at once, Job pods completing).
  local bin=$2 mod
  mod="$(_moddir kwok "sigs.k8s.io/kwok@v$KWOK_VERSION")/kustomize/stage"
  for f in "$mod"/node/fast/*.yaml "$mod"/node/heartbeat-with-lease/*.yaml "$mod"/pod/fast/*.yaml; do
    cat "$f"
    echo "---"
  done >"$bin/kwok-stages.yaml"
}

_prepare_language-python() {
  # The SDK's exec shim must sit next to the host, as in a release.
  local bin=$2 sdk
  sdk="$(_moddir language-python "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_CLI_VERSION")"
  cp "$sdk/python/cmd/pulumi-language-python-exec" "$bin/" && chmod 0755 "$bin/pulumi-language-python-exec"
}

# toolchain_path: builds what is missing and prints the PATH prefix that holds it all.
toolchain_path() {
  mkdir -p "$TOOLCHAIN_CACHE"
  local k8s_version="-X k8s.io/component-base/version.gitVersion=v$KUBERNETES_RELEASE"
  k8s_version+=" -X k8s.io/component-base/version.gitMajor=${KUBERNETES_RELEASE%%.*}"
  k8s_version+=" -X k8s.io/component-base/version.gitMinor=$(echo "$KUBERNETES_RELEASE" | cut -d. -f2)"
  # One build at a time, each checked: a failure inside $( ) would not stop `set -e`.
  local dirs=() dir
  dir="$(_build pulumi "" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_CLI_VERSION" \
    -tags osusergo,grpcnotrace github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)" || return 1
  dirs+=("$dir")
  dir="$(_build language-python pulumi-language-python "-X main.Version=$PULUMI_CLI_VERSION" .)" || return 1
  dirs+=("$dir")
  dir="$(_build language-codegen "" "-X main.Version=$PULUMI_CLI_VERSION" \
    ./pulumi-language-nodejs ./pulumi-language-go)" || return 1
  dirs+=("$dir")
  dir="$(_build kubernetes-provider pulumi-resource-kubernetes \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${KUBERNETES_PROVIDER_MODULE_VERSION#v}" .)" || return 1
  dirs+=("$dir")
  dir="$(_build etcd etcd "" .)" || return 1
  dirs+=("$dir")
  dir="$(_build kwok "" "" sigs.k8s.io/kwok/cmd/kwok)" || return 1
  dirs+=("$dir")
  dir="$(_build control-plane "" "$k8s_version" k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl)" || return 1
  dirs+=("$dir")
  local IFS=:
  echo "${dirs[*]}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  toolchain_path
fi
