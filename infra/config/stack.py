"""The whole stack config: one section per `llm-platform:<section>` key of Pulumi.<stack>.yaml."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from infra.config.base import DnsLabel, Model
from infra.config.charts import ChartName, ChartRepository, ChartSourceConfig, GatewayApiCrdsSource
from infra.config.cloud import AwsConfig, ClusterConfig, GpuPoolConfig, NetworkConfig
from infra.config.gateway import GatewayConfig
from infra.config.images import ImagesConfig
from infra.config.monitoring import MonitoringConfig
from infra.config.workloads import IngressConfig, ModelConfig, StorageConfig, TenantConfig


class StackConfig(Model):
    aws: AwsConfig
    """AWS account, region and tags."""
    network: NetworkConfig
    """The VPC the cluster lives in: a new one, or an existing one adopted."""
    cluster: ClusterConfig
    """The EKS cluster."""
    gpu_pools: Annotated[dict[DnsLabel, GpuPoolConfig], Field(min_length=1)]
    """GPU node pools by name; the name becomes the pool's node label and part of its AWS names."""
    storage: StorageConfig = StorageConfig()
    """Shared model storage: the S3 bucket and the EFS file system."""
    tenants: dict[DnsLabel, TenantConfig] = {}
    """Teams by name; each gets a namespace of that name with quotas, defaults, network policies and edit rights for its group."""
    ingress: IngressConfig | None = None
    """The HTTPS entry point (an ALB through the Gateway API); required when models are served."""
    gateway: GatewayConfig | None = None
    """The AI gateway (Envoy Gateway with Envoy AI Gateway) between the load balancer and the models: per-client API keys and token budgets per client and model. Omit to route the load balancer straight to the models (one shared key per model)."""
    monitoring: MonitoringConfig | None = None
    """Prometheus, Alertmanager, Grafana, GPU telemetry and logs; required when models are served (the autoscalers read Prometheus)."""
    models: dict[DnsLabel, ModelConfig] = {}
    """Models to serve by name (the name is the served model name and part of its storage path)."""
    default_chart_repository: ChartRepository | None = None
    """A mirror that every Helm chart without its own entry in chartSources is installed from (the same chart at its pinned version), e.g. an Artifactory virtual Helm repository or an OCI registry that proxies the public ones. Default: each chart's public repository."""
    chart_sources: dict[ChartName, ChartSourceConfig] = {}
    """Where a Helm chart comes from instead of its public repository (or defaultChartRepository), by chart name (nvidia-device-plugin, keda, aws-load-balancer-controller, kube-prometheus-stack, dcgm-exporter, loki, alloy, karpenter, gateway-helm, ai-gateway-helm, ai-gateway-crds-helm): a mirror (repository) or a local chart (path). The pinned version stays."""
    gateway_api_crds: GatewayApiCrdsSource | None = None
    """Where the pinned Gateway API CRDs (standard-install.yaml of the release in components/versions.py) come from instead of their GitHub release: an https:// mirror or a local file (absolute or relative to the project directory). It must be that release's file. Default: the GitHub release."""
    images: ImagesConfig = ImagesConfig()
    """Where nodes pull images from."""
    protect: bool = False
    """Protect stateful resources (EKS cluster, KMS keys, log groups) from deletion, and keep them in AWS when they leave the program. Turn on for prod."""


SECTIONS: tuple[str, ...] = tuple(field.alias or name for name, field in StackConfig.model_fields.items())
"""The config keys this program reads, without the `llm-platform:` namespace."""
