"""The stack's outputs: the contract other stacks read through a StackReference.

Names are camelCase, as Pulumi shows them and as every language reads them.
The types say what each output holds once resolved; a test checks the outputs
of both stacks' offline plans against them, and docs/outputs.md is generated
from them (`python -m infra outputs`).
"""

from __future__ import annotations

from typing import (
    Any,
    NotRequired,  # pydantic needs these on Python 3.11
)

import pulumi
from pydantic import ConfigDict, TypeAdapter, with_config
from typing_extensions import TypedDict

from components import InferenceService
from components.core.placement import Placement
from components.gpu_node_pool import placement_output
from infra.cloud import Cloud
from infra.config import StackConfig
from infra.config.derived import capacity_inputs
from infra.observability import Observability
from infra.serving import Serving
from infra.workloads import Workloads

DOCUMENTED = ConfigDict(use_attribute_docstrings=True)


@with_config(DOCUMENTED)
class ClusterOutput(TypedDict):
    """What a Kubernetes provider needs, with exec authentication (`aws eks get-token`)."""

    name: str
    """EKS cluster name: `aws eks get-token --cluster-name <name>` or `aws eks update-kubeconfig --name <name>`."""
    endpoint: str
    """HTTPS address of the Kubernetes API."""
    certificateAuthority: str
    """Base64 PEM of the cluster's certificate authority."""
    region: str
    """AWS region of the cluster (and of every other resource of the stack)."""
    arn: str
    """ARN of the cluster, for IAM conditions such as Pod Identity trust."""


@with_config(DOCUMENTED)
class NetworkOutput(TypedDict):
    vpcId: str
    """The VPC."""
    privateSubnetIds: list[str]
    """Private subnets, one per zone: nodes, pods and EFS mount targets."""
    privateSubnetCidrs: list[str]
    """CIDRs of the private subnets (a Tenant's storageCidrs)."""
    publicSubnetCidrs: list[str]
    """CIDRs of the public subnets, where the load balancer lives (a Tenant's loadBalancerCidrs)."""


@with_config(DOCUMENTED)
class PlacementOutput(TypedDict):
    pool: str
    """Value of the pool label on the pool's nodes."""
    nodeSelector: dict[str, str]
    """Put it in a pod spec's nodeSelector to land on the pool."""
    tolerations: list[dict[str, str]]
    """Put them in a pod spec's tolerations to be allowed on the pool."""
    gpuModel: str
    """GPU model of every node."""
    gpusPerNode: int
    """GPUs on one node."""
    gpuMemoryMib: int
    """Usable memory of one GPU, MiB."""


@with_config(DOCUMENTED)
class GpuPoolOutput(TypedDict):
    nodeGroupName: str
    """The EKS managed node group (scale it with `aws eks update-nodegroup-config`)."""
    placement: PlacementOutput
    """Where the pool's workloads go (InferenceService's placement input)."""
    instanceTypes: list[str]
    """Instance types of the nodes (one GPU shape): what sizing a replica needs."""
    maxNodes: int
    """Most nodes the pool may grow to."""
    gpusReserved: int
    """GPUs this stack's own models may hold at maximum scale (rollout surge and canaries
    included); another stack may place at most maxNodes x gpusPerNode - gpusReserved."""


@with_config(DOCUMENTED)
class ModelStoreOutput(TypedDict):
    bucketName: str
    """The model bucket: weights live under models/<model>/<revision>/."""
    bucketArn: str
    """ARN of the model bucket (ModelWeights' bucketArn)."""
    kmsKeyArn: str
    """The KMS key that encrypts the bucket and the file system (ModelWeights' kmsKeyArn)."""
    fileSystemId: str
    """The EFS file system that serves weights over NFS."""
    storageClassName: str
    """StorageClass of ReadWriteMany weight volumes (ModelWeights' storageClassName)."""


@with_config(DOCUMENTED)
class ModelOutput(TypedDict):
    endpoint: str
    """Base URL of the model's OpenAI-compatible API (append /v1/chat/completions)."""
    hostname: str
    """The hostname the model answers on: point DNS for it at the load balancer."""
    namespace: str
    """Tenant namespace the model runs in."""
    serviceName: str
    """In-cluster Service of the stable track (port 8000)."""
    route: str
    """The HTTPRoute that attaches the model to the gateway, as namespace/name (canary weights live here)."""


@with_config(DOCUMENTED)
class GatewayOutput(TypedDict):
    name: str
    """The Gateway HTTPRoutes attach to (InferenceService's route.gatewayName)."""
    namespace: str
    """Namespace of the Gateway (route.gatewayNamespace)."""
    domain: str
    """Models answer on <model>.<domain>."""
    accessLogBucket: str
    """Bucket of the load balancer's access logs."""


@with_config(DOCUMENTED)
class MonitoringOutput(TypedDict):
    namespace: str
    """Namespace of Prometheus, Alertmanager and Grafana."""
    prometheusUrl: str
    """In-cluster address of Prometheus (InferenceService's prometheusUrl)."""
    grafanaService: str
    """In-cluster address of Grafana (`kubectl port-forward` to it)."""
    releaseName: str
    """The monitoring Helm release (InferenceService's monitoringRelease)."""


@with_config(DOCUMENTED)
class StackOutputs(TypedDict):
    """Every output of an llm-platform stack."""

    cluster: ClusterOutput
    """The EKS cluster, and what a Kubernetes provider needs to reach it."""
    kubeconfig: str
    """A kubeconfig for the cluster (exec authentication, no static token); a secret."""
    network: NetworkOutput
    """The VPC and its subnets."""
    gpuPools: dict[str, GpuPoolOutput]
    """GPU node pools by name."""
    modelStore: ModelStoreOutput
    """Shared model storage."""
    tenants: dict[str, str]
    """Namespace of each tenant, by tenant name."""
    models: dict[str, ModelOutput]
    """Each served model, by name."""
    gateway: NotRequired[GatewayOutput]
    """The HTTPS entry point (when `ingress` is configured)."""
    kedaRelease: NotRequired[str]
    """The KEDA Helm release (InferenceService's kedaRelease; when models are served)."""
    monitoring: NotRequired[MonitoringOutput]
    """The monitoring stack (when `monitoring` is configured)."""


OUTPUTS = TypeAdapter(StackOutputs)


