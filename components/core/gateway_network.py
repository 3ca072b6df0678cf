"""Who may talk to the AI gateway's pods: the NetworkPolicies of its two namespaces as plain data.

Every pod of `envoy-gateway-system` and `envoy-ai-gateway-system` admits nothing by default; one
policy per flow then admits exactly the peers that need it, on the ports they use. The flows were
mapped from the pinned charts (../shared/upstream/charts/envoy-gateway, .../ai-gateway) and, where
the values do not say, from the sources at the pinned tags (envoyproxy/gateway v1.9.0,
envoyproxy/ai-gateway v1.1.0); docs/ai-gateway.md has the table. No Pulumi here:
components/_gateway_network.py sends these.

Kubelet probes need no rule: the VPC CNI's policy agent always admits the node's own address.
Traffic inside a pod (Envoy -> its ext_proc sidecar over a Unix socket, the Redis exporter ->
127.0.0.1) never meets a policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.core import gateway as gw
from components.core import labels
from components.core.netpol import DNS_PEERS, DNS_PORTS, MONITORING_PEERS, pods, tcp

EG_RELEASE = "eg"
"""Helm release of Envoy Gateway (gateway-helm)."""
AI_GATEWAY_RELEASE = "aieg"
"""Helm release of Envoy AI Gateway (ai-gateway-helm)."""
INSTANCE = "app.kubernetes.io/instance"
MANAGED_BY = "app.kubernetes.io/managed-by"

# Pods, by the labels their makers give them.
EG_CONTROLLER_POD_LABELS = {labels.NAME: "gateway-helm", INSTANCE: EG_RELEASE}
"""gateway-helm's selector labels (chart name, release)."""
AI_CONTROLLER_POD_LABELS = {labels.NAME: "ai-gateway-helm", INSTANCE: AI_GATEWAY_RELEASE}
"""ai-gateway-helm's selector labels (chart name, release; fullnameOverride names only the objects)."""
RATELIMIT_POD_LABELS = {
    labels.NAME: "envoy-ratelimit",
    labels.COMPONENT: "ratelimit",
    MANAGED_BY: "envoy-gateway",
}
"""What Envoy Gateway puts on its rate-limit pods (internal/infrastructure/kubernetes/ratelimit)."""
REDIS_POD_LABELS = {labels.NAME: "redis", labels.COMPONENT: "ai-gateway-budgets"}
"""Selector of the token-budget Redis (components/_redis.py)."""
PROXY_POD_LABELS = gw.PROXY_POD_LABELS

# Ports each pod listens on that someone outside the pod calls.
XDS_PORT = 18000
"""Envoy Gateway controller: the proxies' xDS (gateway-helm deployment.ports `grpc`)."""
RATELIMIT_XDS_PORT = 18001
"""Envoy Gateway controller: the rate-limit service's configuration (deployment.ports `ratelimit`)."""
WASM_PORT = 18002
"""Envoy Gateway controller: Wasm modules for proxies (deployment.ports `wasm`). No policy of ours
uses Wasm, so nobody is admitted to it."""
CONTROLLER_METRICS_PORT = 19001
"""Envoy Gateway controller's metrics (deployment.ports `metrics`); not scraped today."""
EG_WEBHOOK_PORT = 9443
"""Envoy Gateway controller: the topology injector webhook (topologyInjector.enabled, the default)."""
AI_WEBHOOK_PORT = 9443
"""AI gateway controller: the mutating webhook that adds the ext_proc sidecar to proxy pods."""
AI_CONTROLLER_METRICS_PORT = 8080
"""AI gateway controller's metrics (controller.service.ports `http-metrics`); not scraped today."""
RATELIMIT_GRPC_PORT = 8081
"""Rate-limit service: the proxies' budget checks (ratelimit InfraGRPCPort)."""
REDIS_PORT = 6379
REDIS_EXPORTER_PORT = 9121
PROXY_NAMED_PORTS = {
    "metrics": gw.PROXY_STATS_PORT,
    "readiness": gw.PROXY_READY_PORT,
    "aigw-admin": gw.EXTPROC_METRICS_PORT,
}
"""Container ports by name on the proxy pods, which Envoy Gateway and the AI gateway's webhook
make (not in any plan): what a PodMonitor's named `port` means there."""


@dataclass(frozen=True)
class Policy:
    """One NetworkPolicy: its namespace, its name (what it allows), its spec."""

    namespace: str
    name: str
    spec: dict[str, Any]


