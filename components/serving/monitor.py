"""How Prometheus scrapes a model's replicas: one PodMonitor over every track."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels, metrics


def pod_monitor(
    name: str,
    namespace: pulumi.Input[str],
    served: str,
    monitoring_release: pulumi.Input[str],
    interval_seconds: int,
    port: str,
    path: str,
    job: str,
    parent: pulumi.Resource,
) -> None:
    """Prometheus scrapes every replica of every track; the targets carry the runtime's job
    label and the model and track, the labels the alert rules, dashboards and autoscaler
    queries use."""
    k8s.apiextensions.CustomResource(
        f"{name}-metrics",
        api_version="monitoring.coreos.com/v1",
        kind="PodMonitor",
        metadata=_k8s.meta(
            name,
            namespace,
            labels.standard(name, labels.INFERENCE),
            _k8s.installed_by(monitoring_release),
        ),
        spec={
            "selector": {
                "matchLabels": {
                    labels.NAME: served,
                    labels.COMPONENT: labels.INFERENCE,
                }
            },
            "podMetricsEndpoints": [
                {
                    "port": port,
                    "path": path,
                    "interval": f"{interval_seconds}s",
                    "relabelings": [
                        {"action": "replace", "targetLabel": "job", "replacement": job},
                        {
                            "action": "replace",
                            "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                            "targetLabel": metrics.MODEL_LABEL,
                        },
                        {
                            "action": "replace",
                            "sourceLabels": ["__meta_kubernetes_pod_label_llm_platform_io_track"],
                            "targetLabel": metrics.TRACK_LABEL,
                        },
                    ],
                }
            ],
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )
