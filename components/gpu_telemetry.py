"""GpuTelemetry: NVIDIA's DCGM exporter on every GPU node, scraped by Prometheus."""

from typing import Any, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.core.placement import GPU_PRESENT_LABEL, GPU_TAINT_KEY
from components.versions import DCGM_EXPORTER

TARGET_POD_LABELS = "namespace|pod|container"
"""Labels Prometheus gives a target from its pod; the exporter's own, not the GPU's."""


class GpuTelemetryArgs(TypedDict, total=False):
    namespace: Required[pulumi.Input[str]]
    """Namespace of the monitoring stack."""
    scrape_interval_seconds: int
    """How often Prometheus reads the GPUs (default 15)."""
    monitoring_release: Required[pulumi.Input[str]]
    """Monitoring.release_name: the ServiceMonitor waits for the release that installs its CRD."""
    chart_source: _k8s.ChartSourceArgs
    """Install the DCGM exporter chart from a mirror or a local path (default: its public repository; the pinned version either way)."""


def exporter_values() -> dict[str, Any]:
    return {
        # GPU nodes only, through their taint.
        "nodeSelector": {GPU_PRESENT_LABEL: "true"},
        "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        # The ServiceMonitor below replaces the chart's (which would rename the GPU's pod labels).
        "serviceMonitor": {"enabled": False},
        "podAnnotations": {
            "llm-platform.io/privileges": (
                "root with SYS_ADMIN (the chart's default): DCGM reads the GPUs' profiling counters "
                "(DCGM_FI_PROF_*) through the driver, and the kubelet's pod-resources socket to tell "
                "which pod uses which GPU; no privileged mode, no host network"
            )
        },
    }


class GpuTelemetry(pulumi.ComponentResource):
    """The DCGM exporter DaemonSet on GPU nodes, and a ServiceMonitor that keeps the labels of
    the pod each GPU serves (honorLabels), so dashboards and the autoscaler can join GPUs to
    models."""

    release_name: pulumi.Output[str]
    """The DCGM exporter's Helm release."""

    def __init__(self, name: str, args: GpuTelemetryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:GpuTelemetry", name, None, opts)
        release = _k8s.helm_release(
            name,
            DCGM_EXPORTER,
            name=name,
            namespace=args["namespace"],
            values=exporter_values(),
            source=args.get("chart_source"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-metrics",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=_k8s.meta(
                name, args["namespace"], labels.PART_OF, _k8s.installed_by(args["monitoring_release"])
            ),
            spec={
                "selector": {
                    "matchLabels": {
                        "app.kubernetes.io/name": DCGM_EXPORTER.name,
                        "app.kubernetes.io/instance": name,
                    }
                },
                "endpoints": [
                    {
                        "port": "metrics",
                        "path": "/metrics",
                        "interval": f"{args.get('scrape_interval_seconds', 15)}s",
                        # The exporter names the pod and namespace a GPU serves; keep them.
                        "honorLabels": True,
                        # ...and only those: without this, a GPU no pod holds would take the
                        # exporter's own pod and namespace from the target, and count as serving.
                        "relabelings": [{"action": "labeldrop", "regex": TARGET_POD_LABELS}],
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
        )
        self.release_name = release.name.apply(lambda n: str(n))
        self.register_outputs({"release_name": self.release_name})
