"""Alert rules of the AI gateway (kept apart from components/core/alerts.py, the serving rules).

The proxies are scraped as job `ai-gateway-proxy` (Envoy's own stats), Redis as
`ai-gateway-redis` (its exporter), the endpoint pickers as `inference-endpoint-picker`
(with the model they pick for as `model`, so the per-model inhibition applies). Each rule has a promtool case where it fires and one where it
stays quiet (tests/test_gateway_alerts.py).
"""

from __future__ import annotations

from typing import Any

from components.core import endpoint_picker as epp
from components.core.alerts import Rule
from components.core.metrics import EPP_SCHEDULER_ATTEMPTS, KSM_DEPLOYMENT_AVAILABLE

PROXY_JOB = "ai-gateway-proxy"
REDIS_JOB = "ai-gateway-redis"  # components/_redis.py relabels to this
OVER_LIMIT = "envoy_cluster_ratelimit_over_limit"
"""Envoy's counter of requests its global rate limit refused (answered 429), per upstream cluster."""
UPSTREAM_REQUESTS = "envoy_cluster_upstream_rq_total"
REDIS_UP = "redis_up"
UP = "up"
PICKER_JOB = epp.JOB
PICKERS = f'deployment=~".+-{epp.COMPONENT}"'


def _per_model(expr: str) -> str:
    """`expr` by namespace and deployment, with the model its picker deployment is named for."""
    return f'label_replace({expr}, "model", "$1", "deployment", "(.+)-{epp.COMPONENT}")'


def gateway_rules(rejected_share_percent: float = 20) -> list[Rule]:
    over = f'sum by (envoy_cluster_name) (rate({OVER_LIMIT}{{job="{PROXY_JOB}"}}[5m]))'
    sent = f'sum by (envoy_cluster_name) (rate({UPSTREAM_REQUESTS}{{job="{PROXY_JOB}"}}[5m]))'
    return [
        Rule(
            "AIGatewayDown",
            f'sum({UP}{{job="{PROXY_JOB}"}}) == 0 or absent({UP}{{job="{PROXY_JOB}"}})',
            "3m",
            "critical",
            "No AI gateway proxy is up",
            "No Envoy proxy of the AI gateway has answered a scrape for 3 minutes: no model can be called.",
        ),
        Rule(
            "AIGatewayBudgetRejections",
            f"{over} / ({over} + {sent}) > {rejected_share_percent / 100:g}",
            "10m",
            "warning",
            "The gateway refuses {{ $value | humanizePercentage }} of requests to {{ $labels.envoy_cluster_name }} (429)",
            f"More than {rejected_share_percent:g}% of requests to this backend were over a client's token budget "
            "for 10 minutes: a client needs a larger budget, or is misbehaving.",
        ),
        Rule(
            "AIGatewayRedisDown",
            f'min({REDIS_UP}{{job="{REDIS_JOB}"}}) == 0 or absent({REDIS_UP}{{job="{REDIS_JOB}"}})',
            "5m",
            "warning",
            "The token budgets' Redis is down",
            "Redis has been unreachable for 5 minutes: the gateway serves requests without charging budgets "
            "(the rate limit fails open), and the current windows' counts are lost.",
        ),
        *picker_rules(),
    ]


def picker_rules(failed_share_percent: float = 5) -> list[Rule]:
    """The endpoint pickers of the models' InferencePools (components/core/endpoint_picker.py)."""
    attempts = f'{EPP_SCHEDULER_ATTEMPTS.name}{{job="{PICKER_JOB}"'
    failed = f'sum by (namespace, model) (rate({attempts},status="failure"}}[5m]))'
    picked = f"sum by (namespace, model) (rate({attempts}}}[5m]))"
    return [
        Rule(
            "InferencePickerDown",
            _per_model(f"max by (namespace, deployment) ({KSM_DEPLOYMENT_AVAILABLE.name}{{{PICKERS}}})")
            + " == 0",
            "2m",
            "critical",
            "The endpoint picker of {{ $labels.model }} has no ready replica",
            "The AI gateway asks the picker which replica takes each request to the model's "
            "InferencePool and fails the request when no picker answers (Envoy AI Gateway ignores "
            "the pool's FailOpen): callers get 5xx for {{ $labels.model }} in {{ $labels.namespace }}.",
        ),
        Rule(
            "InferencePickerErrors",
            f"{failed} / {picked} > {failed_share_percent / 100:g}",
            "10m",
            "warning",
            "The picker of {{ $labels.model }} finds no replica for {{ $value | humanizePercentage }} of requests",
            f"More than {failed_share_percent:g}% of the picks for this model failed for 10 minutes: no "
            "ready replica in its InferencePool could take the request (all saturated or none ready), "
            "and those requests failed.",
        ),
    ]


def gateway_rule_groups(rejected_share_percent: float = 20) -> list[dict[str, Any]]:
    return [
        {"name": "ai-gateway", "rules": [r.as_prometheus() for r in gateway_rules(rejected_share_percent)]}
    ]
