"""Building blocks of the platform's NetworkPolicies (tenant namespaces, the AI gateway's):
peers by address, namespace and pod label, and ports. Plain data, no Pulumi."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.core import labels

NAMESPACE_NAME = "kubernetes.io/metadata.name"
"""The label Kubernetes puts on every namespace: its name."""
DNS_PORT = 53


def ip_blocks(cidrs: Sequence[Any], what: str) -> list[dict[str, Any]]:
    """Peers by address. An empty list is refused: a rule with no peers admits every address."""
    if not cidrs:
        raise ValueError(f"no {what} CIDRs: refusing to write a network policy rule without peers")
    return [{"ipBlock": {"cidr": c}} for c in cidrs]


def namespace(name: str) -> dict[str, Any]:
    """Every pod of the namespace `name`."""
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: name}}}


def pods(pod_labels: dict[str, str], in_namespace: str | None = None) -> dict[str, Any]:
    """Pods by label, in `in_namespace` (default: the policy's own)."""
    peer = {"podSelector": {"matchLabels": dict(pod_labels)}}
    return {**namespace(in_namespace), **peer} if in_namespace else peer


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


DNS_PEERS = [pods({"k8s-app": "kube-dns"}, "kube-system")]
DNS_PORTS = [{"protocol": "UDP", "port": DNS_PORT}, *tcp(DNS_PORT)]
MONITORING_PEERS = [namespace(labels.MONITORING_NAMESPACE)]
"""Prometheus: the monitoring namespace scrapes what the platform exposes metrics on."""
