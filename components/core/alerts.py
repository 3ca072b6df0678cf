"""Alert rules of the platform, generated from the metric contract and configurable thresholds.

Severity decides routing: critical pages, warning notifies, info informs.
Every rule has a promtool test in which it fires and one in which it stays
quiet (tests/test_alerts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.core.metrics import (
    DCGM_GPU_TEMP,
    DCGM_GPU_UTIL,
    DCGM_XID,
    HTTP_REQUESTS,
    KSM_HPA_CONDITION,
    KSM_HPA_MAX,
    KSM_HPA_MIN,
    KSM_HPA_REPLICAS,
    KSM_POD_PHASE,
    KSM_RESTARTS,
    MODEL_LABEL,
    UP,
    VLLM_E2E_LATENCY,
    VLLM_JOB,
    VLLM_KV_CACHE_USAGE,
    VLLM_PREEMPTIONS,
    VLLM_TTFT,
    VLLM_WAITING,
)

GPU_NODE = "Hostname"  # the node a DCGM series comes from


@dataclass(frozen=True)
class Thresholds:
    error_rate_percent: float = 5
    p99_latency_seconds: float = 60
    p99_time_to_first_token_seconds: float = 10
    queue_depth: int = 50
    kv_cache_usage_percent: float = 90
    preemptions_per_second: float = 1
    gpu_utilization_high_percent: float = 95
    gpu_utilization_low_percent: float = 30
    gpu_temperature_celsius: float = 85
    restarts_per_hour: int = 5
    pending_minutes: int = 15


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str

    def as_prometheus(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_ != "0m":
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "description": self.description}
        return rule


def _vllm(metric: str, extra: str = "") -> str:
    return f'{metric}{{job="{VLLM_JOB}"{extra}}}'


def _p99(histogram: str) -> str:
    return (
        f"histogram_quantile(0.99, sum by (namespace, {MODEL_LABEL}, le) "
        f"(rate({_vllm(histogram + '_bucket')}[5m])))"
    )


def serving_rules(t: Thresholds) -> list[Rule]:
    api = ',handler=~"/v1/.*"'
    server_errors = api + ',status=~"5.."'
    by_model = f"by (namespace, {MODEL_LABEL})"
    return [
        Rule(
            "VLLMNoHealthyReplica",
            f"sum {by_model} ({_vllm(UP.name)}) == 0",
            # A replica loading its weights cannot be scraped yet; 5m keeps a cold start from paging.
            "5m",
            "critical",
            "No replica of {{ $labels.model }} is serving",
            "Every replica of {{ $labels.model }} in {{ $labels.namespace }} has been unreachable for 5 minutes.",
        ),
        Rule(
            "VLLMHighErrorRate",
            f"sum {by_model} (rate({_vllm(HTTP_REQUESTS.name, server_errors)}[5m])) "
            f"/ sum {by_model} (rate({_vllm(HTTP_REQUESTS.name, api)}[5m])) "
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
    ]


def gpu_rules(t: Thresholds) -> list[Rule]:
    return [
        Rule(
            "GPUUtilizationSustainedHigh",
            f"avg by ({GPU_NODE}) ({DCGM_GPU_UTIL.name}) > {t.gpu_utilization_high_percent:g}",
            "30m",
            "info",
            "GPUs of {{ $labels.Hostname }} have been {{ $value }}% busy for 30 minutes",
            "The pool runs at its limit; raise its maxSize before the queue alerts start.",
        ),
        Rule(
            "GPUUtilizationSustainedLow",
            f"avg by ({GPU_NODE}) ({DCGM_GPU_UTIL.name}) < {t.gpu_utilization_low_percent:g}",
            "30m",
            "info",
            "GPUs of {{ $labels.Hostname }} have been {{ $value }}% busy for 30 minutes",
            "Capacity is paid for and idle; lower the pool's minimum or the model's minReplicas.",
        ),
        Rule(
            "GPUXidError",
            f"max by ({GPU_NODE}, gpu) ({DCGM_XID.name}) > 0",
            "0m",
            "critical",
            "GPU {{ $labels.gpu }} of {{ $labels.Hostname }} reported XID {{ $value }}",
            "The driver reported a GPU error; EKS node repair replaces the node if the GPU stays unhealthy.",
        ),
        Rule(
            "GPUTemperatureHigh",
            f"max by ({GPU_NODE}, gpu) ({DCGM_GPU_TEMP.name}) > {t.gpu_temperature_celsius:g}",
            "5m",
            "warning",
            "GPU {{ $labels.gpu }} of {{ $labels.Hostname }} is at {{ $value }} C",
            "A hot GPU throttles its clocks and slows every request on it.",
        ),
    ]


def workload_rules(t: Thresholds) -> list[Rule]:
    return [
        Rule(
            "PodRestartLoop",
            f"increase({KSM_RESTARTS.name}[1h]) > {t.restarts_per_hour}",
            "0m",
            "warning",
            "{{ $labels.namespace }}/{{ $labels.pod }} restarted {{ $value | humanize }} times in an hour",
            "A container keeps crashing; its logs say why (a model that does not fit crashes at load).",
        ),
        Rule(
            "PodPendingTooLong",
            f'sum by (namespace, pod) ({KSM_POD_PHASE.name}{{phase="Pending"}}) > 0',
            f"{t.pending_minutes}m",
            "warning",
            "{{ $labels.namespace }}/{{ $labels.pod }} has been Pending for "
            + f"{t.pending_minutes} minutes",
            "Usually no GPU is free: the pool is at its maximum or its nodes cannot be launched.",
        ),
        Rule(
            "AutoscalerAtMaximum",
            # An autoscaler with no room (a canary of 1..1) is always "at its maximum": skip it.
            f"({KSM_HPA_REPLICAS.name} >= {KSM_HPA_MAX.name}) and ({KSM_HPA_MAX.name} > {KSM_HPA_MIN.name})",
            "15m",
            "info",
            "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has run at its maximum for 15 minutes",
            "Demand exceeds what the model may scale to; raise maxReplicas (and the quota and pool with it).",
        ),
        Rule(
            "AutoscalerMetricsUnavailable",
            f'{KSM_HPA_CONDITION.name}{{condition="ScalingActive",status="false"}} == 1',
            "10m",
            "warning",
            "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} cannot read its metrics",
            "An HPA without metrics never scales down; check Prometheus and the KEDA metrics server.",
        ),
    ]


def rule_groups(t: Thresholds) -> list[dict[str, Any]]:
    """The spec.groups of the platform's PrometheusRule."""
    return [
        {"name": name, "rules": [r.as_prometheus() for r in rules]}
        for name, rules in (
            ("llm-platform.serving", serving_rules(t)),
            ("llm-platform.gpu", gpu_rules(t)),
            ("llm-platform.workloads", workload_rules(t)),
        )
    ]


def all_rules(t: Thresholds) -> list[Rule]:
    return [*serving_rules(t), *gpu_rules(t), *workload_rules(t)]
