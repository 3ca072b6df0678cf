"""How requests reach a model's tracks: one HTTPRoute on the shared Gateway.

The seam for anything placed in front of the models (an AI gateway, issue 14): it receives the
tracks' Services with their weights and the runtime's published paths and port, and nothing
else about the pods."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.serving.args import RouteArgs


def http_route(
    name: str,
    namespace: pulumi.Input[str],
    route: RouteArgs,
    backends: list[tuple[str, int]],
    path_prefixes: tuple[str, ...],
    port: int,
    parent: pulumi.Resource,
) -> k8s.apiextensions.CustomResource:
    """Publishes only `path_prefixes` (those the runtime's API key guards), split over
    `backends` (Service name, weight percent)."""
    return k8s.apiextensions.CustomResource(
        f"{name}-route",
        api_version="gateway.networking.k8s.io/v1",
        kind="HTTPRoute",
        metadata=_k8s.meta(name, namespace, labels.standard(name, labels.INFERENCE)),
        spec={
            "parentRefs": [
                {
                    "name": route["gateway_name"],
                    "namespace": route["gateway_namespace"],
                    "sectionName": "https",
                }
            ],
            "hostnames": [route["hostname"]],
            "rules": [
                {
                    # Only what the key guards: for vLLM, /invocations, /tokenize, /metrics, /docs
                    # and the rest answer without it, so they stay inside the cluster.
                    "matches": [{"path": {"type": "PathPrefix", "value": p}} for p in path_prefixes],
                    "backendRefs": [
                        {"name": service, "port": port, "weight": weight} for service, weight in backends
                    ],
                }
            ],
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )
