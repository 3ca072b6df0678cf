"""Config of the monitoring layer: Prometheus, alert routing and thresholds, Grafana, logs, tracing."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from infra.config.base import LogRetentionDays, Model, matching, pattern

_EMAIL = r"[^@\s]+@[^@\s]+\.[a-z]{2,}"
_URL = r"https?://[^\s]+"


class Receiver(Model):
    slack_webhook_url: SecretStr | None = None
    """Slack incoming-webhook URL (a secret)."""
    slack_channel: str | None = None
    """Slack channel, e.g. #llm-oncall (with slackWebhookUrl)."""
    webhook_url: SecretStr | None = None
    """Generic webhook (PagerDuty, Opsgenie, a chat bridge) receiving Alertmanager's JSON (a secret)."""
    email_to: Annotated[str, matching(_EMAIL, "an email address"), pattern(_EMAIL)] | None = None
    """Send to this address (with emailSmarthost and emailFrom)."""
    email_from: Annotated[str, matching(_EMAIL, "an email address"), pattern(_EMAIL)] | None = None
    """Sender address of alert mail."""
    email_smarthost: str | None = None
    """SMTP server as host:port, e.g. email-smtp.us-east-1.amazonaws.com:587."""
    email_username: str | None = None
    """SMTP user name."""
    email_password: SecretStr | None = None
    """SMTP password (a secret)."""


class AlertingConfig(Model):
    critical: Receiver
    """Who is paged for critical alerts (no healthy replica, error rate, GPU XID errors)."""
    warning: Receiver | None = None
    """Who hears of warnings (latency, queue, KV cache, restarts); default: the critical receiver."""
    info: Receiver | None = None
    """Who hears of info alerts (idle or saturated GPUs, autoscaler at maximum); default: nobody."""


class AlertThresholds(Model):
    """Defaults follow llm-d's shipped rules where they have one (../shared/REFERENCE.md)."""

    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5
    """Critical when more than this percent of API requests fail with 5xx for 2 minutes (llm-d: 5%)."""
    p99_latency_seconds: Annotated[float, Field(gt=0)] = 60
    """Warning when the p99 end-to-end request latency of a model exceeds this for 10 minutes."""
    p99_time_to_first_token_seconds: Annotated[float, Field(gt=0)] = 10
    """Warning when p99 time to first token exceeds this for 10 minutes (llm-d: 10 s)."""
    queue_depth: Annotated[int, Field(ge=1)] = 50
    """Warning when a replica has more requests waiting than this for 5 minutes (llm-d: 50)."""
    kv_cache_usage_percent: Annotated[float, Field(gt=0, le=100)] = 90
    """Warning when a replica's KV cache is fuller than this for 10 minutes (llm-d: 90%)."""
    preemptions_per_second: Annotated[float, Field(gt=0)] = 1
    """Warning when a replica preempts more sequences per second than this for 5 minutes (llm-d: 1/s)."""
    gpu_utilization_high_percent: Annotated[float, Field(gt=0, le=100)] = 95
    """Info when the GPUs serving a model stay busier than this for 30 minutes: time to add capacity."""
    gpu_utilization_low_percent: Annotated[float, Field(ge=0, lt=100)] = 30
    """Info when the GPUs serving a model stay idler than this for 30 minutes: capacity paid for and unused (llm-d: 30%)."""
    gpu_temperature_celsius: Annotated[float, Field(gt=0)] = 85
    """Warning when a GPU runs hotter than this for 5 minutes; data-centre GPUs throttle near 90 C."""
    restarts_per_hour: Annotated[int, Field(ge=1)] = 5
    """Warning when a container restarts more than this often in an hour (llm-d: 5)."""
    pending_minutes: Annotated[int, Field(ge=1)] = 15
    """Warning when a pod stays Pending this long (llm-d: 15): usually no free GPU."""
    traffic_jump_percent: Annotated[float, Field(gt=0)] = 50
    """Info when a model's API requests per second over 5 minutes exceed the hour before by more than this."""
    traffic_jump_min_requests_per_second: Annotated[float, Field(ge=0)] = 1
    """The traffic-jump alert ignores models that served fewer requests per second than this in the hour before."""


class PrometheusConfig(Model):
    retention_days: Annotated[int, Field(ge=1, le=365)] = 15
    """Days of metrics Prometheus keeps."""
    volume_gib: Annotated[int, Field(ge=10, le=16384, alias="volumeGiB")] = 100
    """Size of Prometheus's gp3 volume; retention by size stops at 90% of it."""
    scrape_interval_seconds: Annotated[int, Field(ge=5, le=300)] = 15
    """How often cluster and DCGM metrics are scraped."""
    serving_scrape_interval_seconds: Annotated[int, Field(ge=1, le=60)] = 5
    """How often the serving pods are scraped, and KEDA polls their queue: the first terms of the time a traffic spike waits for a new replica (docs/performance.md)."""


class LogsConfig(Model):
    enabled: bool = False
    """Ship every pod's logs to Loki (stored in S3) through Alloy on every node."""
    retention_days: LogRetentionDays = 30
    """Days Loki keeps logs."""


_OTLP = r"(https?|grpc)://[^\s]+"


class MonitoringConfig(Model):
    grafana_admin_password: SecretStr
    """Password of Grafana's admin user. Set it with `pulumi config set --secret --path 'llm-platform:monitoring.grafanaAdminPassword' ...`."""
    prometheus: PrometheusConfig = PrometheusConfig()
    """Prometheus storage and scraping."""
    alerting: AlertingConfig | None = None
    """Where alerts go, by severity; omit to see them only in Alertmanager and Grafana."""
    thresholds: AlertThresholds = AlertThresholds()
    """When alerts fire."""
    logs: LogsConfig = LogsConfig()
    """Central logs (Loki on S3)."""
    otlp_traces_endpoint: (
        Annotated[
            str,
            matching(_OTLP, "an OTLP endpoint URL such as http://otel-collector.monitoring:4317"),
            pattern(_OTLP),
        ]
        | None
    ) = None
    """OpenTelemetry collector that vLLM sends request traces to; omit for no tracing."""
