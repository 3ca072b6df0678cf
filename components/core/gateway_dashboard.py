"""The per-tenant usage dashboard of the AI gateway: tokens, requests, latency and estimated GPU
cost per tenant and client. Tenants are not a metric label: the config knows which client
belongs to which tenant and which model runs where, so the queries are generated from it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.core.dashboards import _dashboard, _panel  # one look for every platform dashboard

CLIENT_LABEL = "llm_client_id"
"""The metric label the AI gateway gives the x-llm-client-id header (controller.metricsRequestHeaderAttributes)."""
CLIENT_ATTRIBUTE = "llm.client_id"
BY_CLIENT = "{{" + CLIENT_LABEL + "}}"  # a Grafana legend naming the client
TOKENS = "gen_ai_client_token_usage_sum"
REQUESTS = "gen_ai_server_request_duration_seconds_count"
DURATION = "gen_ai_server_request_duration_seconds_bucket"
GPU_REQUESTS = 'kube_pod_container_resource_requests{resource="nvidia_com_gpu"}'


@dataclass(frozen=True)
class ModelCost:
    """Where a model's pods run and what one of their GPUs costs an hour."""

    tenant: str
    namespace: str
    model: str
    gpu_hour_usd: float


def _by_tenant(metric: str, tenants: Mapping[str, Sequence[str]]) -> str:
    """The per-second rate of `metric` summed per tenant: each tenant's clients, selected by id,
    labelled with its name."""
    parts = [
        f'sum by (tenant) (label_replace(rate({metric}{{{CLIENT_LABEL}=~"{"|".join(sorted(ids))}"}}[5m]), '
        f'"tenant", "{tenant}", "", ""))'
        for tenant, ids in sorted(tenants.items())
        if ids
    ]
    return " or ".join(parts) if parts else "vector(0)"


def gpu_cost_per_hour(models: Sequence[ModelCost]) -> str:
    """Estimated GPU dollars per hour per tenant: GPUs its models' pods request, at the price of
    their pool's GPU-hour (on-demand)."""
    parts = [
        f'label_replace(sum({GPU_REQUESTS[:-1]},namespace="{m.namespace}",pod=~"{m.model}-.*"}}) '
        f'* {m.gpu_hour_usd:.4f}, "tenant", "{m.tenant}", "", "")'
        for m in sorted(models, key=lambda m: (m.tenant, m.model))
    ]
    return f"sum by (tenant) ({' or '.join(parts)})" if parts else "vector(0)"


def usage_dashboard(tenants: Mapping[str, Sequence[str]], models: Sequence[ModelCost]) -> dict[str, Any]:
    tokens = f"sum by ({CLIENT_LABEL}, gen_ai_token_type) (rate({TOKENS}[5m]))"
    rows = [
        ("Tokens per second by tenant", "short", [(_by_tenant(TOKENS, tenants), "{{tenant}}")]),
        (
            "Tokens per second by client and type",
            "short",
            [(tokens, BY_CLIENT + " {{gen_ai_token_type}}")],
        ),
        ("Requests per second by tenant", "reqps", [(_by_tenant(REQUESTS, tenants), "{{tenant}}")]),
        (
            "p90 request latency by client",
            "s",
            [
                (
                    f"histogram_quantile(0.9, sum by ({CLIENT_LABEL}, le) (rate({DURATION}[5m])))",
                    BY_CLIENT,
                )
            ],
        ),
        (
            "Estimated GPU cost per hour by tenant (on-demand)",
            "currencyUSD",
            [(gpu_cost_per_hour(models), "{{tenant}}")],
        ),
        (
            "Tokens in the last 24 hours by client",
            "short",
            [(f"sum by ({CLIENT_LABEL}) (increase({TOKENS}[24h]))", BY_CLIENT)],
        ),
    ]
    panels = [
        _panel(title, unit, targets, 12 * (i % 2), 8 * (i // 2))
        for i, (title, unit, targets) in enumerate(rows)
    ]
    return _dashboard("llm-ai-gateway-usage", "LLM usage per tenant (AI gateway)", panels, [])


def usage_dashboard_json(tenants: Mapping[str, Sequence[str]], models: Sequence[ModelCost]) -> str:
    return json.dumps(usage_dashboard(tenants, models), indent=2, sort_keys=True)
