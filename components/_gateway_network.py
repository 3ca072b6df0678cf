"""The AI gateway namespaces' NetworkPolicies (components/core/gateway_network.py) as resources."""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.core.gateway_network import gateway_network_policies
from components.core.netpol import ip_blocks


def gateway_network(
    name: str,
    namespaces: Mapping[str, pulumi.Output[str]],
    load_balancer_cidrs: pulumi.Input[Sequence[pulumi.Input[str]]],
    control_plane_cidrs: pulumi.Input[Sequence[pulumi.Input[str]]],
    parent: pulumi.Resource,
) -> None:
    """One NetworkPolicy per entry, in the namespace it names (`namespaces`: the Namespace
    resources' names, so each policy waits for its namespace)."""
    load_balancers = pulumi.Output.from_input(load_balancer_cidrs).apply(
        lambda cidrs: ip_blocks([str(c) for c in cidrs], "load balancer")
    )
    control_plane = pulumi.Output.from_input(control_plane_cidrs).apply(
        lambda cidrs: ip_blocks([str(c) for c in cidrs], "control plane")
    )
    for policy in gateway_network_policies(load_balancers, control_plane):
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{policy.namespace}-{policy.name}",
            metadata=_k8s.meta(policy.name, namespaces[policy.namespace], dict(labels.PART_OF)),
            spec=policy.spec,
            opts=pulumi.ResourceOptions(parent=parent),
        )
