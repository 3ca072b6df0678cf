"""The AI gateway's objects as plain data: who may call a model, what they are charged, and
where the request goes. No Pulumi here; components/ai_gateway.py sends these.

The request path: ALB (TLS, WAF) -> Envoy proxy (Gateway `ai-gateway`) -> per model an
AIGatewayRoute whose SecurityPolicy accepts only the keys of the clients allowed to call that
model -> its InferencePool, whose endpoint picker chooses the replica (or, while a canary takes
a share, the tracks by weight) -> vLLM, with vLLM's own key added by the gateway (a
BackendSecurityPolicy), never known to callers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.core.endpoint_picker import POOL_GROUP

CONTROLLER_NAMESPACE = "envoy-gateway-system"
"""Envoy Gateway, its rate-limit service, Redis, the Gateway and its proxies."""
AI_CONTROLLER_NAMESPACE = "envoy-ai-gateway-system"
"""Envoy AI Gateway's controller (the extension server Envoy Gateway calls)."""
AI_CONTROLLER_SERVICE = "ai-gateway-controller"  # the chart's controller.fullnameOverride default
AI_CONTROLLER_GRPC_PORT = 1063
GATEWAY_NAME = "ai-gateway"
GATEWAY_CLASS = "ai-gateway"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
PROXY_SERVICE = "ai-gateway-proxy"
"""The proxies' Service, named (not hashed by Envoy Gateway) so the ALB's route can point at it."""
LISTENER_PORT = 80
"""TLS ends at the ALB; the hop to the proxies stays inside the VPC."""
PROXY_CONTAINER_PORT = 10080  # Envoy Gateway maps listener port 80 to 10080 (unprivileged)
PROXY_STATS_PORT = 19001  # Envoy's /stats/prometheus (container port "metrics"), nothing else
PROXY_READY_PORT = 19003  # Envoy's /ready (container port "readiness"; Envoy Gateway's bootstrap)
EXTPROC_METRICS_PORT = 1064  # the AI gateway's sidecar: gen_ai_* metrics on /metrics
PROXY_POD_LABELS = {"app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway"}
"""Labels Envoy Gateway puts on every proxy pod: the only pods a model admits."""

MODEL_HEADER = "x-ai-eg-model"
"""Set by the AI gateway from the request body's `model`; routes match on it."""
CLIENT_ID_HEADER = "x-llm-client-id"
"""Set by API-key or JWT auth to the caller's client id; a value the caller sent is dropped at the
Gateway first (gateway_auth.client_header_policy_spec)."""
TOKEN_METADATA_NAMESPACE = "io.envoy.ai_gateway"
INPUT_TOKENS, OUTPUT_TOKENS, TOTAL_TOKENS = "llm_input_token", "llm_output_token", "llm_total_token"
RETRY_AFTER_SECONDS = 60
"""What a caller over budget is told to wait: per-minute budgets refill within it; a caller over
its daily budget is told again on each retry, and X-RateLimit-Reset says when the day ends."""


@dataclass(frozen=True)
class Budget:
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None


@dataclass(frozen=True)
class Client:
    """An API client of a tenant: its id, and the models it may call with their budgets."""

    id: str
    models: Mapping[str, Budget]


def clients_of(model: str, clients: Sequence[Client]) -> list[str]:
    """Ids of the clients that may call `model`, sorted (the key Secret's keys)."""
    return sorted(c.id for c in clients if model in c.models)


def client_keys_data(model: str, clients: Sequence[Client], keys: Mapping[str, str]) -> dict[str, str]:
    """The Secret API-key auth reads: one entry per client allowed to call `model`, key = client id."""
    return {client: keys[client] for client in clients_of(model, clients)}


def security_policy_spec(route: str, keys_secret: str) -> dict[str, Any]:
    """API-key auth on one model's route: a key of a client allowed to call this model, or 401.
    The key is stripped before the request goes on, and the client id travels in its place."""
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route}],
        "apiKeyAuth": {
            "credentialRefs": [{"group": "", "kind": "Secret", "name": keys_secret}],
            # OpenAI clients send `Authorization: Bearer <key>`; Envoy strips the scheme.
            "extractFrom": [{"headers": ["Authorization"]}],
            "forwardClientIDHeader": CLIENT_ID_HEADER,
            "sanitize": True,
        },
    }


def request_costs() -> list[dict[str, str]]:
    """What the AI gateway counts from each answer's usage, under the metadata keys budgets read."""
    return [
        {"metadataKey": INPUT_TOKENS, "type": "InputToken"},
        {"metadataKey": OUTPUT_TOKENS, "type": "OutputToken"},
        {"metadataKey": TOTAL_TOKENS, "type": "TotalToken"},
    ]


