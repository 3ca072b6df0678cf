"""The whole stack config: one section per `llm-platform:<section>` key of Pulumi.<stack>.yaml."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from infra.config.base import DnsLabel, Model
from infra.config.cloud import AwsConfig, ClusterConfig, GpuPoolConfig, NetworkConfig
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
    monitoring: MonitoringConfig | None = None
    """Prometheus, Alertmanager, Grafana, GPU telemetry and logs; required when models are served (the autoscalers read Prometheus)."""
    models: dict[DnsLabel, ModelConfig] = {}
    """Models to serve by name (the name is the served model name and part of its storage path)."""
    protect: bool = False
    """Protect stateful resources (EKS cluster, KMS keys, log groups) from deletion, and keep them in AWS when they leave the program. Turn on for prod."""


SECTIONS: tuple[str, ...] = tuple(field.alias or name for name, field in StackConfig.model_fields.items())
"""The config keys this program reads, without the `llm-platform:` namespace."""
