"""The serving layer: KEDA, the HTTPS gateway, and one InferenceService per model."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components import AiGateway, GpuHeadroom, InferenceService, IngressGateway, Keda
from components.core.sizing import startup_budget_seconds, streamer_settings
from components.inference_service import (
    AutoscalingArgs,
    CanaryArgs,
    InferenceServiceArgs,
    ServeArgs,
    resources_args,
)
from components.ingress_gateway import IngressGatewayArgs
from components.versions import AWS_LOAD_BALANCER_CONTROLLER, KEDA, TRITON_IMAGE, VLLM_IMAGE
from infra.charts import chart_source
from infra.cloud import Cloud
from infra.config import StackConfig
from infra.config.derived import (
    HEADROOM_PREFIX,
    headroom_shape,
    pulled,
    resources_of,
    sizing_of,
    surging_models,
)
from infra.config.workloads import AutoscalingConfig, ModelConfig
from infra.gateway import build_ai_gateway
from infra.observability import Observability
from infra.workloads import Workloads


@dataclass(frozen=True)
class Serving:
    keda: Keda | None
    gateway: IngressGateway | None
    services: dict[str, InferenceService]
    ai_gateway: AiGateway | None = None
    headroom: dict[str, GpuHeadroom] = field(default_factory=dict)


def build_serving(
    cfg: StackConfig, cloud: Cloud, workloads: Workloads, observability: Observability | None
) -> Serving:
    if not cfg.models or cfg.ingress is None or observability is None:
        return Serving(None, None, {})
    keda = Keda(
        "keda",
        {
            "namespace": "keda",
            "chart_source": chart_source(cfg, KEDA),
            "monitoring_release": observability.monitoring.release_name,
        },
        cloud.on_cluster,
    )
    ingress = cfg.ingress
    gateway_args: IngressGatewayArgs = {
        "cluster_name": cloud.cluster.cluster_name,
        "cluster_arn": cloud.cluster.cluster_arn,
        "vpc_id": cloud.network.vpc_id,
        "region": cfg.aws.region,
        "domain": ingress.domain,
        "certificate_arn": ingress.certificate_arn,
        "ssl_policy": ingress.ssl_policy,
        "allowed_cidrs": [str(c) for c in ingress.allowed_cidrs],
        "rate_limit_per_five_minutes": ingress.rate_limit_per_five_minutes,
        "access_log_retention_days": ingress.access_log_retention_days,
        "force_destroy": cfg.storage.force_destroy,
        "protect": cfg.protect,
        "chart_source": chart_source(cfg, AWS_LOAD_BALANCER_CONTROLLER),
    }
    if cfg.gateway_api_crds is not None:
        gateway_args["gateway_api_crds"] = cfg.gateway_api_crds
    gateway = IngressGateway(cloud.name, gateway_args, cloud.on_both)
    services = {
        name: InferenceService(
            name, _service_args(cfg, cloud, workloads, observability, name, keda, gateway), cloud.on_cluster
        )
        for name in cfg.models
    }
    ai_gateway = build_ai_gateway(cfg, cloud, workloads, observability, gateway, services)
    return Serving(keda, gateway, services, ai_gateway, _headroom(cfg, cloud))


def _headroom(cfg: StackConfig, cloud: Cloud) -> dict[str, GpuHeadroom]:
    """Placeholders on each pool that asks for headroom, the size of the pool's largest replica
    and running every image the pool's models serve with; each pool's in its own namespace."""
    made = {}
    for name, pool in cfg.gpu_pools.items():
        shape = headroom_shape(cfg, name)
        if not pool.headroom or shape is None:
            continue
        _, demand = shape
        images = {
            pulled(cfg, VLLM_IMAGE if m.runtime == "vllm" else TRITON_IMAGE)
            for m in cfg.models.values()
            if m.pool == name
        }
        made[name] = GpuHeadroom(
            f"{HEADROOM_PREFIX}{name}",
            {
                "placement": cloud.pools[name].placement,
                "replicas": pool.headroom,
                "gpus": demand.gpus_per_replica,
                "cpu": f"{demand.cpu_millicores}m",
                "memory": f"{demand.memory_mib}Mi",
                "images": sorted(images),
            },
            cloud.on_cluster,
        )
    return made


def _autoscaling(model: ModelConfig, scaling: AutoscalingConfig) -> AutoscalingArgs:
    args = AutoscalingArgs(
        min_replicas=model.min_replicas,
        max_replicas=model.max_replicas,
        target_queue_depth=scaling.target_queue_depth,
        fallback_replicas=scaling.fallback_replicas or max(1, model.min_replicas),
        scale_up_stabilization_seconds=scaling.scale_up_stabilization_seconds,
        scale_down_stabilization_seconds=scaling.scale_down_stabilization_seconds,
    )
    if scaling.gpu_utilization_percent is not None:
        args["gpu_utilization_percent"] = scaling.gpu_utilization_percent
    if scaling.working_hours is not None:
        hours = scaling.working_hours
        args["working_hours"] = {"timezone": hours.timezone, "start": hours.start, "end": hours.end}
    return args


def _service_args(
    cfg: StackConfig,
    cloud: Cloud,
    workloads: Workloads,
    observability: Observability,
    name: str,
    keda: Keda,
    gateway: IngressGateway,
) -> InferenceServiceArgs:
    model = cfg.models[name]
    assert cfg.ingress is not None and cfg.monitoring is not None
    sizing = sizing_of(cfg, name)
    weights = workloads.weights[name]
    serve = ServeArgs(
        served_model_name=name,
        tensor_parallel_size=sizing.tensor_parallel_size,
        dtype=model.dtype,
        max_model_len=model.max_model_len,
        gpu_memory_utilization=model.gpu_memory_utilization,
        max_num_seqs=model.max_num_seqs,
        prefix_caching=model.prefix_caching,
    )
    if model.quantization != "none":
        serve["quantization"] = model.quantization
    if weights.load_format is not None:
        serve["load_format"] = weights.load_format
        concurrency, memory_limit = streamer_settings(resources_of(cfg, name))
        serve["streamer_concurrency"] = concurrency
        serve["streamer_memory_limit_bytes"] = memory_limit
    if cfg.monitoring.otlp_traces_endpoint is not None:
        serve["otlp_traces_endpoint"] = cfg.monitoring.otlp_traces_endpoint
    if cfg.gateway is not None and cfg.tenants[model.tenant].audit_bodies:
        serve["log_requests"] = True
    args = InferenceServiceArgs(
        namespace=workloads.tenants[model.tenant].namespace,
        placement=cloud.pools[model.pool].placement,
        serve=serve,
        model_uri=weights.model_uri,
        resources=resources_args(resources_of(cfg, name)),
        startup_seconds=startup_budget_seconds(sizing.weight_bytes, model.weights),
        runtime=model.runtime,
        image=pulled(cfg, VLLM_IMAGE if model.runtime == "vllm" else TRITON_IMAGE),
        service_account_name=weights.service_account_name,
        weights_ready=weights.ready,
        api_key=pulumi.Output.secret(model.api_key.get_secret_value()),
        aws_region=cfg.aws.region,
        surge=name in surging_models(cfg),  # from the GPUs free at both ends of scale
        autoscaling=_autoscaling(model, model.autoscaling),
        prometheus_url=observability.monitoring.prometheus_url,
        monitoring_release=observability.monitoring.release_name,
        scrape_interval_seconds=cfg.monitoring.prometheus.serving_scrape_interval_seconds,
        # Polling faster than the scrape reads the same sample again.
        keda_polling_seconds=cfg.monitoring.prometheus.serving_scrape_interval_seconds,
        keda_release=keda.release_name,
    )
    if cfg.gateway is None:  # the ALB routes to the model itself; else the AI gateway does
        args["route"] = {
            "gateway_name": gateway.gateway_name,
            "gateway_namespace": gateway.gateway_namespace,
            "hostname": f"{name}.{cfg.ingress.domain}",
        }
    if weights.claim_name is not None:
        args["claim_name"] = weights.claim_name
    if model.shared_compile_cache and model.runtime == "vllm":
        args["compile_cache"] = {"storage_class_name": workloads.store.storage_class_name}
    canary = model.canary
    if canary is not None:
        canary_args = CanaryArgs(
            weight=canary.weight,
            autoscaling=AutoscalingArgs(
                min_replicas=canary.min_replicas,
                max_replicas=canary.max_replicas,
                target_queue_depth=model.autoscaling.target_queue_depth,
                fallback_replicas=canary.min_replicas,
            ),
        )
        if canary.image_tag is not None:
            canary_args["image"] = pulled(cfg, f"{VLLM_IMAGE.rsplit(':', 1)[0]}:{canary.image_tag}")
        if canary.revision is not None:
            canary_args["model"] = weights.uris[canary.revision]
            canary_args["weights_ready"] = weights.ready_by_revision[canary.revision]
        if canary.max_num_seqs is not None:
            canary_args["max_num_seqs"] = canary.max_num_seqs
        if canary.gpu_memory_utilization is not None:
            canary_args["gpu_memory_utilization"] = canary.gpu_memory_utilization
        args["canary"] = canary_args
    return args
