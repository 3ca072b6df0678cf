"""The AI gateway layer: the controllers and proxies, and each model's route, clients and budgets."""

from __future__ import annotations

import pulumi

from components import AiGateway, InferenceService, IngressGateway, ModelGateway
from components.ai_gateway import AiGatewayArgs
from components.core import labels
from components.core.placement import ON_SYSTEM_NODES
from components.endpoint_picker import EndpointPicker
from components.model_gateway import ClientArgs, ModelGatewayArgs
from components.versions import AI_GATEWAY, AI_GATEWAY_CRDS, ENVOY_GATEWAY
from infra.charts import chart_source
from infra.cloud import Cloud
from infra.config import StackConfig
from infra.observability import Observability
from infra.plan.summary import gpu_hour_usd
from infra.workloads import Workloads


def build_ai_gateway(
    cfg: StackConfig,
    cloud: Cloud,
    workloads: Workloads,
    observability: Observability,
    ingress: IngressGateway,
    services: dict[str, InferenceService],
) -> AiGateway | None:
    if cfg.gateway is None:
        return None
    assert cfg.ingress is not None  # required with models (config checks)
    args: AiGatewayArgs = {
        "alb_gateway_name": ingress.gateway_name,
        "alb_gateway_namespace": ingress.gateway_namespace,
        "routes": [
            {
                "tenant": tenant,
                "namespace": workloads.tenants[tenant].namespace,
                "hostnames": [
                    f"{m}.{cfg.ingress.domain}" for m, model in cfg.models.items() if model.tenant == tenant
                ],
            }
            for tenant in sorted({model.tenant for model in cfg.models.values()})
        ],
        "load_balancer_cidrs": cloud.network.public_subnet_cidrs,
        "control_plane_cidrs": cloud.network.private_subnet_cidrs,
        "replicas": cfg.gateway.replicas,
        "monitoring_release": observability.monitoring.release_name,
        "usage": {
            "tenants": {name: sorted(t.clients) for name, t in cfg.tenants.items()},
            "models": [
                {
                    "tenant": model.tenant,
                    "namespace": model.tenant,
                    "model": name,
                    "gpu_hour_usd": gpu_hour_usd(cfg, model.pool),
                }
                for name, model in cfg.models.items()
            ],
        },
        "envoy_gateway_chart_source": chart_source(cfg, ENVOY_GATEWAY),
        "ai_gateway_chart_source": chart_source(cfg, AI_GATEWAY),
        "ai_gateway_crds_chart_source": chart_source(cfg, AI_GATEWAY_CRDS),
    }
    if cfg.gateway.inference_pool_crds is not None:
        args["inference_pool_crds"] = cfg.gateway.inference_pool_crds
    ai_gateway = AiGateway("ai-gateway", args, cloud.on_cluster)
    for name, model in cfg.models.items():
        tenant = cfg.tenants[model.tenant]
        clients: list[ClientArgs] = []
        for client_id, client in tenant.clients.items():
            if name not in client.models:
                continue
            budget = client.models[name]
            entry: ClientArgs = {"id": client_id}
            if client.key is not None:
                entry["key"] = pulumi.Output.secret(client.key.get_secret_value())
            if budget.tokens_per_minute is not None:
                entry["tokens_per_minute"] = budget.tokens_per_minute
            if budget.tokens_per_day is not None:
                entry["tokens_per_day"] = budget.tokens_per_day
            clients.append(entry)
        namespace = workloads.tenants[model.tenant].namespace
        picker = EndpointPicker(
            f"{name}-picker",
            {
                "namespace": namespace,
                "model": name,
                "selector": services[name].stable_pods,
                "target_port": labels.VLLM_PORT,
                "node_selector": ON_SYSTEM_NODES,
                "pool_crds": ai_gateway.release_name,
                "replicas": cfg.gateway.picker_replicas,
                "monitoring_release": observability.monitoring.release_name,
            },
            cloud.on_cluster,
        )
        model_args: ModelGatewayArgs = {
            "namespace": namespace,
            "model": name,
            "access": {
                "tracks": [{"service": s, "weight": w} for s, w in services[name].tracks],
                "clients": clients,
            },
            "port": labels.VLLM_PORT,
            "upstream_key": pulumi.Output.secret(model.api_key.get_secret_value()),
            "gateway_namespace": ai_gateway.gateway_namespace,
            "gateway_release": ai_gateway.release_name,
            "inference_pool": picker.pool_name,
        }
        if tenant.oidc is not None:
            model_args["oidc"] = {
                "issuer": tenant.oidc.issuer,
                "audiences": list(tenant.oidc.audiences),
                "jwks_uri": tenant.oidc.jwks_uri,
                "client_claim": tenant.oidc.client_claim,
            }
        ModelGateway(f"{name}-gateway", model_args, cloud.on_cluster)
    return ai_gateway
