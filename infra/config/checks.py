"""Rules that span several config fields, checked after pydantic has checked each field.

Each rule yields `Problem`s naming the key path to fix, so a stack file with
five mistakes gets five lines, not the first one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network

from components.core import gpu_catalog
from components.core.subnets import LARGEST_PREFIX, SMALLEST_PREFIX
from infra.config.cloud import GpuPoolConfig, NetworkConfig, SystemNodesConfig
from infra.config.stack import StackConfig

EVERYWHERE = IPv4Network("0.0.0.0/0")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"error: {self.path}: {self.message}"


def check_stack(cfg: StackConfig) -> list[Problem]:
    return [
        *_network(cfg.network, cfg.aws.region),
        *_endpoint(cfg),
        *_system_nodes(cfg.cluster.system_nodes),
        *(p for name, pool in cfg.gpu_pools.items() for p in _gpu_pool(f"gpuPools.{name}", pool)),
    ]


def _network(net: NetworkConfig, region: str) -> Iterator[Problem]:
    zones = net.availability_zones
    for i, zone in enumerate(zones):
        if not (zone.startswith(region) and len(zone) == len(region) + 1 and zone[-1].isalpha()):
            yield Problem(
                f"network.availabilityZones[{i}]",
                f"{zone!r} is not an availability zone of {region}; use names like {region}a",
            )
    if len(set(zones)) != len(zones):
        yield Problem("network.availabilityZones", "lists a zone twice; each zone once")

    existing = net.existing_vpc
    if existing is None:
        if not LARGEST_PREFIX <= net.vpc_cidr.prefixlen <= SMALLEST_PREFIX:
            yield Problem(
                "network.vpcCidr",
                f"/{net.vpc_cidr.prefixlen} is outside /{LARGEST_PREFIX} to /{SMALLEST_PREFIX}; "
                "AWS allows at most a /16 and smaller VPCs leave too few pod addresses",
            )
        return
    for key in ("vpc_cidr", "nat_gateways", "flow_log_retention_days"):
        if key in net.model_fields_set:
            alias = NetworkConfig.model_fields[key].alias
            yield Problem(
                f"network.{alias}",
                "applies only to a new VPC; remove it, or remove network.existingVpc",
            )
    for key, ids in (
        ("privateSubnetIds", existing.private_subnet_ids),
        ("publicSubnetIds", existing.public_subnet_ids),
    ):
        if ids and len(ids) < len(zones):
            yield Problem(
                f"network.existingVpc.{key}",
                f"{len(ids)} subnets for {len(zones)} availability zones; "
                "list one subnet per zone in network.availabilityZones",
            )
        if len(set(ids)) != len(ids):
            yield Problem(f"network.existingVpc.{key}", "lists a subnet twice")


def _endpoint(cfg: StackConfig) -> Iterator[Problem]:
    for i, cidr in enumerate(cfg.cluster.endpoint.public_access_cidrs):
        if cidr.prefixlen == 0 or cidr == EVERYWHERE:
            yield Problem(
                f"cluster.endpoint.publicAccessCidrs[{i}]",
                f"{cidr} opens the Kubernetes API to the whole internet; list your office, VPN "
                "and CI CIDRs, or leave the list empty for a private endpoint",
            )


def _sizes(path: str, min_size: int, max_size: int, desired: int | None) -> Iterator[Problem]:
    if min_size > max_size:
        yield Problem(f"{path}.minSize", f"{min_size} is above maxSize {max_size}")
    elif desired is not None and not min_size <= desired <= max_size:
        yield Problem(
            f"{path}.desiredSize", f"{desired} is outside minSize..maxSize ({min_size}..{max_size})"
        )


def _system_nodes(nodes: SystemNodesConfig) -> Iterator[Problem]:
    path = "cluster.systemNodes"
    yield from _sizes(path, nodes.min_size, nodes.max_size, nodes.desired_size)
    for i, name in enumerate(nodes.instance_types):
        itype = gpu_catalog.lookup(name)
        if itype is None or itype.is_gpu:
            yield Problem(
                f"{path}.instanceTypes[{i}]",
                f"{name!r} is not a CPU instance type of the catalog; "
                f"use one of {', '.join(gpu_catalog.CPU_INSTANCE_TYPES)}",
            )


def _gpu_pool(path: str, pool: GpuPoolConfig) -> Iterator[Problem]:
    yield from _sizes(path, pool.min_size, pool.max_size, pool.desired_size)
    known = []
    for i, name in enumerate(pool.instance_types):
        itype = gpu_catalog.lookup(name)
        if itype is None or not itype.is_gpu:
            yield Problem(
                f"{path}.instanceTypes[{i}]",
                f"{name!r} is not a GPU instance type of the catalog; "
                f"use one of {', '.join(gpu_catalog.GPU_INSTANCE_TYPES)}",
            )
        else:
            known.append(itype)
    shapes = {(t.gpu_model, t.gpus) for t in known}
    if len(shapes) > 1:
        listed = ", ".join(f"{t.name} ({t.gpus} x {t.gpu_model})" for t in known)
        yield Problem(
            f"{path}.instanceTypes",
            f"mixes GPU shapes: {listed}; a pool holds one GPU model and count per node, "
            "so that every pod it places fits every node; split it into several pools",
        )