def through_pool(tracks: Sequence[tuple[str, int]]) -> bool:
    """Whether the model's requests go to its InferencePool (the endpoint picker chooses the
    replica): while its stable track, the first, takes them all. During a canary they are split by
    weight over the tracks' Services instead, without the picker: Envoy AI Gateway admits one
    InferencePool per route rule and no mix of pools and other backends (the AIGatewayRoute
    CRD's rules), so a weighted split over two pools cannot be written."""
    return [service for service, weight in tracks if weight > 0] == [tracks[0][0]]


def ai_route_spec(
    model: str, gateway_namespace: str, backends: Sequence[tuple[str, int]], pool: str | None = None
) -> dict[str, Any]:
    """The model's AIGatewayRoute: requests whose body names `model`, to its InferencePool `pool`
    when there is one and no canary takes a share (through_pool), else split over its tracks by
    weight (the canary's share); token usage counted for the budgets."""
    if pool is not None and through_pool(backends):
        refs: list[dict[str, Any]] = [{"group": POOL_GROUP, "kind": "InferencePool", "name": pool}]
    else:
        refs = [{"name": backend, "weight": weight} for backend, weight in backends if weight > 0]
    return {
        "parentRefs": [
            {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": GATEWAY_NAME,
                "namespace": gateway_namespace,
            }
        ],
        "rules": [
            {
                "name": model,
                "matches": [{"headers": [{"type": "Exact", "name": MODEL_HEADER, "value": model}]}],
                "backendRefs": refs,
            }
        ],
        "llmRequestCosts": request_costs(),
    }


def backend_spec(service: str, namespace: str, port: int) -> dict[str, Any]:
    """Envoy Gateway Backend of one track's Service (the AIServiceBackend points at it)."""
    return {"endpoints": [{"fqdn": {"hostname": f"{service}.{namespace}.svc.cluster.local", "port": port}}]}


def ai_service_backend_spec(backend: str) -> dict[str, Any]:
    """vLLM speaks the OpenAI API under /v1."""
    return {
        "schema": {"name": "OpenAI", "prefix": "/v1"},
        "backendRef": {"group": "gateway.envoyproxy.io", "kind": "Backend", "name": backend},
    }


def upstream_key_policy_spec(secret: str, backends: Sequence[str], pool: str | None = None) -> dict[str, Any]:
    """vLLM's own key, added by the gateway to every request to the model's tracks, whether they
    go through its InferencePool or to a track's Service."""
    refs = [{"group": "aigateway.envoyproxy.io", "kind": "AIServiceBackend", "name": b} for b in backends]
    if pool is not None:
        refs.append({"group": POOL_GROUP, "kind": "InferencePool", "name": pool})
    return {"type": "APIKey", "apiKey": {"secretRef": {"name": secret}}, "targetRefs": refs}


def rate_limit_rules(model: str, clients: Sequence[Client]) -> list[dict[str, Any]]:
    """One global rate-limit rule per client and budget window on `model`: a request is checked
    against the counter (cost 0) and the answer's total tokens are charged afterwards."""
    windows = (("Minute", "tokens_per_minute"), ("Day", "tokens_per_day"))
    rules = []
    for client in sorted(clients, key=lambda c: c.id):
        budget = client.models.get(model)
        if budget is None:
            continue
        for unit, field in windows:
            limit = getattr(budget, field)
            if limit is None:
                continue
            rules.append(
                {
                    "clientSelectors": [
                        {"headers": [{"name": CLIENT_ID_HEADER, "type": "Exact", "value": client.id}]}
                    ],
                    "limit": {"requests": limit, "unit": unit},
                    "cost": {
                        "request": {"from": "Number", "number": 0},
                        "response": {
                            "from": "Metadata",
                            "metadata": {"namespace": TOKEN_METADATA_NAMESPACE, "key": TOTAL_TOKENS},
                        },
                    },
                }
            )
    return rules


def budget_policy_spec(route: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """BackendTrafficPolicy on a model's route: the token budgets, and 429 with Retry-After (and
    X-RateLimit-* headers) for a caller over one."""
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route}],
        "rateLimit": {"global": {"rules": rules}},
        "responseOverride": [
            {
                "match": {"statusCodes": [{"type": "Value", "value": 429}]},
                "response": {
                    "statusCode": 429,
                    "header": {"set": [{"name": "Retry-After", "value": str(RETRY_AFTER_SECONDS)}]},
                },
            }
        ],
    }


def budget_table(tenant_clients: Mapping[str, Sequence[Client]]) -> list[tuple[str, str, str, str, str]]:
    """(tenant, client, model, tokens/min, tokens/day) rows, for the plan summary."""
    rows = []
    for tenant, clients in sorted(tenant_clients.items()):
        for client in sorted(clients, key=lambda c: c.id):
            for model, budget in sorted(client.models.items()):
                rows.append(
                    (
                        tenant,
                        client.id,
                        model,
                        f"{budget.tokens_per_minute:,}" if budget.tokens_per_minute else "unlimited",
                        f"{budget.tokens_per_day:,}" if budget.tokens_per_day else "unlimited",
                    )
                )
    return rows
