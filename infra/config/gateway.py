"""Config of the AI gateway: who may call which model, how many tokens they may spend, and the audit."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from infra.config.base import DnsLabel, Model, PrincipalArn, matching, pattern
from infra.config.charts import GatewayApiCrdsSource
from infra.config.urls import HttpsUrl, IssuerUrl


class ModelBudget(Model):
    tokens_per_minute: Annotated[int, Field(ge=1)] | None = None
    """Tokens (input plus output, as the gateway counts them from the model's answer) the client may spend on this model per minute; omit for no per-minute limit."""
    tokens_per_day: Annotated[int, Field(ge=1)] | None = None
    """Tokens the client may spend on this model per day (UTC); omit for no daily limit."""


class ClientConfig(Model):
    key: SecretStr | None = None
    """The client's API key, sent as `Authorization: Bearer <key>`. Set it with `pulumi config set --secret --path 'llm-platform:tenants.<tenant>.clients.<client>.key' ...`; at least 32 characters. Required unless the tenant has `oidc` (its clients then send tokens of its issuer, and have no key)."""
    models: Annotated[dict[DnsLabel, ModelBudget], Field(min_length=1)]
    """The tenant's models this client may call, each with its token budget (`{}`: no budget)."""


_CLAIM = r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*"
ClaimName = Annotated[
    str,
    Field(max_length=253),
    matching(_CLAIM, "a claim name such as client_id or azp, or a nested claim such as ext.client"),
    pattern(_CLAIM),
]


class OidcConfig(Model):
    issuer: IssuerUrl
    """The issuer of the tokens, exactly as their `iss` claim says it (a trailing slash counts): an https URL without query or fragment."""
    audiences: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=253)]], Field(min_length=1, max_length=8)
    ]
    """A token is accepted only if its `aud` names one of these (1 to 8), e.g. the API identifier the clients request tokens for."""
    jwks_uri: HttpsUrl
    """Where the proxies fetch the issuer's signing keys: the `jwks_uri` of its discovery document (`<issuer>/.well-known/openid-configuration`). Required: the plan runs offline and cannot read the discovery document, and the path differs between identity providers."""
    client_claim: ClaimName = "client_id"
    """The token claim naming the client, whose value must be the client's id under `clients`. Default `client_id`, the claim RFC 9068 (JWT access tokens) gives the OAuth client; use `azp` for an issuer that names the client there, or a custom claim holding the id for one whose client ids are generated. Its value must be a string."""


class AuditConfig(Model):
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days every request record stays locked in the audit bucket (S3 Object Lock, compliance mode: nobody, the account root included, can delete or change a record earlier; it cannot be shortened later), then expires."""
    auditor_principal_arns: Annotated[list[PrincipalArn], Field(min_length=1)]
    """IAM roles or users that may assume the auditor role (with MFA): the only principals that can read the records."""


class GatewayConfig(Model):
    replicas: Annotated[int, Field(ge=2, le=20)] = 2
    """Envoy proxy replicas (on the system nodes, spread over zones, a PodDisruptionBudget keeps one up)."""
    picker_replicas: Annotated[int, Field(ge=1, le=10)] = 2
    """Endpoint picker replicas per model (each model's InferencePool has its own picker, on the system nodes). The gateway fails a model's requests while its picker has no ready replica, so keep at least 2 in production."""
    inference_pool_crds: GatewayApiCrdsSource | None = None
    """Where the pinned InferencePool CRD (v1-manifests.yaml of Gateway API Inference Extension v1.6.0, components/versions.py) comes from instead of its GitHub release: an https:// mirror or a local file (absolute or relative to the project directory). Default: the GitHub release."""
    audit: AuditConfig
    """The record of every request (time, client, tenant, model and revision, status, tokens, latency) in a locked, KMS-encrypted S3 bucket only an auditor role reads. Needs monitoring.logs.enabled (the log agents ship the records)."""


MIN_KEY_LENGTH = 32
