"""Alert rules of Triton-served models: the Triton counterparts of the vLLM serving rules in
components.core.alerts, from the same metric contract and thresholds.

Kept apart from alerts.py so that module can change without this one (and the other way round);
components/monitoring.py adds the group beside the others.
"""

from __future__ import annotations

from typing import Any

from components.core.alerts import Rule, Thresholds
from components.core.metrics import (
    MODEL_LABEL,
    TRITON_FAILURE,
    TRITON_JOB,
    TRITON_PENDING,
    TRITON_SUCCESS,
    TRITON_VLLM_E2E_LATENCY,
    UP,
)

GROUP = "llm-platform.serving-triton"


def _triton(metric: str) -> str:
    return f'{metric}{{job="{TRITON_JOB}"}}'


def triton_rules(t: Thresholds) -> list[Rule]:
    by_model = f"by (namespace, {MODEL_LABEL})"
    failed = f"sum {by_model} (rate({_triton(TRITON_FAILURE.name)}[5m]))"
    succeeded = f"sum {by_model} (rate({_triton(TRITON_SUCCESS.name)}[5m]))"
    return [
        Rule(
            "TritonNoHealthyReplica",
            f"sum {by_model} ({_triton(UP.name)}) == 0",
            # A replica loading its weights already answers on the metrics port; 5m as for vLLM.
            "5m",
            "critical",
            "No Triton replica of {{ $labels.model }} is serving",
            "Every Triton replica of {{ $labels.model }} in {{ $labels.namespace }} has been unreachable for 5 minutes.",
        ),
        Rule(
            "TritonHighFailureRate",
            f"{failed} / ({failed} + {succeeded}) > {t.error_rate_percent / 100:g}",
            "2m",
            "critical",
            "Triton fails {{ $value | humanizePercentage }} of the requests to {{ $labels.model }}",
            f"More than {t.error_rate_percent:g}% of inference requests to {{{{ $labels.model }}}} failed for 2 minutes.",
        ),
        Rule(
            "TritonQueueBacklog",
            f"max by (namespace, {MODEL_LABEL}, pod) ({_triton(TRITON_PENDING.name)}) > {t.queue_depth}",
            "5m",
            "warning",
            "{{ $value }} requests pending in {{ $labels.pod }}",
            "Requests queue faster than the replica serves them and the autoscaler has not caught up.",
        ),
        Rule(
            "TritonHighP99Latency",
            f"histogram_quantile(0.99, sum by (namespace, {MODEL_LABEL}, le) "
            f'(rate({TRITON_VLLM_E2E_LATENCY.name}_bucket{{job="{TRITON_JOB}"}}[5m]))) '
            f"> {t.p99_latency_seconds:g}",
            "10m",
            "warning",
            "p99 request latency of {{ $labels.model }} (Triton) is {{ $value | humanizeDuration }}",
            f"The slowest 1% of requests to {{{{ $labels.model }}}} took over {t.p99_latency_seconds:g} s for 10 minutes.",
        ),
    ]


def rule_group(t: Thresholds) -> dict[str, Any]:
    """One more entry of the PrometheusRule's spec.groups."""
    return {"name": GROUP, "rules": [r.as_prometheus() for r in triton_rules(t)]}
