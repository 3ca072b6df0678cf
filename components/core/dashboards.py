"""Grafana dashboards as code: serving (per model) and GPU (per node and per pool).

Every query is built from the metric contract; tests/test_dashboards.py parses
each with promtool and checks it names contract metrics only.
"""

from __future__ import annotations

import json
from typing import Any

from components.core.metrics import (
    DCGM_FB_FREE,
    DCGM_FB_USED,
    DCGM_GPU_TEMP,
    DCGM_GPU_UTIL,
    DCGM_POWER,
    DCGM_XID,
    HTTP_REQUESTS,
    KSM_NODE_LABELS,
    MODEL_LABEL,
    TRITON_FAILURE,
    TRITON_JOB,
    TRITON_LOAD_DURATION,
    TRITON_PENDING,
    TRITON_QUEUE_DURATION,
    TRITON_REQUEST_DURATION,
    TRITON_SUCCESS,
    TRITON_VLLM_GENERATION_TOKENS,
    TRITON_VLLM_PROMPT_TOKENS,
    TRITON_VLLM_TTFT,
    UP,
    VLLM_E2E_LATENCY,
    VLLM_GENERATION_TOKENS,
    VLLM_JOB,
    VLLM_KV_CACHE_USAGE,
    VLLM_PREEMPTIONS,
    VLLM_PROMPT_TOKENS,
    VLLM_RUNNING,
    VLLM_TPOT,
    VLLM_TTFT,
    VLLM_WAITING,
)

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # kube-prometheus-stack's provisioned Prometheus
POOL = "label_llm_platform_io_pool"  # the node label, as kube-state-metrics exports it
SERVING = f'job="{VLLM_JOB}",namespace=~"$namespace",{MODEL_LABEL}=~"$model"'


def _panel(title: str, unit: str, targets: list[tuple[str, str]], x: int, y: int) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _quantiles(histogram: str) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by ({MODEL_LABEL}, le) (rate({histogram}_bucket{{{SERVING}}}[5m])))",
            f"p{int(q * 100)} {{{{{MODEL_LABEL}}}}}",
        )
        for q in (0.5, 0.9, 0.99)
    ]


def _variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "refresh": 2,
    }


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["llm-platform"],
        "timezone": "browser",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": variables},
        "panels": panels,
    }


