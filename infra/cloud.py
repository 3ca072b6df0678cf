"""The cloud layer of the stack: AWS provider, network, EKS cluster, GPU pools and their runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import Cluster, GpuNodePool, GpuRuntime, ImageCache, Karpenter, Network
from components.gpu_node_pool import GpuNodePoolArgs
from components.versions import KARPENTER, NVIDIA_DEVICE_PLUGIN
from infra.charts import chart_source
from infra.config import NAMESPACE, StackConfig

# config spelling -> EKS API
CAPACITY_TYPES: dict[str, Literal["ON_DEMAND", "SPOT"]] = {"onDemand": "ON_DEMAND", "spot": "SPOT"}


@dataclass(frozen=True)
class Cloud:
    name: str
    """The cluster name, which also names the stack's shared resources."""
    aws_provider: aws.Provider
    network: Network
    cluster: Cluster
    pools: dict[str, GpuNodePool]
    karpenter: Karpenter | None = None

    @property
    def on_aws(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[self.aws_provider])

    @property
    def on_cluster(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[self.cluster.provider])

    @property
    def on_both(self) -> pulumi.ResourceOptions:
        """For components that make AWS resources and Kubernetes objects together."""
        return pulumi.ResourceOptions(providers=[self.aws_provider, self.cluster.provider])


def cluster_name(cfg: StackConfig, stack: str) -> str:
    return cfg.cluster.name or f"{NAMESPACE}-{stack}"


def stack_tags(cfg: StackConfig, stack: str) -> dict[str, str]:
    """The cost-allocation tags of every AWS resource: the provider's default tags, and what
    node groups put on the instances, volumes and network interfaces they launch."""
    return {"project": NAMESPACE, "stack": stack, **cfg.aws.tags}


def build_cloud(cfg: StackConfig, stack: str) -> Cloud:
    name = cluster_name(cfg, stack)
    tags = stack_tags(cfg, stack)
    aws_provider = aws.Provider(
        "aws",
        region=cfg.aws.region,
        allowed_account_ids=cfg.aws.allowed_account_ids or None,
        default_tags={"tags": tags},
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
            "node_tags": tags,
            "protect": cfg.protect,
        },
        on_aws,
    )

    on_both = pulumi.ResourceOptions(providers=[aws_provider, cluster.provider])
    karpenter = None
    if any(pool.kind == "karpenter" for pool in cfg.gpu_pools.values()):
        karpenter = Karpenter(
            f"{name}-karpenter",
            {
                "cluster_name": cluster.cluster_name,
                "cluster_arn": cluster.cluster_arn,
                "chart_source": chart_source(cfg, KARPENTER),
            },
            on_both,
        )
    pools = {}
    for pool_name, pool in cfg.gpu_pools.items():
        args: GpuNodePoolArgs = {
            "cluster_name": cluster.cluster_name,
            "subnet_ids": network.private_subnet_ids,
            "instance_types": pool.instance_types,
            "capacity_type": CAPACITY_TYPES[pool.capacity_type],
            "min_size": pool.min_size,
            "max_size": pool.max_size,
            "desired_size": pool.desired_size if pool.desired_size is not None else pool.min_size,
            "root_volume_gib": pool.root_volume_gib,
            "pool_label": pool_name,
            "node_tags": tags,
        }
        if pool.kind == "karpenter" and karpenter is not None:
            args["karpenter"] = {
                "release_name": karpenter.release_name,
                "node_role_name": karpenter.node_role_name,
                "node_role_arn": karpenter.node_role_arn,
                "availability_zones": net.availability_zones,
                # EKS tags the cluster security group with the cluster's name.
                "security_group_tags": {"aws:eks:cluster-name": name},
            }
            if pool.image_snapshot_id is not None:
                args["karpenter"]["image_snapshot_id"] = pool.image_snapshot_id
            if net.existing_vpc is None:
                # What the Network puts on its private subnets (the public ones lack the role tag);
                # adopted subnets are selected by id.
                args["karpenter"]["subnet_tags"] = {
                    f"kubernetes.io/cluster/{name}": "shared",
                    "kubernetes.io/role/internal-elb": "1",
                }
        pools[pool_name] = GpuNodePool(
            f"{name}-{pool_name}", args, on_both if "karpenter" in args else on_aws
        )
    _image_cache(cfg, name, karpenter, pools, on_aws)
    cloud = Cloud(name, aws_provider, network, cluster, pools, karpenter)
    GpuRuntime(
        "gpu-runtime",
        {"namespace": "gpu-runtime", "chart_source": chart_source(cfg, NVIDIA_DEVICE_PLUGIN)},
        cloud.on_cluster,
    )
    return cloud


def _image_cache(
    cfg: StackConfig,
    name: str,
    karpenter: Karpenter | None,
    pools: dict[str, GpuNodePool],
    on_aws: pulumi.ResourceOptions,
) -> ImageCache | None:
    """The pull-through cache, and the right of every GPU node role to fill it."""
    arn = cfg.images.docker_hub_cache_credential_arn
    if arn is None:
        return None
    cache = ImageCache(f"{name}-images", {"docker_hub_credential_arn": arn, "tags": cfg.aws.tags}, on_aws)
    roles: dict[str, pulumi.Input[str]] = {}
    if karpenter is not None:
        roles["karpenter"] = karpenter.node_role_name
    for pool_name, pool in pools.items():
        if cfg.gpu_pools[pool_name].kind == "managed":
            roles[pool_name] = pool.node_role_arn.apply(lambda a: a.rsplit("/", 1)[-1])
    for who, role in roles.items():
        aws.iam.RolePolicyAttachment(
            f"{name}-{who}-image-cache",
            role=role,
            policy_arn=cache.node_policy_arn,
            opts=on_aws,
        )
    return cache
