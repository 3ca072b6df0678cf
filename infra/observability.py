"""The monitoring layer: Prometheus, Alertmanager and Grafana, GPU telemetry, and logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pulumi

from components import AuditLog, GpuTelemetry, Logs, Monitoring
from components.core import gateway
from components.core.alertmanager import ReceiverSpec, alertmanager_config
from components.core.labels import MONITORING_NAMESPACE
from components.core.sizing import startup_budget_seconds
from components.logs import LogsArgs, loki_url
from components.monitoring import AlertThresholdsArgs, MonitoringArgs, ServedModelArgs, alertmanager_yaml
from components.versions import ALLOY, DCGM_EXPORTER, KUBE_PROMETHEUS_STACK, LOKI
from infra.charts import chart_source
from infra.cloud import Cloud
from infra.config import StackConfig
from infra.config.derived import sizing_of
from infra.config.monitoring import Receiver


@dataclass(frozen=True)
class Observability:
    monitoring: Monitoring
    logs: Logs | None
    audit: AuditLog | None = None


def _spec(receiver: Receiver) -> ReceiverSpec:
    def plain(secret: object) -> str | None:
        return None if secret is None else secret.get_secret_value()  # type: ignore[attr-defined]

    return ReceiverSpec(
        slack_webhook_url=plain(receiver.slack_webhook_url),
        slack_channel=receiver.slack_channel,
        webhook_url=plain(receiver.webhook_url),
        email_to=receiver.email_to,
        email_from=receiver.email_from,
        email_smarthost=receiver.email_smarthost,
        email_username=receiver.email_username,
        email_password=plain(receiver.email_password),
    )


def served_models(cfg: StackConfig) -> list[ServedModelArgs]:
    """The models the serving layer deploys (none without the gateway), with the startup
    budget their startupProbes get, for the alerts that wait for a cold start."""
    if cfg.ingress is None:
        return []
    return [
        {
            "namespace": model.tenant,  # a tenant's namespace is named after it
            "deployment": name,
            "model": name,
            "startup_seconds": startup_budget_seconds(sizing_of(cfg, name).weight_bytes, model.weights),
            "may_scale_to_zero": model.min_replicas == 0,
        }
        for name, model in cfg.models.items()
    ]


def build_observability(cfg: StackConfig, cloud: Cloud) -> Observability | None:
    m = cfg.monitoring
    if m is None:
        return None
    receivers = {}
    if m.alerting is not None:
        for severity in ("critical", "warning", "info"):
            receiver = getattr(m.alerting, severity)
            if receiver is not None:
                receivers[severity] = _spec(receiver)
    args: MonitoringArgs = {
        "retention_days": m.prometheus.retention_days,
        "volume_gib": m.prometheus.volume_gib,
        "scrape_interval_seconds": m.prometheus.scrape_interval_seconds,
        "storage_class_name": cloud.cluster.storage_class_name,
        "grafana_admin_password": pulumi.Output.secret(m.grafana_admin_password.get_secret_value()),
        "alertmanager_config": pulumi.Output.secret(alertmanager_yaml(alertmanager_config(receivers))),
        "thresholds": cast(AlertThresholdsArgs, m.thresholds.model_dump()),
        "chart_source": chart_source(cfg, KUBE_PROMETHEUS_STACK),
        "models": served_models(cfg),
    }
    if m.logs.enabled:
        args["loki_url"] = loki_url(MONITORING_NAMESPACE)
    monitoring = Monitoring(MONITORING_NAMESPACE, args, cloud.on_cluster)
    GpuTelemetry(
        "dcgm-exporter",
        {
            "namespace": monitoring.namespace,
            "scrape_interval_seconds": m.prometheus.scrape_interval_seconds,
            "monitoring_release": monitoring.release_name,
            "chart_source": chart_source(cfg, DCGM_EXPORTER),
        },
        cloud.on_cluster,
    )
    logs = None
    audit_log = None
    if cfg.gateway is not None:
        audit_log = AuditLog(
            cloud.name,
            {
                "retention_days": cfg.gateway.audit.retention_days,
                "auditor_principal_arns": cfg.gateway.audit.auditor_principal_arns,
                "force_destroy": cfg.storage.force_destroy,
                "protect": cfg.protect,
            },
            cloud.on_both,
        )
    if m.logs.enabled:
        logs_args: LogsArgs = {
            "namespace": monitoring.namespace,
            "cluster_name": cloud.cluster.cluster_name,
            "cluster_arn": cloud.cluster.cluster_arn,
            "region": cfg.aws.region,
            "retention_days": m.logs.retention_days,
            "storage_class_name": cloud.cluster.storage_class_name,
            "force_destroy": cfg.storage.force_destroy,
            "protect": cfg.protect,
            "loki_chart_source": chart_source(cfg, LOKI),
            "alloy_chart_source": chart_source(cfg, ALLOY),
        }
        if audit_log is not None:
            logs_args["audit"] = {
                "bucket": audit_log.bucket_name,
                "bucket_arn": audit_log.bucket_arn,
                "kms_key_arn": audit_log.kms_key_arn,
                "proxy_namespace": gateway.CONTROLLER_NAMESPACE,
                "body_namespaces": sorted(n for n, t in cfg.tenants.items() if t.audit_bodies),
            }
        logs = Logs(cloud.name, logs_args, cloud.on_both)
    return Observability(monitoring, logs, audit_log)
