"""What the stack runs on the cluster: shared model storage, tenants, and each model's weights."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import ModelStore, ModelWeights, Tenant
from components.core import gateway
from components.model_store import ModelStoreArgs
from components.model_weights import ModelWeightsArgs
from components.tenant import TenantArgs
from infra.cloud import Cloud
from infra.config import StackConfig


@dataclass(frozen=True)
class Workloads:
    store: ModelStore
    tenants: dict[str, Tenant]
    weights: dict[str, ModelWeights]


def build_workloads(cfg: StackConfig, cloud: Cloud) -> Workloads:
    store_args: ModelStoreArgs = {
        "cluster_name": cloud.cluster.cluster_name,
        "cluster_arn": cloud.cluster.cluster_arn,
        "vpc_id": cloud.network.vpc_id,
        "subnets_by_zone": cloud.network.private_subnets_by_zone,
        "system_node_group_name": cloud.cluster.system_node_group_name,
        "node_security_group_id": cloud.cluster.cluster_security_group_id,
        "noncurrent_version_days": cfg.storage.noncurrent_version_days,
        "force_destroy": cfg.storage.force_destroy,
        "protect": cfg.protect,
    }
    if cfg.storage.access_logging is not None:
        store_args["access_log_retention_days"] = cfg.storage.access_logging.retention_days
    store = ModelStore(cloud.name, store_args, cloud.on_both)

    tenants = {}
    for name, t in cfg.tenants.items():
        tenant_args: TenantArgs = {
            "gpus": t.quota.gpus,
            "cpu": t.quota.cpu,
            "memory": t.quota.memory,
            "pods": t.quota.pods,
            "persistent_volume_claims": t.quota.persistent_volume_claims,
            "default_cpu_request": t.container_defaults.cpu_request,
            "default_cpu_limit": t.container_defaults.cpu_limit,
            "default_memory_request": t.container_defaults.memory_request,
            "default_memory_limit": t.container_defaults.memory_limit,
            "group": t.group or f"tenant-{name}",
            "cluster_name": cloud.cluster.cluster_name,
            "access_role_arns": t.access_role_arns,
            "load_balancer_cidrs": cloud.network.public_subnet_cidrs,
            "storage_cidrs": cloud.network.private_subnet_cidrs,
        }
        if cfg.gateway is not None:  # models admit the AI gateway's proxies, not the load balancers
            tenant_args["gateway_namespace"] = gateway.CONTROLLER_NAMESPACE
        tenants[name] = Tenant(name, tenant_args, cloud.on_both)

    token = cfg.storage.hugging_face_token
    weights = {}
    for name, model in cfg.models.items():
        hub, s3 = model.source.hugging_face, model.source.s3
        source = hub or s3
        assert source is not None  # config validation requires exactly one source
        args: ModelWeightsArgs = {
            "namespace": tenants[model.tenant].namespace,
            "cluster_name": cloud.cluster.cluster_name,
            "cluster_arn": cloud.cluster.cluster_arn,
            "bucket_name": store.bucket_name,
            "bucket_arn": store.bucket_arn,
            "kms_key_arn": store.kms_key_arn,
            "stream_from_s3": model.weights == "s3Stream",
            "storage_class_name": store.storage_class_name,
            "revision": source.revision,
        }
        if hub is not None:
            args["hugging_face_repo"] = hub.repo
            if token is not None:
                args["hugging_face_token"] = pulumi.Output.secret(token.get_secret_value())
        canary_revision = model.canary.revision if model.canary is not None else None
        if canary_revision is not None and canary_revision != source.revision:
            args["extra_revisions"] = [canary_revision]
        weights[name] = ModelWeights(name, args, cloud.on_both)
    return Workloads(store, tenants, weights)
