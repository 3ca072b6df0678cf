"""Every version the platform pins, in one place.

tests/test_versions.py checks the chart pins against the chart files under
../shared/upstream/charts/ (the files the Helm values are validated against).

EKS facts (researched 2026-11-21, newest sources of 2026-09): Kubernetes 1.36
reached EKS on 2026-06-02 and stays in standard support until 2027-08-02; from
1.35 on, the AL2023 NVIDIA AMI labels GPU nodes nvidia.com/gpu.present=true.
The add-on builds are those AWS's add-on tables (coredns, kube-proxy) and
published pins (vpc-cni, eks-pod-identity-agent, aws-efs-csi-driver) gave for
1.36. Before an upgrade, read the current builds with
`aws eks describe-addon-versions --kubernetes-version <v> --addon-name <name>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

KUBERNETES_VERSION = "1.36"


@dataclass(frozen=True)
class EksAddon:
    version: str
    configuration: str | None = None
    """The add-on's configuration values as JSON, or None for its defaults."""


EKS_ADDONS: dict[str, EksAddon] = {
    # NetworkPolicy objects are inert on EKS until the CNI's policy agent is on.
    "vpc-cni": EksAddon("v1.22.4-eksbuild.3", json.dumps({"enableNetworkPolicy": "true"})),
    "kube-proxy": EksAddon("v1.36.0-eksbuild.14"),
    "coredns": EksAddon("v1.14.3-eksbuild.3"),
    "eks-pod-identity-agent": EksAddon("v1.3.10-eksbuild.3"),
}


# Block storage (Prometheus, Alertmanager, Loki volumes); the default build for 1.36
# that `aws eks describe-addon-versions` reported on 2026-08-27.
EBS_CSI_ADDON = EksAddon("v1.64.0-eksbuild.1")

# Installed by ModelStore, not by Cluster: only a stack with shared model storage needs it.
EFS_CSI_ADDON = EksAddon("v3.4.1-eksbuild.1")  # driver 3.4.1, as chart aws-efs-csi-driver 4.4.1

# Container images, by release tag (never latest).
VLLM_VERSION = "v0.33.0"
VLLM_IMAGE = f"vllm/vllm-openai:{VLLM_VERSION}"
# Triton Inference Server with its vLLM backend (runtime: triton): the <yy.mm>-vllm-python-py3
# image family, 26.07 = server v2.71.0. It bundles its own vLLM, 0.24.0 (NVIDIA build
# 0.24.0+092c4842.nv26.7.57386851), older than VLLM_VERSION: the engine arguments Triton
# models get are limited to those that release has (components/core/triton.py).
TRITON_RELEASE = "26.07"
TRITON_SERVER_VERSION = "2.71.0"
TRITON_IMAGE = f"nvcr.io/nvidia/tritonserver:{TRITON_RELEASE}-vllm-python-py3"
TRITON_BUNDLED_VLLM_VERSION = "0.24.0"
# Triton has no API key: this proxy in each Triton pod asks for one (unprivileged nginx, as a
# non-root user on a read-only root; mainline 1.29.5 of 2026-02).
AUTH_PROXY_IMAGE = "nginxinc/nginx-unprivileged:1.29.5-alpine"
AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.36.32"  # AWS CLI v2 release of 2026-08-26
# The Hub download of a model sync job: a slim Python (about 50 MB, against the multi-GB CUDA
# vLLM image) that installs the Hub client at pinned versions into an emptyDir when it starts.
HUB_SYNC_IMAGE = "python:3.12.12-slim-bookworm"
HUGGINGFACE_HUB_VERSION = "2.4.0"
HF_XET_VERSION = "1.8.0"


@dataclass(frozen=True)
class HelmChart:
    name: str
    version: str
    repository: str


NVIDIA_DEVICE_PLUGIN = HelmChart(
    "nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin"
)

KEDA = HelmChart("keda", "2.20.2", "https://kedacore.github.io/charts")
AWS_LOAD_BALANCER_CONTROLLER = HelmChart(
    "aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts"
)

