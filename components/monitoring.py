"""Monitoring: Prometheus, Alertmanager and Grafana (kube-prometheus-stack), the platform's alert
rules and dashboards."""

from typing import Any, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import _k8s
from components.core import alerts, dashboards, default_rules, labels, triton_alerts
from components.core.placement import ON_SYSTEM_NODES, POOL_LABEL
from components.versions import KUBE_PROMETHEUS_STACK

FULLNAME = "kps"  # services become kps-prometheus and kps-alertmanager (core/metrics.PROMETHEUS_URL)
ALERTMANAGER_SECRET = f"alertmanager-{FULLNAME}-alertmanager"  # the operator's default config secret
ALERTMANAGER_VOLUME_GIB = 5  # silences and notification state only


class AlertThresholdsArgs(TypedDict, total=False):
    """Where the platform's alerts fire; each default is in components.core.alerts.Thresholds."""

    error_rate_percent: float
    """Share of failed requests, percent."""
    p99_latency_seconds: float
    """p99 end-to-end request latency."""
    p99_time_to_first_token_seconds: float
    """p99 time to the first token."""
    queue_depth: int
    """Requests waiting in one model's queues."""
    kv_cache_usage_percent: float
    """KV-cache use of a replica, percent."""
    preemptions_per_second: float
    """Sequences preempted for want of KV cache, per second."""
    gpu_utilization_high_percent: float
    """Sustained utilisation of the GPUs serving a model above which more GPUs may be needed."""
    gpu_utilization_low_percent: float
    """Sustained utilisation of the GPUs serving a model below which GPUs are wasted."""
    gpu_temperature_celsius: float
    """GPU temperature."""
    restarts_per_hour: int
    """Container restarts per hour."""
    pending_minutes: int
    """Minutes a pod may stay Pending."""
    traffic_jump_percent: float
    """Rise of a model's requests per second over the hour before that counts as a jump, percent."""
    traffic_jump_min_requests_per_second: float
    """Requests per second below which a model's traffic is too thin to call a jump."""


class ServedModelArgs(TypedDict):
    """A model the per-model alerts watch (its stable Deployment)."""

    namespace: str
    """Namespace of the model's Deployment."""
    deployment: str
    """Name of the model's stable Deployment."""
    model: str
    """The served model name (the `model` label of its vLLM metrics)."""
    startup_seconds: int
    """The startup budget of its startupProbe: no replica for longer (plus a node launch) pages."""
    may_scale_to_zero: bool
    """min_replicas 0: zero replicas outside working hours is intended."""


class MonitoringArgs(TypedDict, total=False):
    retention_days: int
    """Days of metrics to keep."""
    volume_gib: int
    """Prometheus volume size; retention by size stops at 90% of it."""
    scrape_interval_seconds: int
    """How often Prometheus scrapes and evaluates rules (default 15)."""
    storage_class_name: Required[pulumi.Input[str]]
    """StorageClass of the Prometheus and Alertmanager volumes (encrypted gp3)."""
    grafana_admin_password: Required[pulumi.Input[str]]
    """A secret."""
    alertmanager_config: Required[pulumi.Input[str]]
    """alertmanager.yaml (a secret: it holds webhook URLs and passwords)."""
    thresholds: AlertThresholdsArgs
    """Alert thresholds (default: components.core.alerts.Thresholds)."""
    models: list[ServedModelArgs]
    """The served models, for the alerts that need each one's startup budget (default: none)."""
    loki_url: str
    """Loki's address, to add it as a Grafana data source (when logs are collected)."""
    chart_source: _k8s.ChartSourceArgs
    """Install the kube-prometheus-stack chart from a mirror or a local path (default: its public repository; the pinned version either way)."""


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
        **default_rules.values(),
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
                            "resources": {"requests": {"storage": f"{ALERTMANAGER_VOLUME_GIB}Gi"}},
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
    """Namespace of the monitoring stack."""
    prometheus_url: pulumi.Output[str]
    """In-cluster address of Prometheus (KEDA reads serving metrics here)."""
    grafana_service: pulumi.Output[str]
    """In-cluster address of Grafana (reach it with kubectl port-forward)."""
    release_name: pulumi.Output[str]
    """Resolves once the chart, with the monitoring.coreos.com CRDs, is installed: give it to
    the components that make ServiceMonitors and PodMonitors."""

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
        release = _k8s.helm_release(
            name,
            KUBE_PROMETHEUS_STACK,
            name=KUBE_PROMETHEUS_STACK.name,
            namespace=ns,
            values=stack_values(args),
            source=args.get("chart_source"),
            timeout=900,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin, routing]),
        )
        thresholds = alerts.Thresholds(**args.get("thresholds", {}))
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=_k8s.meta("llm-platform", ns, labels.PART_OF),
            spec={
                "groups": [
                    *alerts.rule_groups(
                        thresholds, [alerts.ServedModel(**m) for m in args.get("models", [])]
                    ),
                    triton_alerts.rule_group(thresholds),
                ]
            },
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

        self.namespace = ns
        self.prometheus_url = ns.apply(lambda n: f"http://{FULLNAME}-prometheus.{n}.svc:9090")
        self.grafana_service = ns.apply(lambda n: f"{KUBE_PROMETHEUS_STACK.name}-grafana.{n}.svc")
        self.release_name = release.name.apply(lambda n: str(n))
        self.register_outputs(
            {
                "release_name": self.release_name,
                "namespace": self.namespace,
                "prometheus_url": self.prometheus_url,
                "grafana_service": self.grafana_service,
            }
        )


def alertmanager_yaml(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)
