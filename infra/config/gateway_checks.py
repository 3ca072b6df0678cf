"""Checks of the AI gateway's config that span sections: clients against models and tenants."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import SecretStr

from infra.config.gateway import MIN_KEY_LENGTH, OidcConfig
from infra.config.problem import Problem
from infra.config.stack import StackConfig
from infra.plan.secrets import REDACTED


def check_gateway(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.gateway is not None and (cfg.monitoring is None or not cfg.monitoring.logs.enabled):
        yield Problem(
            "gateway.audit",
            "the log agents ship the request records to the audit bucket: set monitoring.logs.enabled: true",
        )
    if cfg.gateway is not None:
        for name, served in cfg.models.items():
            if served.runtime != "vllm":
                # The AI gateway speaks the OpenAI API (token counts, model routing by the body's
                # "model"); Triton answers the KServe v2 protocol, which it cannot meter.
                yield Problem(
                    f"models.{name}.runtime",
                    f"{served.runtime} is not served through the AI gateway (it routes and meters the "
                    "OpenAI API only): use runtime vllm, or a stack without llm-platform:gateway",
                )
    for tenant_name, tenant in cfg.tenants.items():
        if tenant.audit_bodies and cfg.gateway is None:
            yield Problem(
                f"tenants.{tenant_name}.auditBodies",
                "bodies are kept in the AI gateway's audit: set llm-platform:gateway (with audit)",
            )
    keys: dict[str, str] = {
        model.api_key.get_secret_value(): f"models.{name}.apiKey"
        for name, model in cfg.models.items()
        if model.api_key.get_secret_value() != REDACTED
    }
    for tenant_name, tenant in cfg.tenants.items():
        if tenant.clients and cfg.gateway is None:
            yield Problem(
                f"tenants.{tenant_name}.clients",
                "API clients are enforced by the AI gateway: set llm-platform:gateway (an empty "
                "object `{}` takes the defaults) or remove the clients",
            )
        if tenant.oidc is not None and cfg.gateway is None:
            yield Problem(
                f"tenants.{tenant_name}.oidc",
                "OIDC clients are authenticated by the AI gateway: set llm-platform:gateway, or remove oidc",
            )
        for client_name, client in tenant.clients.items():
            path = f"tenants.{tenant_name}.clients.{client_name}"
            problem = _credential_problem(tenant_name, tenant.oidc, client_name, client.key)
            if problem is not None:
                yield Problem(f"{path}.key", problem)
            key = None if client.key is None else client.key.get_secret_value()
            if key is None:
                pass  # an OIDC client (or a missing key, reported above)
            elif key == REDACTED:
                pass  # the offline plan's stand-in for an encrypted value: nothing to compare
            elif len(key) < MIN_KEY_LENGTH:
                yield Problem(
                    f"{path}.key",
                    f"is {len(key)} characters; an API key needs at least {MIN_KEY_LENGTH} "
                    "(e.g. `openssl rand -hex 24`)",
                )
            elif key in keys:
                other = keys[key]
                what = (
                    "the model's own key, which only the gateway may know"
                    if other.startswith("models.")
                    else f"the key of {other.removesuffix('.key')}; a key must name one caller"
                )
                yield Problem(f"{path}.key", f"is also {other}: {what}")
            else:
                keys[key] = f"{path}.key"
            for model_name, budget in client.models.items():
                model_path = f"{path}.models.{model_name}"
                model = cfg.models.get(model_name)
                if model is None:
                    yield Problem(
                        model_path,
                        f"{model_name!r} is not a model; models: {', '.join(cfg.models) or 'none'}",
                    )
                elif model.tenant != tenant_name:
                    yield Problem(
                        model_path,
                        f"{model_name!r} belongs to tenant {model.tenant}; a client may only call its own "
                        f"tenant's models (declare the client under tenants.{model.tenant}.clients)",
                    )
                per_minute, per_day = budget.tokens_per_minute, budget.tokens_per_day
                if per_minute is not None and per_day is not None and per_day < per_minute:
                    yield Problem(
                        f"{model_path}.tokensPerDay",
                        f"{per_day} is below tokensPerMinute {per_minute}: the daily budget would "
                        "cut the client off before its first full minute",
                    )


def _credential_problem(
    tenant: str, oidc: OidcConfig | None, client: str, key: SecretStr | None
) -> str | None:
    """A client proves who it is with exactly one thing: its key, or its issuer's token."""
    if oidc is not None and key is not None:
        return (
            f"tenant {tenant} authenticates its clients with tokens of {oidc.issuer} (tenants.{tenant}.oidc): "
            f"remove the key, and register the client there so its tokens' {oidc.client_claim} claim is {client!r}"
        )
    if oidc is None and key is None:
        return (
            "is required: set it with `pulumi config set --secret --path "
            f"'llm-platform:tenants.{tenant}.clients.{client}.key' $(openssl rand -hex 24)`, "
            f"or give tenants.{tenant} an oidc issuer"
        )
    return None