KUBE_PROMETHEUS_STACK = HelmChart(
    "kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts"
)
DCGM_EXPORTER = HelmChart("dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts")
# The OSS Loki chart moved to grafana-community in March 2026; grafana/loki's chart is enterprise-only now.
LOKI = HelmChart("loki", "18.11.0", "https://grafana-community.github.io/helm-charts")
ALLOY = HelmChart("alloy", "1.11.1", "https://grafana.github.io/helm-charts")

# Karpenter publishes its chart only as an OCI artifact. The chart files at the v1.14.1 tag
# (../shared/upstream/charts/karpenter) still say 1.13.0 and name the 1.13.0 controller
# image: the release bump is not on the tag (upstream MANIFEST item 5). The image is
# therefore pinned here, to the chart's own release, and set in the values explicitly.
KARPENTER = HelmChart("karpenter", "1.14.1", "oci://public.ecr.aws/karpenter")
KARPENTER_IMAGE_REPOSITORY = "public.ecr.aws/karpenter/controller"
KARPENTER_IMAGE_TAG = "1.14.1"
KARPENTER_IMAGE = f"{KARPENTER_IMAGE_REPOSITORY}:{KARPENTER_IMAGE_TAG}"
# Chart files of a pinned release that upstream left at an older version string, with the
# version they say instead: tests compare the pin with this, and say why.
STALE_UPSTREAM_CHART_VERSIONS = {"karpenter": "1.13.0"}
# The AI gateway (issue 14). The charts are published as OCI artifacts; in git their Chart.yaml
# says v0.0.0-latest and the release workflow stamps the tag (../shared/upstream/MANIFEST.md
# items 11 and 12), so tests/test_versions.py knows these charts under their upstream folders.
ENVOY_GATEWAY = HelmChart("gateway-helm", "v1.9.0", "oci://docker.io/envoyproxy")
AI_GATEWAY = HelmChart("ai-gateway-helm", "v1.1.0", "oci://docker.io/envoyproxy")
# Only the AI gateway's CRDs (plain CRDs, no values); the same release as AI_GATEWAY.
AI_GATEWAY_CRDS = HelmChart("ai-gateway-crds-helm", "v1.1.0", "oci://docker.io/envoyproxy")
# The token budgets' counters: no persistence (a lost counter resets a budget window early).
REDIS_IMAGE = "docker.io/library/redis:7.4.2-alpine"
REDIS_EXPORTER_IMAGE = "docker.io/oliver006/redis_exporter:v1.67.0"
# Cache-aware routing (Gateway API Inference Extension, ../shared/upstream/MANIFEST.md item 9):
# the InferencePool CRD of v1.6.0 (it accepts everything v1.5.0's did), and the endpoint picker
# of v1.5.0, the last release that ships it (and the image its inferencepool chart runs).
INFERENCE_EXTENSION_VERSION = "v1.6.0"
INFERENCE_POOL_CRDS = (
    "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/"
    f"{INFERENCE_EXTENSION_VERSION}/v1-manifests.yaml"
)
ENDPOINT_PICKER_IMAGE = "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0"

HELM_CHARTS = (
    NVIDIA_DEVICE_PLUGIN,
    KEDA,
    AWS_LOAD_BALANCER_CONTROLLER,
    KUBE_PROMETHEUS_STACK,
    DCGM_EXPORTER,
    LOKI,
    ALLOY,
    KARPENTER,
    ENVOY_GATEWAY,
    AI_GATEWAY,
    AI_GATEWAY_CRDS,
)

UPSTREAM_CHART_DIRS = {ENVOY_GATEWAY.name: "envoy-gateway", AI_GATEWAY.name: "ai-gateway"}
"""Charts whose pinned files under ../shared/upstream/charts/ sit in a folder of another name."""

# The controller needs every standard Gateway API CRD (GRPCRoute included) before it starts,
# and is built for Gateway API v1.6; these are the CRDs of ../shared/upstream/crds.
GATEWAY_API_VERSION = "v1.6.1"
GATEWAY_API_CRDS = (
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/"
    f"{GATEWAY_API_VERSION}/standard-install.yaml"
)
