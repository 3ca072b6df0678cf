"""A tenant namespace's network policies: deny everything, then allow each path on its own.

Ingress to the model pods comes from the AI gateway's proxies (or, without the gateway, the load
balancer subnets), Prometheus and, behind the gateway, the endpoint pickers reading their
metrics; egress is DNS, the Pod Identity agent, EFS, S3 for pods that stream weights, and the
public internet on 443 for the weights sync Job alone. The pickers take the proxies' calls and
reach the model pods and the API server (picker_policies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components.core import endpoint_picker as epp
from components.core import labels, netpol
from components.core.gateway import PROXY_POD_LABELS as GATEWAY_PROXY_LABELS
from components.core.triton import METRICS_PORT as TRITON_METRICS_PORT

NFS_PORT = 2049
HTTPS_PORT = 443
LINK_LOCAL = "169.254.0.0/16"  # instance metadata and the like: never the API server


def network_policies(
    load_balancer_cidrs: pulumi.Input[Sequence[pulumi.Input[str]]],
    storage_cidrs: pulumi.Input[Sequence[pulumi.Input[str]]],
    s3_cidrs: pulumi.Input[Sequence[pulumi.Input[str]]],
    gateway_namespace: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The namespace's policies by name: deny all, then each allowed path on its own."""
    every_pod: dict[str, Any] = {}
    inference_pods = {"matchLabels": {labels.COMPONENT: labels.INFERENCE}}
    callers: Any
    if gateway_namespace is None:
        # Load balancers target pod addresses directly from the public subnets.
        callers = pulumi.Output.from_input(load_balancer_cidrs).apply(
            lambda cidrs: [{"ipBlock": {"cidr": c}} for c in cidrs]
        )
    else:
        # Only the AI gateway's proxies: every caller is identified, budgeted and audited there.
        callers = [netpol.pods(GATEWAY_PROXY_LABELS, gateway_namespace)]

    policies: dict[str, dict[str, Any]] = {
        "default-deny": {"podSelector": every_pod, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": every_pod,
            "policyTypes": ["Egress"],
            "egress": [{"to": netpol.DNS_PEERS, "ports": netpol.DNS_PORTS}],
        },
        "allow-pod-identity": {
            "podSelector": every_pod,
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": labels.POD_IDENTITY_AGENT}}], "ports": netpol.tcp(80)}],
        },
        "allow-model-ingress": {
            "podSelector": inference_pods,
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": callers, "ports": netpol.tcp(labels.VLLM_PORT)},
                # Triton serves its metrics on a port of their own (vLLM on the API port).
                {"from": netpol.MONITORING_PEERS, "ports": netpol.tcp(labels.VLLM_PORT, TRITON_METRICS_PORT)},
            ],
        },
        "allow-efs": {
            "podSelector": every_pod,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": pulumi.Output.from_input(storage_cidrs).apply(
                        lambda cidrs: [{"ipBlock": {"cidr": c}} for c in cidrs]
                    ),
                    "ports": netpol.tcp(NFS_PORT),
                }
            ],
        },
        # Serving pods that stream weights reach S3 only: a gateway endpoint has no address in
        # the VPC, traffic to it goes to S3's public addresses (the region's prefix list).
        "allow-s3-https": {
            "podSelector": {"matchLabels": {labels.S3_EGRESS: "true"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": pulumi.Output.from_input(s3_cidrs).apply(
                        lambda cidrs: netpol.ip_blocks(cidrs, "S3")
                    ),
                    "ports": netpol.tcp(HTTPS_PORT),
                }
            ],
        },
        # The weights sync Job downloads from the Hugging Face Hub (a CDN whose addresses
        # change), so it alone may reach any public address on 443.
        "allow-public-https": {
            "podSelector": {"matchLabels": {labels.PUBLIC_HTTPS_EGRESS: "true"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(labels.PRIVATE_RANGES)}}],
                    "ports": netpol.tcp(HTTPS_PORT),
                }
            ],
        },
    }
    if gateway_namespace is not None:
        policies.update(picker_policies(callers))
        # The pickers read each model pod's queue and KV-cache use from its /metrics.
        policies["allow-model-ingress"]["ingress"].append(
            {"from": [netpol.pods({labels.COMPONENT: epp.COMPONENT})], "ports": netpol.tcp(labels.VLLM_PORT)}
        )
    return policies


def picker_policies(callers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The endpoint pickers of the namespace's InferencePools (components/endpoint_picker.py):
    asked by the gateway's proxies, scraped by Prometheus; they read the model pods' /metrics
    and watch their pool and pods through the API server."""
    pickers = {"matchLabels": {labels.COMPONENT: epp.COMPONENT}}
    return {
        "allow-picker-ingress": {
            "podSelector": pickers,
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": callers, "ports": netpol.tcp(epp.EXT_PROC_PORT)},
                {"from": netpol.MONITORING_PEERS, "ports": netpol.tcp(epp.METRICS_PORT)},
            ],
        },
        "allow-picker-egress": {
            "podSelector": pickers,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [netpol.pods({labels.COMPONENT: labels.INFERENCE})],
                    "ports": netpol.tcp(labels.VLLM_PORT),
                },
                # The API server: EKS puts its endpoints in the VPC and its Service address in the
                # cluster's service range, neither known when the program runs; HTTPS to private
                # addresses only, never the internet.
                {
                    "to": [{"ipBlock": {"cidr": c}} for c in labels.PRIVATE_RANGES if c != LINK_LOCAL],
                    "ports": netpol.tcp(HTTPS_PORT),
                },
            ],
        },
    }
