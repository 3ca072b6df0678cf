"""Alert rules of the platform, generated from the metric contract and configurable thresholds.

Severity decides routing: critical pages, warning notifies, info informs. Each rule is
tested under promtool in the production situations that matter to it (tests/test_alerts.py)
and documented with its threshold in docs/alerts.md. The GPU, pod and autoscaler rules are
in components.core.alerts_cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from components.core.alerts_base import Rule, Thresholds
from components.core.alerts_cluster import gpu_rules, workload_rules
from components.core.metrics import (
    HTTP_REQUESTS,
    KSM_CONTAINER_READY,
    KSM_DEPLOYMENT_AVAILABLE,
    KSM_DEPLOYMENT_SPEC_REPLICAS,
    KSM_RESTARTS,
    MODEL_LABEL,
    VLLM_E2E_LATENCY,
    VLLM_JOB,
    VLLM_KV_CACHE_USAGE,
    VLLM_PREEMPTIONS,
    VLLM_TTFT,
    VLLM_WAITING,
    pods_of,
)

__all__ = ["Rule", "ServedModel", "Thresholds", "all_rules", "model_rules", "rule_groups", "serving_rules"]

# Karpenter launches a GPU node in 45-90 s and a fresh node pulls the vLLM image in 60-95 s
# (../shared/REFERENCE.md); a model's startup budget counts from container start, so a cold
# start from zero nodes may take this much longer.
NODE_AND_IMAGE_SECONDS = 300
VLLM_CONTAINER = "vllm"


@dataclass(frozen=True)
class ServedModel:
    """What the per-model rules need to know about one model's stable Deployment."""

    namespace: str
    deployment: str
    model: str
    """The served model name (the `model` label of its vLLM targets)."""
    startup_seconds: int
    """The startup budget its startupProbe allows (components.core.sizing.startup_budget_seconds)."""
    may_scale_to_zero: bool
    """min_replicas 0: zero replicas outside working hours is intended, not an outage."""

    @property
    def outage_minutes(self) -> int:
        """How long no replica may be available before it is an outage: a cold start on a new
        node, image pull and the model's worst load included."""
        return math.ceil((self.startup_seconds + NODE_AND_IMAGE_SECONDS) / 60)


def _vllm(metric: str, extra: str = "") -> str:
    return f'{metric}{{job="{VLLM_JOB}"{extra}}}'


def _p99(histogram: str) -> str:
    return (
        f"histogram_quantile(0.99, sum by (namespace, {MODEL_LABEL}, le) "
        f"(rate({_vllm(histogram + '_bucket')}[5m])))"
    )


BY_MODEL = f"by (namespace, {MODEL_LABEL})"
API = ',handler=~"/v1/.*"'


def serving_rules(t: Thresholds) -> list[Rule]:
    server_errors = API + ',status=~"5.."'
    now = f"sum {BY_MODEL} (rate({_vllm(HTTP_REQUESTS.name, API)}[5m]))"
    # The hour before the last five minutes: a baseline the jump itself does not raise.
    before = f"sum {BY_MODEL} (rate({_vllm(HTTP_REQUESTS.name, API)}[1h] offset 5m))"
    return [
        Rule(
            "VLLMHighErrorRate",
            f"sum {BY_MODEL} (rate({_vllm(HTTP_REQUESTS.name, server_errors)}[5m])) "
            f"/ sum {BY_MODEL} (rate({_vllm(HTTP_REQUESTS.name, API)}[5m])) "
            f"> {t.error_rate_percent / 100:g}",
            "2m",
            "critical",
            "{{ $labels.model }} fails {{ $value | humanizePercentage }} of its API requests",
            f"More than {t.error_rate_percent:g}% of requests to {{{{ $labels.model }}}} returned 5xx for 2 minutes.",
        ),
        Rule(
            "VLLMHighP99Latency",
            f"{_p99(VLLM_E2E_LATENCY.name)} > {t.p99_latency_seconds:g}",
            "10m",
            "warning",
            "p99 request latency of {{ $labels.model }} is {{ $value | humanizeDuration }}",
            f"The slowest 1% of requests to {{{{ $labels.model }}}} took over {t.p99_latency_seconds:g} s for 10 minutes.",
        ),
        Rule(
            "VLLMHighP99TimeToFirstToken",
            f"{_p99(VLLM_TTFT.name)} > {t.p99_time_to_first_token_seconds:g}",
            "10m",
            "warning",
            "p99 time to first token of {{ $labels.model }} is {{ $value | humanizeDuration }}",
            "Users wait long for the first token: the queue or prefill is overloaded.",
        ),
        Rule(
            "VLLMQueueBacklog",
            f"max by (namespace, {MODEL_LABEL}, pod) ({_vllm(VLLM_WAITING.name)}) > {t.queue_depth}",
            "5m",
            "warning",
            "{{ $value }} requests waiting in {{ $labels.pod }}",
            "Requests queue faster than the replica serves them and the autoscaler has not caught up.",
        ),
        Rule(
            "VLLMKVCacheSaturated",
            f"max by (namespace, {MODEL_LABEL}, pod) ({_vllm(VLLM_KV_CACHE_USAGE.name)}) "
            f"> {t.kv_cache_usage_percent / 100:g}",
            "10m",
            "warning",
            "KV cache of {{ $labels.pod }} is {{ $value | humanizePercentage }} full",
            "New sequences wait or preempt running ones; add replicas or lower max-num-seqs.",
        ),
        Rule(
            "VLLMPreemptions",
            f"sum by (namespace, {MODEL_LABEL}, pod) (rate({_vllm(VLLM_PREEMPTIONS.name)}[5m])) "
            f"> {t.preemptions_per_second:g}",
            "5m",
            "warning",
            "{{ $labels.pod }} preempts {{ $value | humanize }} sequences per second",
            "The KV cache cannot hold the running batch; sequences are recomputed.",
        ),
        Rule(
            "VLLMTrafficJump",
            # A floor on the baseline keeps a quiet model's 0.2 -> 0.4 requests per second quiet.
            f"({now} > {1 + t.traffic_jump_percent / 100:g} * {before}) "
            f"and ({before} >= {t.traffic_jump_min_requests_per_second:g})",
            "5m",
            "info",
            "Requests to {{ $labels.model }} jumped to {{ $value | humanize }} per second",
            f"The last 5 minutes carry over {t.traffic_jump_percent:g}% more API requests per second "
            "than the hour before; watch the queue and the autoscaler's maximum.",
        ),
    ]


