"""Alert rules on what serves the models: GPUs (DCGM), pods and the autoscalers (kube-state-metrics,
KEDA)."""

from __future__ import annotations

from components.core.alerts_base import Rule, Thresholds
from components.core.metrics import (
    DCGM_GPU_TEMP,
    DCGM_GPU_UTIL,
    DCGM_POD_LABEL,
    DCGM_XID,
    KEDA_SCALED_OBJECT_ERRORS,
    KEDA_SCALER_ERRORS,
    KSM_HPA_CONDITION,
    KSM_HPA_MAX,
    KSM_HPA_MIN,
    KSM_HPA_REPLICAS,
    KSM_POD_PHASE,
    KSM_RESTARTS,
)

GPU_NODE = "Hostname"  # the node a DCGM series comes from

# XIDs that mean the GPU or its links are broken, not the program using it (NVIDIA's XID
# catalogue: resolution "reset GPU" / "contact support"): double-bit ECC (48), row remapping
# pending or failed (63, 64), NVLink error (74), fallen off the bus (79), high single-bit ECC
# rate (92), contained and uncontained ECC errors (94, 95), GSP firmware timeout and error
# (119, 120). Every other XID (13, 31, 43, 45 ...) is usually a crashing or killed program:
# a warning, not a page.
HARDWARE_XIDS = (48, 63, 64, 74, 79, 92, 94, 95, 119, 120)
XID_WINDOW = "1h"
"""How long a new XID keeps its alert firing (one page, then it resolves)."""


def _last_xid() -> str:
    # One series per GPU whatever pod the exporter maps it to, so a GPU changing hands does not
    # start a new series (whose first value would hide the change).
    return f"max by ({GPU_NODE}, gpu) ({DCGM_XID.name})"


def _new_xid() -> str:
    """GPUs whose XID gauge changed to a non-zero code within the window. The gauge holds the
    last code until the exporter restarts (NVIDIA/dcgm-exporter#500): its value alone would
    page forever after one XID; a change is a new XID."""
    last = _last_xid()
    return f"(({last} > 0) and (changes({last}[{XID_WINDOW}:1m]) > 0))"


def _hardware(expr: str) -> str:
    return "(" + " or ".join(f"{expr} == {code}" for code in HARDWARE_XIDS) + ")"


def _serving_gpus_by_deployment(metric: str) -> str:
    """Average of a DCGM gauge over the GPUs allocated to a pod, by the Deployment owning the
    pod. Unallocated GPUs carry no pod label (GpuTelemetry drops the exporter's own), so a
    half-allocated node's idle GPUs count neither way."""
    allocated = f'{metric}{{{DCGM_POD_LABEL}!=""}}'
    owner = f'label_replace({allocated}, "deployment", "$1", "{DCGM_POD_LABEL}", "(.+)-[a-z0-9]+-[a-z0-9]+")'
    return f"avg by (namespace, deployment) ({owner})"


def gpu_rules(t: Thresholds) -> list[Rule]:
    utilization = _serving_gpus_by_deployment(DCGM_GPU_UTIL.name)
    return [
        Rule(
            "GPUUtilizationSustainedHigh",
            f"{utilization} > {t.gpu_utilization_high_percent:g}",
            "30m",
            "info",
            "GPUs of {{ $labels.namespace }}/{{ $labels.deployment }} have been {{ $value }}% busy for 30 minutes",
            "The model's replicas run at their limit; raise its maxReplicas (and the pool's maxSize) "
            "before the queue alerts start.",
        ),
        Rule(
            "GPUUtilizationSustainedLow",
            f"{utilization} < {t.gpu_utilization_low_percent:g}",
            "30m",
            "info",
            "GPUs of {{ $labels.namespace }}/{{ $labels.deployment }} have been {{ $value }}% busy for 30 minutes",
            "Capacity is paid for and idle; lower the model's minReplicas or its GPUs per replica.",
        ),
        Rule(
            "GPUXidHardwareError",
            f"{_new_xid()} and {_hardware(_last_xid())}",
            "0m",
            "critical",
            "GPU {{ $labels.gpu }} of {{ $labels.Hostname }} reported hardware XID {{ $value }}",
            "The GPU or its link is failing; EKS node repair replaces the node if the GPU stays unhealthy. "
            "Drain the node if it does not.",
        ),
        Rule(
            "GPUXidError",
            f"{_new_xid()} unless {_hardware(_last_xid())}",
            "0m",
            "warning",
            "GPU {{ $labels.gpu }} of {{ $labels.Hostname }} reported XID {{ $value }}",
            "Usually the program on the GPU crashed or was killed (a vLLM restart follows); "
            "repeated XIDs on one GPU point at the hardware.",
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
    hpa = "on (namespace, horizontalpodautoscaler)"
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
            # At zero replicas (a model scaled to zero at night) the HPA is disabled and reports
            # ScalingActive false by design; KEDA, not the HPA, scales from zero.
            f'({KSM_HPA_CONDITION.name}{{condition="ScalingActive",status="false"}} == 1) '
            f"and {hpa} ({KSM_HPA_REPLICAS.name} > 0)",
            "10m",
            "warning",
            "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} cannot read its metrics",
            "An HPA without metrics never scales down; check Prometheus and the KEDA metrics server.",
        ),
        Rule(
            "KedaScalerErrors",
            f"sum by (namespace, scaledObject) (rate({KEDA_SCALER_ERRORS.name}[5m])) > 0",
            "10m",
            "warning",
            "KEDA cannot read the triggers of {{ $labels.namespace }}/{{ $labels.scaledObject }}",
            "The scaler's query fails (Prometheus unreachable or the query broken): the model runs at "
            "its fallback replica count and cannot scale from zero.",
        ),
        Rule(
            "KedaScaledObjectErrors",
            f"sum by (namespace, scaledObject) (rate({KEDA_SCALED_OBJECT_ERRORS.name}[5m])) > 0",
            "10m",
            "warning",
            "KEDA fails to reconcile {{ $labels.namespace }}/{{ $labels.scaledObject }}",
            "The ScaledObject or its HPA cannot be updated; the operator's logs say why.",
        ),
    ]