def _ingress(pods: dict[str, str], peers: Any, ports: Sequence[int]) -> dict[str, Any]:
    return {
        "podSelector": {"matchLabels": dict(pods)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": peers, "ports": tcp(*ports)}],
    }


def _egress(pods: dict[str, str], peers: list[dict[str, Any]], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "podSelector": {"matchLabels": dict(pods)},
        "policyTypes": ["Egress"],
        "egress": [{"to": peers, "ports": ports}],
    }


def _deny_egress(pods: dict[str, str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": dict(pods)}, "policyTypes": ["Egress"]}


SCRAPED_PORTS = {
    "proxies": (PROXY_POD_LABELS, (gw.PROXY_STATS_PORT, gw.EXTPROC_METRICS_PORT)),
    "redis": (REDIS_POD_LABELS, (REDIS_EXPORTER_PORT,)),
}
"""What Prometheus scrapes in the gateway's namespaces today (the proxies' PodMonitor, Redis's
ServiceMonitor): the only ports the monitoring namespace is admitted to. The controllers' and the
rate-limit service's metrics are not scraped; a monitor for them needs its port added here."""


def gateway_network_policies(load_balancer_peers: Any, control_plane_peers: Any) -> list[Policy]:
    """Every NetworkPolicy of the two namespaces.

    `load_balancer_peers`: the ALB's addresses (ip_blocks of the public subnets, where an
    internet-facing ALB's nodes live; it targets pod IPs). `control_plane_peers`: where the API
    server calls webhooks from (ip_blocks of the cluster's subnets, which hold the EKS control
    plane's network interfaces; on the VPC CNI pods draw addresses from the same subnets, so this
    also admits pods to the webhook ports: TLS with the chart's own CA, and a webhook only answers
    with a patch, so a pod calling one changes nothing). Either may be a Pulumi Output of the list.
    """
    eg, ai = gw.CONTROLLER_NAMESPACE, gw.AI_CONTROLLER_NAMESPACE
    proxies = [pods(PROXY_POD_LABELS)]
    ratelimit = [pods(RATELIMIT_POD_LABELS)]
    # Ingress: nothing by default, then one policy per flow.
    policies = [
        Policy(eg, "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        Policy(ai, "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        # The ALB forwards requests to the listener and health-checks /ready, both by pod address.
        Policy(
            eg,
            "allow-alb-to-proxies",
            _ingress(PROXY_POD_LABELS, load_balancer_peers, (gw.PROXY_CONTAINER_PORT, gw.PROXY_READY_PORT)),
        ),
        Policy(
            eg, "allow-proxies-to-controller-xds", _ingress(EG_CONTROLLER_POD_LABELS, proxies, (XDS_PORT,))
        ),
        Policy(
            eg,
            "allow-ratelimit-to-controller-xds",
            _ingress(EG_CONTROLLER_POD_LABELS, ratelimit, (RATELIMIT_XDS_PORT,)),
        ),
        Policy(
            eg,
            "allow-apiserver-to-topology-webhook",
            _ingress(EG_CONTROLLER_POD_LABELS, control_plane_peers, (EG_WEBHOOK_PORT,)),
        ),
        Policy(
            eg, "allow-proxies-to-ratelimit", _ingress(RATELIMIT_POD_LABELS, proxies, (RATELIMIT_GRPC_PORT,))
        ),
        Policy(eg, "allow-ratelimit-to-redis", _ingress(REDIS_POD_LABELS, ratelimit, (REDIS_PORT,))),
        Policy(
            ai,
            "allow-envoy-gateway-to-extension-server",
            _ingress(
                AI_CONTROLLER_POD_LABELS, [pods(EG_CONTROLLER_POD_LABELS, eg)], (gw.AI_CONTROLLER_GRPC_PORT,)
            ),
        ),
        Policy(
            ai,
            "allow-apiserver-to-sidecar-webhook",
            _ingress(AI_CONTROLLER_POD_LABELS, control_plane_peers, (AI_WEBHOOK_PORT,)),
        ),
    ]
    policies += [
        Policy(eg, f"allow-monitoring-to-{group}-metrics", _ingress(pods, MONITORING_PEERS, ports))
        for group, (pods, ports) in SCRAPED_PORTS.items()
    ]
    # Egress, where the peers are few and known: Redis answers and never calls out (its exporter
    # reads it over loopback); the rate-limit service calls Redis and the controller's xDS by name.
    policies += [
        Policy(eg, "default-deny-egress-redis", _deny_egress(REDIS_POD_LABELS)),
        Policy(eg, "default-deny-egress-ratelimit", _deny_egress(RATELIMIT_POD_LABELS)),
        Policy(
            eg,
            "allow-ratelimit-egress-dns",
            _egress(RATELIMIT_POD_LABELS, DNS_PEERS, DNS_PORTS),
        ),
        Policy(
            eg,
            "allow-ratelimit-egress-redis",
            _egress(RATELIMIT_POD_LABELS, [pods(REDIS_POD_LABELS)], tcp(REDIS_PORT)),
        ),
        Policy(
            eg,
            "allow-ratelimit-egress-controller-xds",
            _egress(RATELIMIT_POD_LABELS, [pods(EG_CONTROLLER_POD_LABELS)], tcp(RATELIMIT_XDS_PORT)),
        ),
    ]
    return policies
