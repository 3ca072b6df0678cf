"""Label keys, well-known names and ports shared by the components that must agree on them."""

from __future__ import annotations

NAME = "app.kubernetes.io/name"
TENANT = "llm-platform.io/tenant"  # on every tenant namespace
COMPONENT = "app.kubernetes.io/component"
PART_OF = {"app.kubernetes.io/part-of": "llm-platform", "app.kubernetes.io/managed-by": "pulumi"}

INFERENCE = "inference"
"""Component label value of vLLM serving pods."""
MODEL_SYNC = "model-sync"
"""Component label value of the jobs that fill the shared model volume."""

PLATFORM_OWNED = "llm-platform.io/platform-owned"
"""Objects labelled "true" belong to the platform even inside a tenant's namespace: admission
refuses tenants changing them, and pods of tenants running as such a ServiceAccount."""

PUBLIC_HTTPS_EGRESS = "llm-platform.io/public-https-egress"
"""Pods labelled "true" may open HTTPS connections to public addresses (S3, the Hugging Face Hub):
the weights sync Job only, never a serving pod."""

S3_EGRESS = "llm-platform.io/s3-egress"
"""Pods labelled "true" may open HTTPS connections to the region's S3 addresses only (vLLM
streaming weights from the bucket); nothing else on the internet."""

MONITORING_NAMESPACE = "monitoring"
"""Namespace of Prometheus; tenants admit scrapes of the model port from it."""

VLLM_PORT = 8000
POD_IDENTITY_AGENT = "169.254.170.23/32"
"""Where the EKS Pod Identity agent hands out credentials (link-local, port 80)."""

PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
"""Addresses that are not the public internet: the VPC, peered networks, link-local."""


def standard(name: str, component: str) -> dict[str, str]:
    return {NAME: name, COMPONENT: component, **PART_OF}


def platform_owned() -> dict[str, str]:
    """Labels of an object the platform owns in a tenant's namespace (its ServiceAccounts)."""
    return {PLATFORM_OWNED: "true", **PART_OF}
