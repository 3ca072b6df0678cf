"""chat-assistant: one more model on a shared llm-platform, from another stack.

Everything the platform owns (cluster, pools, bucket, gateway, KEDA, Prometheus)
comes from the platform stack's outputs (docs/outputs.md) through a
StackReference; what this team owns (a namespace with its quota, the model's
weights access and its vLLM service) is built with the platform's components.

Sizing happens here, at plan time, against the instance type the team declares;
at preview the declaration is checked against the platform's actual pool, and
the pool must have GPUs to spare beyond what the platform's own models reserve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import InferenceService, ModelWeights, Tenant
from components.core import gpu_catalog
from components.core.sizing import (
    ARCHITECTURES,
    MIB,
    choose_tensor_parallel,
    pod_resources,
    startup_budget_seconds,
    weight_bytes,
)
from components.inference_service import PlacementArgs, resources_args


@dataclass(frozen=True)
class ModelPlan:
    name: str
    pool: str
    instance_type: str
    tensor_parallel_size: int
    max_replicas: int
    max_model_len: int
    revision: str

    @property
    def max_gpus(self) -> int:
        return self.tensor_parallel_size * self.max_replicas


def plan_model(model: dict[str, Any]) -> ModelPlan:
    """The replica shape of the team's model on the declared instance type, or a clear error."""
    name, arch_name, itype = model["name"], model["architecture"], model["instanceType"]
    if arch_name not in ARCHITECTURES:
        raise pulumi.RunError(f"model.architecture: {arch_name!r} is not one of {sorted(ARCHITECTURES)}")
    node = gpu_catalog.CATALOG.get(itype)
    if node is None or not node.is_gpu:
        raise pulumi.RunError(f"model.instanceType: {itype!r} is not a GPU instance type of the catalog")
    arch, max_len = ARCHITECTURES[arch_name], int(model.get("maxModelLen", 8192))
    sizing = choose_tensor_parallel(arch, "bfloat16", node.gpus, node.gpu_memory_mib * MIB, 0.9, max_len)
    if sizing is None:
        raise pulumi.RunError(
            f"model: {arch_name} with {max_len}-token sequences does not fit {node.gpus} x "
            f"{node.gpu_model} per node ({itype}); use a bigger pool or a shorter maxModelLen"
        )
    return ModelPlan(
        name,
        model["pool"],
        itype,
        sizing.tensor_parallel_size,
        int(model.get("maxReplicas", 1)),
        max_len,
        str(model["revision"]),
    )


def placement_on(pools: dict[str, Any], plan: ModelPlan) -> PlacementArgs:
    """The platform's pool as the model needs it; fails the preview when the pool is missing,
    holds another instance type, or has no GPUs to spare for the model at full scale."""
    pool = pools.get(plan.pool)
    if pool is None:
        raise pulumi.RunError(f"model.pool: the platform has no pool {plan.pool!r}; it has {sorted(pools)}")
    if plan.instance_type not in pool["instanceTypes"]:
        raise pulumi.RunError(
            f"model.instanceType: pool {plan.pool} runs {pool['instanceTypes']}, not {plan.instance_type}"
        )
    placement = pool["placement"]
    # Numbers cross stacks as JSON doubles.
    nodes, per_node, reserved = (
        int(pool["maxNodes"]),
        int(placement["gpusPerNode"]),
        int(pool["gpusReserved"]),
    )
    spare = nodes * per_node - reserved
    if plan.max_gpus > spare:
        raise pulumi.RunError(
            f"model.maxReplicas: {plan.max_replicas} x {plan.tensor_parallel_size} GPUs, but pool "
            f"{plan.pool} has {spare} to spare ({nodes} nodes x {per_node} GPUs, {reserved} "
            "reserved by the platform's models)"
        )
    return {"node_selector": placement["nodeSelector"], "tolerations": placement["tolerations"]}