def serving_dashboard() -> dict[str, Any]:
    by_model = f"sum by ({MODEL_LABEL})"
    api = f'{SERVING},handler=~"/v1/.*"'
    rows = [
        (
            "Requests per second",
            "reqps",
            [(f"{by_model} (rate({HTTP_REQUESTS.name}{{{api}}}[5m]))", "{{model}}")],
        ),
        (
            "Error rate (5xx)",
            "percentunit",
            [
                (
                    f'{by_model} (rate({HTTP_REQUESTS.name}{{{api},status=~"5.."}}[5m])) '
                    f"/ {by_model} (rate({HTTP_REQUESTS.name}{{{api}}}[5m]))",
                    "{{model}}",
                )
            ],
        ),
        ("Time to first token", "s", _quantiles(VLLM_TTFT.name)),
        ("Time per output token", "s", _quantiles(VLLM_TPOT.name)),
        ("End-to-end latency", "s", _quantiles(VLLM_E2E_LATENCY.name)),
        (
            "Tokens per second",
            "short",
            [
                (f"{by_model} (rate({VLLM_PROMPT_TOKENS.name}{{{SERVING}}}[5m]))", "prompt {{model}}"),
                (f"{by_model} (rate({VLLM_GENERATION_TOKENS.name}{{{SERVING}}}[5m]))", "generated {{model}}"),
            ],
        ),
        (
            "Requests waiting and running per replica",
            "short",
            [
                (f"max by (pod) ({VLLM_WAITING.name}{{{SERVING}}})", "waiting {{pod}}"),
                (f"max by (pod) ({VLLM_RUNNING.name}{{{SERVING}}})", "running {{pod}}"),
            ],
        ),
        (
            "KV cache usage per replica",
            "percentunit",
            [(f"max by (pod) ({VLLM_KV_CACHE_USAGE.name}{{{SERVING}}})", "{{pod}}")],
        ),
        (
            "Preemptions per second",
            "short",
            [(f"sum by (pod) (rate({VLLM_PREEMPTIONS.name}{{{SERVING}}}[5m]))", "{{pod}}")],
        ),
    ]
    rows += triton_rows()
    panels = [
        _panel(title, unit, targets, 12 * (i % 2), 8 * (i // 2))
        for i, (title, unit, targets) in enumerate(rows)
    ]
    variables = [
        # Every serving target, whichever runtime: vLLM's and Triton's models are both listed.
        _variable("namespace", f'label_values({UP.name}{{job=~"{VLLM_JOB}|{TRITON_JOB}"}}, namespace)'),
        _variable(
            "model",
            f'label_values({UP.name}{{job=~"{VLLM_JOB}|{TRITON_JOB}",namespace=~"$namespace"}}, {MODEL_LABEL})',
        ),
    ]
    return _dashboard("llm-platform-serving", "LLM serving", panels, variables)


TRITON = f'job="{TRITON_JOB}",namespace=~"$namespace",{MODEL_LABEL}=~"$model"'


def triton_rows() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The serving dashboard's Triton panels: the same questions as vLLM's, from Triton's
    metrics (and its vLLM backend's, which the platform turns on)."""
    by_model = f"sum by ({MODEL_LABEL})"
    return [
        (
            "Triton requests per second",
            "reqps",
            [
                (f"{by_model} (rate({TRITON_SUCCESS.name}{{{TRITON}}}[5m]))", "ok {{model}}"),
                (f"{by_model} (rate({TRITON_FAILURE.name}{{{TRITON}}}[5m]))", "failed {{model}}"),
            ],
        ),
        (
            "Triton pending requests per replica",
            "short",
            [(f"max by (pod) ({TRITON_PENDING.name}{{{TRITON}}})", "{{pod}}")],
        ),
        (
            "Triton mean queue and request time",
            "µs",
            [
                (
                    f"{by_model} (rate({TRITON_QUEUE_DURATION.name}{{{TRITON}}}[5m])) "
                    f"/ {by_model} (rate({TRITON_SUCCESS.name}{{{TRITON}}}[5m]))",
                    "queue {{model}}",
                ),
                (
                    f"{by_model} (rate({TRITON_REQUEST_DURATION.name}{{{TRITON}}}[5m])) "
                    f"/ {by_model} (rate({TRITON_SUCCESS.name}{{{TRITON}}}[5m]))",
                    "request {{model}}",
                ),
            ],
        ),
        (
            "Triton time to first token",
            "s",
            [
                (
                    f"histogram_quantile({q}, sum by ({MODEL_LABEL}, le) "
                    f"(rate({TRITON_VLLM_TTFT.name}_bucket{{{TRITON}}}[5m])))",
                    f"p{int(q * 100)} {{{{{MODEL_LABEL}}}}}",
                )
                for q in (0.5, 0.9, 0.99)
            ],
        ),
        (
            "Triton tokens per second",
            "short",
            [
                (f"{by_model} (rate({TRITON_VLLM_PROMPT_TOKENS.name}{{{TRITON}}}[5m]))", "prompt {{model}}"),
                (
                    f"{by_model} (rate({TRITON_VLLM_GENERATION_TOKENS.name}{{{TRITON}}}[5m]))",
                    "generated {{model}}",
                ),
            ],
        ),
        (
            "Triton model load time",
            "s",
            [(f"max by ({MODEL_LABEL}, pod) ({TRITON_LOAD_DURATION.name}{{{TRITON}}})", "{{pod}}")],
        ),
    ]


def _per_pool(metric: str, aggregation: str = "avg") -> str:
    """A DCGM metric per node pool: DCGM knows the node (Hostname), kube-state-metrics its pool label."""
    nodes = f'label_replace({KSM_NODE_LABELS.name}, "Hostname", "$1", "node", "(.*)")'
    return f'{aggregation} by ({POOL}) ({metric}{{Hostname=~"$node"}} * on (Hostname) group_left ({POOL}) {nodes})'


def gpu_dashboard() -> dict[str, Any]:
    node = 'Hostname=~"$node"'
    rows = [
        (
            "GPU utilisation per node",
            "percent",
            [(f"avg by (Hostname) ({DCGM_GPU_UTIL.name}{{{node}}})", "{{Hostname}}")],
        ),
        ("GPU utilisation per pool", "percent", [(_per_pool(DCGM_GPU_UTIL.name), f"{{{{{POOL}}}}}")]),
        (
            "GPU memory used",
            "percentunit",
            [
                (
                    f"sum by (Hostname) ({DCGM_FB_USED.name}{{{node}}}) / "
                    f"(sum by (Hostname) ({DCGM_FB_USED.name}{{{node}}}) + sum by (Hostname) ({DCGM_FB_FREE.name}{{{node}}}))",
                    "{{Hostname}}",
                )
            ],
        ),
        (
            "GPU temperature",
            "celsius",
            [(f"max by (Hostname, gpu) ({DCGM_GPU_TEMP.name}{{{node}}})", "{{Hostname}} gpu {{gpu}}")],
        ),
        ("GPU power per pool", "watt", [(_per_pool(DCGM_POWER.name, "sum"), f"{{{{{POOL}}}}}")]),
        (
            "Last XID error per GPU",
            "none",
            [(f"max by (Hostname, gpu) ({DCGM_XID.name}{{{node}}})", "{{Hostname}} gpu {{gpu}}")],
        ),
    ]
    panels = [
        _panel(title, unit, targets, 12 * (i % 2), 8 * (i // 2))
        for i, (title, unit, targets) in enumerate(rows)
    ]
    variables = [_variable("node", f"label_values({DCGM_GPU_UTIL.name}, Hostname)")]
    return _dashboard("llm-platform-gpu", "GPUs", panels, variables)


def dashboards() -> dict[str, str]:
    """File name -> dashboard JSON, as the Grafana sidecar loads them from ConfigMaps."""
    return {
        "llm-serving.json": json.dumps(serving_dashboard(), indent=2, sort_keys=True),
        "llm-gpus.json": json.dumps(gpu_dashboard(), indent=2, sort_keys=True),
    }


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
