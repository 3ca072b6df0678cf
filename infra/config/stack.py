"""The whole stack config: one section per `llm-platform:<section>` key of Pulumi.<stack>.yaml."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from infra.config.base import DnsLabel, Model
from infra.config.cloud import AwsConfig, ClusterConfig, GpuPoolConfig, NetworkConfig


class StackConfig(Model):
    aws: AwsConfig
    """AWS account, region and tags."""
    network: NetworkConfig
    """The VPC the cluster lives in: a new one, or an existing one adopted."""
    cluster: ClusterConfig
    """The EKS cluster."""
    gpu_pools: Annotated[dict[DnsLabel, GpuPoolConfig], Field(min_length=1)]
    """GPU node pools by name; the name becomes the pool's node label and part of its AWS names."""
    protect: bool = False
    """Protect stateful resources (EKS cluster, KMS keys, log groups) from deletion, and keep them in AWS when they leave the program. Turn on for prod."""


SECTIONS: tuple[str, ...] = tuple(field.alias or name for name, field in StackConfig.model_fields.items())
"""The config keys this program reads, without the `llm-platform:` namespace."""
