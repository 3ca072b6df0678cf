"""Config of the AI gateway: who may call which model, how many tokens they may spend, and the audit."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from infra.config.base import DnsLabel, Model


class ModelBudget(Model):
    tokens_per_minute: Annotated[int, Field(ge=1)] | None = None
    """Tokens (input plus output, as the gateway counts them from the model's answer) the client may spend on this model per minute; omit for no per-minute limit."""
    tokens_per_day: Annotated[int, Field(ge=1)] | None = None
    """Tokens the client may spend on this model per day (UTC); omit for no daily limit."""


class ClientConfig(Model):
    key: SecretStr
    """The client's API key, sent as `Authorization: Bearer <key>`. Set it with `pulumi config set --secret --path 'llm-platform:tenants.<tenant>.clients.<client>.key' ...`; at least 32 characters."""
    models: Annotated[dict[DnsLabel, ModelBudget], Field(min_length=1)]
    """The tenant's models this client may call, each with its token budget (`{}`: no budget)."""


class GatewayConfig(Model):
    replicas: Annotated[int, Field(ge=2, le=20)] = 2
    """Envoy proxy replicas (on the system nodes, spread over zones, a PodDisruptionBudget keeps one up)."""


MIN_KEY_LENGTH = 32