def model_rules(m: ServedModel, t: Thresholds) -> list[Rule]:
    """Rules that need to know one model: how long its cold start may take, and whether it
    may be at zero replicas on purpose."""
    deployment = f'namespace="{m.namespace}",deployment="{m.deployment}"'
    pods = f'namespace="{m.namespace}",pod=~"{pods_of(m.deployment)}",container="{VLLM_CONTAINER}"'
    # Scaled to zero outside working hours is intended; a model that must serve is down at zero too.
    wanted = 1 if m.may_scale_to_zero else 0
    # A failed load shows as restarts of a container that was never ready since: long enough to
    # span two worst-case loads, so a replica reloading after one crash does not count.
    window = 2 * m.outage_minutes
    model = ((MODEL_LABEL, m.model),)
    return [
        Rule(
            "VLLMNoHealthyReplica",
            f"({KSM_DEPLOYMENT_AVAILABLE.name}{{{deployment}}} == 0) "
            f"and on (namespace, deployment) ({KSM_DEPLOYMENT_SPEC_REPLICAS.name}{{{deployment}}} >= {wanted})",
            f"{m.outage_minutes}m",
            "critical",
            f"No replica of {m.model} is serving",
            f"No replica of {m.model} in {m.namespace} has been available for {m.outage_minutes} minutes, "
            "longer than its cold start may take: pods Pending for want of a GPU, failing to load, "
            "or the Deployment at zero.",
            model,
        ),
        Rule(
            "VLLMModelLoadFailed",
            f"({KSM_RESTARTS.name}{{{pods}}} >= 2) unless on (namespace, pod, container) "
            f"(max_over_time({KSM_CONTAINER_READY.name}{{{pods}}}[{window}m]) == 1)",
            "0m",
            "warning",
            f"{{{{ $labels.pod }}}} fails to load {m.model}",
            f"vLLM restarted {{{{ $value }}}} times without becoming ready in {window} minutes: "
            "the weights do not fit, cannot be read, or the load outlasts the startup probe. Its logs say which.",
            model,
        ),
    ]


def rule_groups(t: Thresholds, models: list[ServedModel] | None = None) -> list[dict[str, Any]]:
    """The spec.groups of the platform's PrometheusRule."""
    groups = [
        ("llm-platform.serving", serving_rules(t)),
        ("llm-platform.models", [r for m in models or [] for r in model_rules(m, t)]),
        ("llm-platform.gpu", gpu_rules(t)),
        ("llm-platform.workloads", workload_rules(t)),
    ]
    return [{"name": name, "rules": [r.as_prometheus() for r in rules]} for name, rules in groups if rules]


def all_rules(t: Thresholds, models: list[ServedModel] | None = None) -> list[Rule]:
    per_model = [r for m in models or [] for r in model_rules(m, t)]
    return [*serving_rules(t), *per_model, *gpu_rules(t), *workload_rules(t)]
