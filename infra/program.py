"""The stack program: read the stack config once, then wire the components into one graph."""

from __future__ import annotations

import json
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components import Cluster, GpuNodePool, GpuRuntime, Network
from infra.config import NAMESPACE, ConfigError, StackConfig, load_stack_config

# config spelling -> EKS API
CAPACITY_TYPES: dict[str, Literal["ON_DEMAND", "SPOT"]] = {"onDemand": "ON_DEMAND", "spot": "SPOT"}


def main() -> None:
    """Entry point under the Pulumi engine (or the offline plan's mock engine)."""
    try:
        cfg = load_stack_config(read_sections())
    except ConfigError as exc:
        # RunError is reported without a traceback: the lines already say what to fix.
        raise pulumi.RunError(f"invalid stack config:\n{exc}") from None
    build(cfg, pulumi.get_stack())


def read_sections() -> dict[str, Any]:
    """The `llm-platform:*` config keys of this stack, structured values decoded."""
    from pulumi.runtime.config import CONFIG

    # pulumi.Config has no way to list keys, and an unknown key (a typo) must be an error
    # rather than silently ignored, so read the raw config map the engine handed us.
    raw: dict[str, Any] = dict(CONFIG.get())
    prefix = f"{NAMESPACE}:"
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(prefix):
            sections[key.removeprefix(prefix)] = _decode(value)
    return sections


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def cluster_name(cfg: StackConfig, stack: str) -> str:
    return cfg.cluster.name or f"{NAMESPACE}-{stack}"


def build(cfg: StackConfig, stack: str) -> None:
    name = cluster_name(cfg, stack)
    aws_provider = aws.Provider(
        "aws",
        region=cfg.aws.region,
        allowed_account_ids=cfg.aws.allowed_account_ids or None,
        default_tags={"tags": {"project": NAMESPACE, "stack": stack, **cfg.aws.tags}},
    )
    on_aws = pulumi.ResourceOptions(providers=[aws_provider])

    net = cfg.network
    if net.existing_vpc is not None:
        network = Network(
            name,
            {
                "cluster_name": name,
                "availability_zones": net.availability_zones,
                "existing_vpc_id": net.existing_vpc.vpc_id,
                "existing_private_subnet_ids": net.existing_vpc.private_subnet_ids,
                "existing_public_subnet_ids": net.existing_vpc.public_subnet_ids,
            },
            on_aws,
        )
    else:
        network = Network(
            name,
            {
                "cluster_name": name,
                "availability_zones": net.availability_zones,
                "vpc_cidr": str(net.vpc_cidr),
                "nat_gateway_per_zone": net.nat_gateways == "perZone",
                "flow_log_retention_days": net.flow_log_retention_days,
            },
            on_aws,
        )

    system = cfg.cluster.system_nodes
    cluster = Cluster(
        name,
        {
            "subnet_ids": network.private_subnet_ids,
            "public_access_cidrs": [str(c) for c in cfg.cluster.endpoint.public_access_cidrs],
            "admin_arns": cfg.cluster.admins,
            "log_retention_days": cfg.cluster.log_retention_days,
            "system_instance_types": system.instance_types,
            "system_min_size": system.min_size,
            "system_max_size": system.max_size,
            "system_desired_size": system.desired_size or system.min_size,
            "system_disk_gib": system.disk_size_gib,
            "protect": cfg.protect,
        },
        on_aws,
    )
    on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])

    pools = {
        pool_name: GpuNodePool(
            f"{name}-{pool_name}",
            {
                "cluster_name": cluster.cluster_name,
                "subnet_ids": network.private_subnet_ids,
                "instance_types": pool.instance_types,
                "capacity_type": CAPACITY_TYPES[pool.capacity_type],
                "min_size": pool.min_size,
                "max_size": pool.max_size,
                "desired_size": pool.desired_size if pool.desired_size is not None else pool.min_size,
                "root_volume_gib": pool.root_volume_gib,
                "pool_label": pool_name,
            },
            on_aws,
        )
        for pool_name, pool in cfg.gpu_pools.items()
    }
    GpuRuntime("gpu-runtime", {"namespace": "gpu-runtime"}, on_cluster)

    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("clusterEndpoint", cluster.endpoint)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export(
        "gpuPools",
        {
            pool_name: {"nodeGroupName": p.node_group_name, "placement": p.placement.as_output()}
            for pool_name, p in pools.items()
        },
    )
