"""Monitoring: Prometheus, Alertmanager and Grafana (kube-prometheus-stack), the platform's alert
rules and dashboards."""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import _k8s
from components.cluster import SYSTEM_POOL
from components.core import alerts, dashboards, labels
from components.core.placement import POOL_LABEL
from components.versions import KUBE_PROMETHEUS_STACK

FULLNAME = "kps"  # services become kps-prometheus and kps-alertmanager (core/metrics.PROMETHEUS_URL)
ALERTMANAGER_SECRET = f"alertmanager-{FULLNAME}-alertmanager"  # the operator's default config secret
ON_SYSTEM_NODES = {POOL_LABEL: SYSTEM_POOL}


class MonitoringArgs(TypedDict, total=False):
    retention_days: int
    """Days of metrics to keep."""
    volume_gib: int
    """Prometheus volume size; retention by size stops at 90% of it."""
    scrape_interval_seconds: int
    storage_class_name: pulumi.Input[str]
    """StorageClass of the Prometheus and Alertmanager volumes (encrypted gp3)."""
    grafana_admin_password: pulumi.Input[str]
    """A secret."""
    alertmanager_config: pulumi.Input[str]
    """alertmanager.yaml (a secret: it holds webhook URLs and passwords)."""
    thresholds: alerts.Thresholds
    loki_url: str
    """Loki's address, to add it as a Grafana data source (when logs are collected)."""


def stack_values(args: MonitoringArgs) -> dict[str, Any]:
    volume = args.get("volume_gib", 100)
    interval = f"{args.get('scrape_interval_seconds', 15)}s"
    storage = {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": args["storage_class_name"],
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{volume}Gi"}},
            }
        }
    }
    return {
        "fullnameOverride": FULLNAME,
        "prometheus": {
            "prometheusSpec": {
                "scrapeInterval": interval,
                "evaluationInterval": interval,
                "retention": f"{args.get('retention_days', 15)}d",
                # Stop before the volume fills: a full disk stops ingestion altogether.
                "retentionSize": f"{int(volume * 0.9)}GiB",
                # Pick up monitors and rules from every namespace, not only this release's.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
                "nodeSelector": ON_SYSTEM_NODES,
                "resources": {"requests": {"cpu": "500m", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
                "storageSpec": storage,
            }
        },
        "alertmanager": {
            "alertmanagerSpec": {
                # Routes and receivers live in a Secret this component writes; none in Helm values.
                "useExistingSecret": True,
                "nodeSelector": ON_SYSTEM_NODES,
                "storage": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": args["storage_class_name"],
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "5Gi"}},
                        }
                    }
                },
            }
        },
        "grafana": {
            "admin": {
                "existingSecret": "grafana-admin",
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "defaultDashboardsEnabled": True,
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                }
            },
            # Stateless: dashboards come from ConfigMaps, users and the password from the Secret.
            "persistence": {"enabled": False},
            "nodeSelector": ON_SYSTEM_NODES,
            "additionalDataSources": (
                [{"name": "Loki", "type": "loki", "uid": "loki", "url": args["loki_url"], "access": "proxy"}]
                if "loki_url" in args
                else []
            ),
        },
        "prometheusOperator": {"nodeSelector": ON_SYSTEM_NODES},
        "kube-state-metrics": {
            "nodeSelector": ON_SYSTEM_NODES,
            # The pool label on kube_node_labels joins DCGM's per-node series to node pools.
            "metricLabelsAllowlist": [f"nodes=[{POOL_LABEL}]"],
        },
    }


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack from its pinned chart on the system nodes, with the platform's
    PrometheusRule (generated from the metric contract) and Grafana dashboards."""

    namespace: pulumi.Output[str]
    prometheus_url: pulumi.Output[str]
    grafana_service: pulumi.Output[str]
    crds_ready: pulumi.Resource
    """What ServiceMonitors, PodMonitors and PrometheusRules must wait for (not an output)."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=_k8s.meta(
                name,
                labels={
                    **labels.PART_OF,
                    # node-exporter (host network and PID), the DCGM exporter (SYS_ADMIN, the kubelet's
                    # pod-resources socket) and Alloy (host /var/log) need host access that only the
                    # privileged level admits; nothing else runs here.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "baseline",
                },
            ),
            opts=child,
        )
        ns = namespace.metadata.apply(lambda m: str(m["name"]))
        admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=_k8s.meta("grafana-admin", ns),
            string_data={
                "admin-user": "admin",
                "admin-password": pulumi.Output.secret(args["grafana_admin_password"]),
            },
            opts=child,
        )
        routing = k8s.core.v1.Secret(
            f"{name}-alertmanager",
            metadata=_k8s.meta(ALERTMANAGER_SECRET, ns),
            string_data={"alertmanager.yaml": pulumi.Output.secret(args["alertmanager_config"])},
            opts=child,
        )
        release = k8s.helm.v3.Release(
            name,
            name=KUBE_PROMETHEUS_STACK.name,
            chart=KUBE_PROMETHEUS_STACK.name,
            version=KUBE_PROMETHEUS_STACK.version,
            repository_opts={"repo": KUBE_PROMETHEUS_STACK.repository},
            namespace=ns,
            values=stack_values(args),
            atomic=True,
            cleanup_on_fail=True,
            max_history=5,
            timeout=900,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin, routing]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=_k8s.meta("llm-platform", ns, labels.PART_OF),
            spec={"groups": alerts.rule_groups(args.get("thresholds", alerts.Thresholds()))},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
        )
        for file_name, dashboard in dashboards.dashboards().items():
            k8s.core.v1.ConfigMap(
                f"{name}-{file_name.removesuffix('.json')}",
                metadata=_k8s.meta(
                    file_name.removesuffix(".json"), ns, {"grafana_dashboard": "1", **labels.PART_OF}
                ),
                data={file_name: dashboard},
                opts=child,
            )

        self.crds_ready = release
        self.namespace = ns
        self.prometheus_url = ns.apply(lambda n: f"http://{FULLNAME}-prometheus.{n}.svc:9090")
        self.grafana_service = ns.apply(lambda n: f"{KUBE_PROMETHEUS_STACK.name}-grafana.{n}.svc")
        self.register_outputs(
            {
                "namespace": self.namespace,
                "prometheus_url": self.prometheus_url,
                "grafana_service": self.grafana_service,
            }
        )


def alertmanager_yaml(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)
