"""Keda: the KEDA operator, which turns each ScaledObject into the HPA of its Deployment."""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.core.placement import POOL_LABEL, SYSTEM_POOL
from components.versions import KEDA

OPERATOR = "keda-operator"  # the chart's operator.name: its Deployment, Service and metrics job


class KedaArgs(TypedDict, total=False):
    namespace: str
    """Namespace to create for KEDA (default: the component name)."""
    chart_source: _k8s.ChartSourceArgs
    """Install the KEDA chart from a mirror or a local path (default: its public repository; the pinned version either way)."""
    monitoring_release: pulumi.Input[str]
    """Monitoring.release_name: Prometheus scrapes the operator's metrics (scaler errors) through a
    ServiceMonitor, created once the release has installed its CRD; absent: not scraped."""


def keda_values() -> dict[str, Any]:
    return {
        # Controllers live on the system nodes, never on GPUs.
        "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
        # Two operators (leader election) so scaling survives a node drain.
        "operator": {"replicaCount": 2},
        "podDisruptionBudget": {"operator": {"minAvailable": 1}},
        # The operator's own metrics (port 8080 on its Service), for the scaler-error alerts;
        # the component's ServiceMonitor scrapes them once the monitoring CRDs exist.
        "prometheus": {"operator": {"enabled": True}, "metricServer": {"enabled": True}},
    }


def operator_monitor() -> dict[str, Any]:
    """ServiceMonitor spec for the operator's metrics port (the chart's `keda-operator` Service)."""
    return {
        "selector": {"matchLabels": {"app.kubernetes.io/name": OPERATOR}},
        "endpoints": [
            {
                "port": "metrics",
                "path": "/metrics",
                # KEDA's metrics name the ScaledObject's namespace; keep it rather than the
                # operator's, so alerts say which model cannot scale.
                "honorLabels": True,
            }
        ],
    }


class Keda(pulumi.ComponentResource):
    """KEDA from its pinned chart; its CRDs must exist before any ScaledObject."""

    namespace: pulumi.Output[str]
    """Namespace of the KEDA operator."""
    release_name: pulumi.Output[str]
    """Resolves once the chart, with its CRDs, is installed: give it to InferenceService.keda_release."""

    def __init__(self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:Keda", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=_k8s.meta(
                args.get("namespace", name),
                labels={"pod-security.kubernetes.io/enforce": "restricted"},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        release = _k8s.helm_release(
            name,
            KEDA,
            name=name,
            namespace=namespace.metadata.apply(lambda m: str(m["name"])),
            values=keda_values(),
            source=args.get("chart_source"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if "monitoring_release" in args:
            k8s.apiextensions.CustomResource(
                f"{name}-metrics",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=_k8s.meta(
                    OPERATOR,
                    namespace.metadata.apply(lambda m: str(m["name"])),
                    labels.PART_OF,
                    _k8s.installed_by(args["monitoring_release"]),
                ),
                spec=operator_monitor(),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
            )
        self.namespace = namespace.metadata.apply(lambda m: str(m["name"]))
        self.release_name = release.name.apply(lambda n: str(n))
        self.register_outputs({"namespace": self.namespace, "release_name": self.release_name})