def export(
    cfg: StackConfig,
    cloud: Cloud,
    workloads: Workloads,
    serving: Serving,
    observability: Observability | None,
) -> None:
    """Export every output StackOutputs describes."""
    cluster, network, store = cloud.cluster, cloud.network, workloads.store
    reserved: dict[str, int] = {}
    for demand in capacity_inputs(cfg)[0]:
        reserved[demand.pool] = reserved.get(demand.pool, 0) + demand.max_gpus
    outputs: dict[str, Any] = {
        "cluster": {
            "name": cluster.cluster_name,
            "endpoint": cluster.endpoint,
            "certificateAuthority": cluster.certificate_authority,
            "region": cfg.aws.region,
            "arn": cluster.cluster_arn,
        },
        "kubeconfig": cluster.kubeconfig,
        "network": {
            "vpcId": network.vpc_id,
            "privateSubnetIds": network.private_subnet_ids,
            "privateSubnetCidrs": network.private_subnet_cidrs,
            "publicSubnetCidrs": network.public_subnet_cidrs,
        },
        "gpuPools": {
            name: {
                "nodeGroupName": pool.node_group_name,
                "placement": _placement(pool.gpu_placement),
                "instanceTypes": list(pool.gpu_placement.instance_types),
                "maxNodes": cfg.gpu_pools[name].max_size,
                "gpusReserved": reserved.get(name, 0),
            }
            for name, pool in cloud.pools.items()
        },
        "modelStore": {
            "bucketName": store.bucket_name,
            "bucketArn": store.bucket_arn,
            "kmsKeyArn": store.kms_key_arn,
            "fileSystemId": store.file_system_id,
            "storageClassName": store.storage_class_name,
        },
        "tenants": {name: tenant.namespace for name, tenant in workloads.tenants.items()},
        "models": {
            name: {
                # Behind the AI gateway the ALB still answers <model>.<domain>, and the model's
                # route is its AIGatewayRoute of the same name in the tenant namespace.
                "endpoint": pulumi.Output.concat("https://", _hostname(cfg, name, service)),
                "hostname": _hostname(cfg, name, service),
                "namespace": workloads.tenants[cfg.models[name].tenant].namespace,
                "serviceName": service.service_name,
                "route": pulumi.Output.concat(
                    workloads.tenants[cfg.models[name].tenant].namespace,
                    "/",
                    service.route_name if cfg.gateway is None else name,
                ),
            }
            for name, service in serving.services.items()
        },
    }
    if serving.gateway is not None and cfg.ingress is not None:
        outputs["gateway"] = {
            "name": serving.gateway.gateway_name,
            "namespace": serving.gateway.gateway_namespace,
            "domain": cfg.ingress.domain,
            "accessLogBucket": serving.gateway.access_log_bucket,
        }
    if serving.keda is not None:
        outputs["kedaRelease"] = serving.keda.release_name
    if observability is not None:
        monitoring = observability.monitoring
        outputs["monitoring"] = {
            "namespace": monitoring.namespace,
            "prometheusUrl": monitoring.prometheus_url,
            "grafanaService": monitoring.grafana_service,
            "releaseName": monitoring.release_name,
        }
    for key, value in outputs.items():
        pulumi.export(key, value)


def _placement(p: Placement) -> dict[str, Any]:
    """GpuNodePool's placement output, keys in camelCase like every stack output."""
    return {_camel(key): value for key, value in placement_output(p).items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def render_reference() -> str:
    """docs/outputs.md: every output with its type and meaning."""
    schema = OUTPUTS.json_schema()
    defs = schema.get("$defs", {})
    lines = [
        "# Stack outputs",
        "",
        "What an llm-platform stack exports, for other stacks to read with a StackReference",
        "(see examples/consumer/). Generated from `infra/outputs.py` by `python -m infra outputs`;",
        "a test keeps it current and checks both stacks' offline plans against these types.",
        "",
        "| output | type | meaning |",
        "|---|---|---|",
    ]
    _rows(schema, defs, "", lines)
    return "\n".join(lines) + "\n"


def _rows(schema: dict[str, Any], defs: dict[str, Any], prefix: str, lines: list[str]) -> None:
    required = set(schema.get("required", []))
    for key, prop in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        target, kind = _resolve(prop, defs)
        optional = "" if key in required else " (optional)"
        about = " ".join(prop.get("description", "").split())
        lines.append(f"| `{path}` | {kind}{optional} | {about} |")
        if target is not None:
            _rows(target, defs, f"{path}.<name>." if kind.startswith("map") else f"{path}.", lines)


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The object schema to expand below a property (if any), and a short type name."""
    if "$ref" in prop:
        return defs[prop["$ref"].rsplit("/", 1)[-1]], "object"
    if prop.get("type") == "object" and isinstance(prop.get("additionalProperties"), dict):
        inner = prop["additionalProperties"]
        if "$ref" in inner:
            return defs[inner["$ref"].rsplit("/", 1)[-1]], "map of object"
        return None, f"map of {inner.get('type', 'any')}"
    if prop.get("type") == "array":
        return None, f"list of {prop.get('items', {}).get('type', 'any')}"
    return None, str(prop.get("type", "any"))


def _hostname(cfg: StackConfig, name: str, service: InferenceService) -> pulumi.Input[str]:
    if cfg.gateway is None or cfg.ingress is None:
        return service.hostname
    return f"{name}.{cfg.ingress.domain}"
