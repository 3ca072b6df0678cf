"""Rules that span several config fields, checked after pydantic has checked each field.

Each rule yields `Problem`s naming the key path to fix, so a stack file with
five mistakes gets five lines, not the first one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from ipaddress import IPv4Network
from pathlib import Path

from pydantic import BaseModel, SecretStr

from components.core import elb_logs, gpu_catalog
from components.core.capacity import check_capacity
from components.core.charts import local_chart_problem
from components.core.subnets import LARGEST_PREFIX, SMALLEST_PREFIX
from components.versions import HELM_CHARTS
from infra.config.cloud import GpuPoolConfig, NetworkConfig, SystemNodesConfig
from infra.config.derived import capacity_inputs
from infra.config.model_checks import models_problems, serving_problems
from infra.config.problem import Problem
from infra.config.stack import StackConfig

EVERYWHERE = IPv4Network("0.0.0.0/0")


def check_stack(cfg: StackConfig, secret_sections: Collection[str] = ()) -> list[Problem]:
    problems = [
        *_network(cfg.network, cfg.aws.region),
        *_endpoint(cfg),
        *_system_nodes(cfg.cluster.system_nodes),
        *(p for name, pool in cfg.gpu_pools.items() for p in _gpu_pool(f"gpuPools.{name}", pool)),
        *_secrets_in_plain_text(cfg, secret_sections),
        *_storage(cfg),
        *_tenants(cfg),
        *models_problems(cfg),
        *_alerting(cfg),
        *_chart_sources(cfg),
        *_cross_references(cfg),
        *_access_log_region(cfg),
        *_load_balancer_subnets(cfg),
    ]
    # Sizing reads the pools' GPU shapes: only once those are sound.
    if not any(p.path.startswith("gpuPools.") for p in problems):
        problems += serving_problems(cfg)
    # Capacity arithmetic needs every reference to resolve and every pool to be known.
    if not problems:
        problems += [Problem(p.path, p.message) for p in check_capacity(*capacity_inputs(cfg))]
    return problems


def _cross_references(cfg: StackConfig) -> list[Problem]:
    from infra.config.gateway_checks import check_gateway

    return [*_references(cfg), *check_gateway(cfg)]


def _references(cfg: StackConfig) -> list[Problem]:
    from infra.config.crossrefs import check_references  # it imports Problem from here

    return check_references(cfg)


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
        # Exactly one per zone, in zone order: EFS mount targets are made per private subnet and
        # named by its zone, and a zone takes one mount target.
        if ids and len(ids) != len(zones):
            yield Problem(
                f"network.existingVpc.{key}",
                f"{len(ids)} subnets for {len(zones)} availability zones; "
                "list exactly one subnet per zone, in the order of network.availabilityZones",
            )
        if len(set(ids)) != len(ids):
            yield Problem(f"network.existingVpc.{key}", "lists a subnet twice")


def _access_log_region(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.ingress is None:
        return
    region = cfg.aws.region
    try:
        elb_logs.log_delivery_principals(region, elb_logs.partition_of(region))
    except ValueError as exc:
        yield Problem("aws.region", str(exc))


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
    if pool.kind == "managed" and pool.image_snapshot_id is not None:
        yield Problem(
            f"{path}.imageSnapshotId",
            "applies to kind karpenter only (its EC2NodeClass restores the snapshot); a managed "
            "node group's launch template has no image volume: remove it or use kind karpenter",
        )
    if pool.kind == "karpenter" and pool.min_size <= pool.max_size:
        # Karpenter follows the pods: a node floor would be a managed node group's job.
        if pool.min_size:
            yield Problem(
                f"{path}.minSize",
                f"{pool.min_size}: a Karpenter pool has no minimum, it launches nodes for the models' "
                "pending replicas; keep GPUs warm with the models' minReplicas, or set kind: managed",
            )
        if pool.desired_size is not None:
            yield Problem(
                f"{path}.desiredSize",
                "applies only to kind: managed; Karpenter starts nodes when the models' replicas need them",
            )
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


def _secrets_in_plain_text(cfg: StackConfig, secret_sections: Collection[str]) -> Iterator[Problem]:
    """A secret field Pulumi does not hold encrypted was typed in as plain text. `secret_sections`
    names what is encrypted: a value's path (`models.llama.apiKey`), or a section or object when
    all of it is; another `secure:` value next to a plain one makes the plain one no secret."""
    encrypted = set(secret_sections)

    def is_encrypted(path: str) -> bool:
        return any(path == e or path.startswith((f"{e}.", f"{e}[")) for e in encrypted)

    def walk(node: object, path: str) -> Iterator[str]:
        if isinstance(node, SecretStr):
            yield path
        elif isinstance(node, BaseModel):
            for name, field in type(node).model_fields.items():
                yield from walk(getattr(node, name), f"{path}.{field.alias or name}")
        elif isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f"{path}.{key}")

    for name, field in StackConfig.model_fields.items():
        section = field.alias or name
        for path in walk(getattr(cfg, name), section):
            if is_encrypted(path):
                continue
            yield Problem(
                path,
                f"is stored in plain text; set it with `pulumi config set --secret --path 'llm-platform:{path}' <value>`",
            )


def _storage(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.storage.force_destroy and cfg.protect:
        yield Problem(
            "storage.forceDestroy",
            "cannot be true while protect is true: a protected stack keeps its model data",
        )


def _tenants(cfg: StackConfig) -> Iterator[Problem]:
    seen: dict[str, str] = {arn: "cluster.admins" for arn in cfg.cluster.admins}
    for name, tenant in cfg.tenants.items():
        for i, arn in enumerate(tenant.access_role_arns):
            path = f"tenants.{name}.accessRoleArns[{i}]"
            if arn in seen:
                yield Problem(path, f"{arn} is already in {seen[arn]}; an IAM role maps to one access entry")
            seen[arn] = path


_HOST_PORT = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:\d{1,5}")


def _alerting(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.monitoring is None or cfg.monitoring.alerting is None:
        return
    alerting = cfg.monitoring.alerting
    for severity in ("critical", "warning", "info"):
        receiver = getattr(alerting, severity)
        if receiver is None:
            continue
        path = f"monitoring.alerting.{severity}"
        kinds = [
            kind
            for kind, set_ in (
                ("slack", receiver.slack_webhook_url is not None),
                ("webhook", receiver.webhook_url is not None),
                ("email", receiver.email_to is not None),
            )
            if set_
        ]
        if len(kinds) != 1:
            yield Problem(path, "set exactly one of slackWebhookUrl, webhookUrl or emailTo")
        elif kinds == ["email"] and (receiver.email_from is None or receiver.email_smarthost is None):
            yield Problem(path, "emailTo needs emailFrom and emailSmarthost (host:port)")
        if receiver.slack_channel is not None and receiver.slack_webhook_url is None:
            yield Problem(f"{path}.slackChannel", "applies only with slackWebhookUrl")
        smarthost = receiver.email_smarthost
        if smarthost is not None:
            port = smarthost.rpartition(":")[2]
            if not _HOST_PORT.fullmatch(smarthost) or not 1 <= int(port) <= 65535:
                yield Problem(
                    f"{path}.emailSmarthost",
                    f"{smarthost!r} is not host:port, e.g. email-smtp.{cfg.aws.region}.amazonaws.com:587",
                )
        email_only = (receiver.email_username, receiver.email_password, receiver.email_from, smarthost)
        if receiver.email_to is None and any(v is not None for v in email_only):
            yield Problem(
                path, "emailFrom, emailSmarthost, emailUsername and emailPassword apply only with emailTo"
            )


def _chart_sources(cfg: StackConfig) -> Iterator[Problem]:
    pins = {chart.name: chart for chart in HELM_CHARTS}
    for name, source in cfg.chart_sources.items():
        path = f"chartSources.{name}"
        if (source.repository is None) == (source.path is None):
            yield Problem(path, "set exactly one of repository (a mirror) or path (a local chart)")
            continue
        if source.path is None:
            if source.allow_version_mismatch:
                yield Problem(f"{path}.allowVersionMismatch", "applies only to a local chart (path)")
            continue
        pin = pins[name]
        local = Path(source.path)
        problem = local_chart_problem(local, pin.name, pin.version, source.allow_version_mismatch)
        if problem is not None and not local.exists():
            problem += " (a relative path starts at the project directory, where Pulumi.yaml is)"
        if problem is not None:
            yield Problem(f"{path}.path", problem)


def _load_balancer_subnets(cfg: StackConfig) -> Iterator[Problem]:
    """The internet-facing ALB lives in the public subnets, and the network policies admit it by
    their CIDRs: with none, a policy rule would list no peers, which admits every source."""
    existing = cfg.network.existing_vpc
    if cfg.ingress is not None and existing is not None and not existing.public_subnet_ids:
        yield Problem(
            "network.existingVpc.publicSubnetIds",
            "is empty, but ingress needs public subnets: the internet-facing load balancer lives there and the network policies admit it by their CIDRs; list one public subnet per zone",
        )