def main() -> None:
    config = pulumi.Config()
    platform = pulumi.StackReference(config.require("platformStack"))
    team, plan = config.require_object("team"), plan_model(config.require_object("model"))

    cluster = platform.require_output("cluster")
    network = platform.require_output("network")
    store = platform.require_output("modelStore")
    gateway = platform.require_output("gateway")
    monitoring = platform.require_output("monitoring")
    region = cluster.apply(lambda c: str(c["region"]))

    aws_provider = aws.Provider("platform-aws", region=region)
    k8s_provider = k8s.Provider("platform-cluster", kubeconfig=platform.require_output("kubeconfig"))
    on_both = pulumi.ResourceOptions(providers=[aws_provider, k8s_provider])

    tenant = Tenant(
        team["name"],
        {
            "gpus": plan.max_gpus,
            "cpu": "16",
            "memory": "64Gi",
            "cluster_name": cluster.apply(lambda c: str(c["name"])),
            "access_role_arns": team.get("accessRoleArns", []),
            "load_balancer_cidrs": network.apply(lambda n: list(n["publicSubnetCidrs"])),
            "storage_cidrs": network.apply(lambda n: list(n["privateSubnetCidrs"])),
        },
        on_both,
    )
    # Streamed from the platform's bucket: no volume, and the pod role reads this prefix only.
    weights = ModelWeights(
        plan.name,
        {
            "namespace": tenant.namespace,
            "cluster_name": cluster.apply(lambda c: str(c["name"])),
            "cluster_arn": cluster.apply(lambda c: str(c["arn"])),
            "bucket_name": store.apply(lambda s: str(s["bucketName"])),
            "bucket_arn": store.apply(lambda s: str(s["bucketArn"])),
            "kms_key_arn": store.apply(lambda s: str(s["kmsKeyArn"])),
            "revision": plan.revision,
            "stream_from_s3": True,
        },
        on_both,
    )
    node = gpu_catalog.CATALOG[plan.instance_type]
    serve: dict[str, Any] = {
        "served_model_name": plan.name,
        "tensor_parallel_size": plan.tensor_parallel_size,
        "max_model_len": plan.max_model_len,
    }
    if weights.load_format is not None:
        serve["load_format"] = weights.load_format
    arch = ARCHITECTURES[config.require_object("model")["architecture"]]
    service = InferenceService(
        plan.name,
        {
            "namespace": tenant.namespace,
            "placement": platform.require_output("gpuPools").apply(lambda pools: placement_on(pools, plan)),
            "serve": serve,  # type: ignore[typeddict-item]
            "model_uri": weights.model_uri,
            "resources": resources_args(
                pod_resources(plan.tensor_parallel_size, node.gpus, node.vcpu, node.memory_gib)
            ),
            "startup_seconds": startup_budget_seconds(weight_bytes(arch, "bfloat16"), "s3Stream"),
            "service_account_name": weights.service_account_name,
            "weights_ready": weights.ready,
            "api_key": config.require_secret("apiKey"),
            "aws_region": region,
            "autoscaling": {"min_replicas": 1, "max_replicas": plan.max_replicas},
            "prometheus_url": monitoring.apply(lambda m: str(m["prometheusUrl"])),
            "keda_release": platform.require_output("kedaRelease"),
            "monitoring_release": monitoring.apply(lambda m: str(m["releaseName"])),
            "route": {
                "gateway_name": gateway.apply(lambda g: str(g["name"])),
                "gateway_namespace": gateway.apply(lambda g: str(g["namespace"])),
                "hostname": gateway.apply(lambda g: f"{plan.name}.{g['domain']}"),
            },
        },
        pulumi.ResourceOptions(providers=[k8s_provider]),
    )
    pulumi.export("endpoint", pulumi.Output.concat("https://", service.hostname))
    pulumi.export("namespace", tenant.namespace)


if __name__ == "__main__":  # how Pulumi runs a program; tests import the functions
    main()
