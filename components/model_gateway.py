"""ModelGateway: one model behind the AI gateway.

In the model's (tenant's) namespace: an AIGatewayRoute sending requests that name the model to
its InferencePool (components/endpoint_picker.py), or by weight to its tracks while a canary
takes a share, a SecurityPolicy that admits only the clients allowed to call the model (by their
API keys, or by their OIDC issuer's tokens), a BackendTrafficPolicy charging their token budgets, and
vLLM's own key, which the gateway adds upstream (a BackendSecurityPolicy) and no caller knows.
"""

from functools import partial
from typing import Any, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import gateway as gw
from components.core import gateway_auth as gw_auth
from components.core import labels


class ClientArgs(TypedDict, total=False):
    """An API client allowed to call the model."""

    id: Required[str]
    """Its client id (what budgets, records and metrics name)."""
    key: pulumi.Input[str]
    """Its API key (a secret); absent when the model takes tokens of an OIDC issuer (ModelGatewayArgs.oidc)."""
    tokens_per_minute: int
    """Tokens it may spend on this model per minute (absent: no limit)."""
    tokens_per_day: int
    """Tokens it may spend on this model per day (absent: no limit)."""


class TrackArgs(TypedDict):
    """One track of the model (InferenceService.tracks)."""

    service: str
    """The track's Service."""
    weight: int
    """Percent of the model's requests it gets."""


class AccessArgs(TypedDict):
    """Which tracks serve the model, and which clients may call it. (One object holding both:
    the Go SDK generator only emits input types for objects reached through an object.)"""

    tracks: list[TrackArgs]
    """Each track (InferenceService's stable and canary) with its share of requests."""
    clients: list[ClientArgs]
    """Clients allowed to call the model."""


class OidcArgs(TypedDict):
    """The OIDC issuer whose tokens the model's clients send instead of API keys."""

    issuer: str
    """The tokens' `iss`, exactly."""
    audiences: list[str]
    """A token's `aud` must name one of these."""
    jwks_uri: str
    """Where the proxies fetch the issuer's signing keys (https)."""
    client_claim: str
    """The claim whose value is the client id."""


class ModelGatewayArgs(TypedDict, total=False):
    namespace: Required[pulumi.Input[str]]
    """The tenant namespace the model is served in."""
    model: Required[str]
    """Served model name: what the request body's `model` must say."""
    access: Required[AccessArgs]
    """Its tracks and the clients allowed to call it."""
    port: Required[int]
    """The tracks' Service port."""
    upstream_key: Required[pulumi.Input[str]]
    """vLLM's --api-key of the model (a secret)."""
    gateway_namespace: Required[pulumi.Input[str]]
    """AiGateway.gateway_namespace."""
    gateway_release: Required[pulumi.Input[str]]
    """AiGateway.release_name: the routes and policies wait for the CRDs."""
    inference_pool: pulumi.Input[str]
    """EndpointPicker.pool_name: the model's InferencePool. While no canary takes a share, the
    route sends there and the picker chooses the replica (absent: always the tracks' Services)."""
    oidc: OidcArgs
    """Authenticate the clients with tokens of this issuer (JWT) instead of API keys: the clients
    then have no key. Absent: API keys."""


def _backend(service: str, port: int, namespace: str) -> dict[str, Any]:
    return gw.backend_spec(service, namespace, port)


class ModelGateway(pulumi.ComponentResource):
    """One model behind the AI gateway: its AIGatewayRoute (the canary split), the keys of the
    clients allowed to call it, their token budgets, and vLLM's own key added upstream."""

    route_name: pulumi.Output[str]
    """The AIGatewayRoute (and the HTTPRoute the AI gateway makes of it)."""

    def __init__(self, name: str, args: ModelGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # A client proves who it is with its key or with its issuer's token, never both or neither.
        odd = sorted(c["id"] for c in args["access"]["clients"] if ("key" in c) == ("oidc" in args))
        if odd:
            needs = "no key (the model takes OIDC tokens)" if "oidc" in args else "a key (no oidc issuer)"
            raise ValueError(f"ModelGateway {name}: clients {odd} need {needs}")
        super().__init__("llmplatform:index:ModelGateway", name, None, opts)
        ns, model = args["namespace"], args["model"]
        meta_labels = labels.standard(model, "ai-gateway")
        after_crds = _k8s.installed_by(args["gateway_release"])
        child = pulumi.ResourceOptions(parent=self)

        def custom(
            suffix: str, api: str, kind: str, obj_name: str, spec: object
        ) -> k8s.apiextensions.CustomResource:
            return k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version=api,
                kind=kind,
                metadata=_k8s.meta(obj_name, ns, meta_labels, after_crds),
                spec=spec,
                opts=child,
            )

        backends = []
        tracks = [(t["service"], t["weight"]) for t in args["access"]["tracks"]]
        for service, _weight in tracks:
            backend_spec = pulumi.Output.from_input(ns).apply(partial(_backend, service, args["port"]))
            custom(f"{service}-backend", "gateway.envoyproxy.io/v1alpha1", "Backend", service, backend_spec)
            custom(
                f"{service}-ai-backend",
                "aigateway.envoyproxy.io/v1beta1",
                "AIServiceBackend",
                service,
                gw.ai_service_backend_spec(service),
            )
            backends.append(service)

        pool = pulumi.Output.from_input(args.get("inference_pool"))
        upstream = k8s.core.v1.Secret(
            f"{name}-upstream-key",
            metadata=_k8s.meta(f"{model}-upstream-key", ns, meta_labels),
            # The key name the AI gateway reads (BackendSecurityPolicy APIKey).
            string_data={"apiKey": pulumi.Output.secret(args["upstream_key"])},
            opts=child,
        )
        custom(
            "upstream-auth",
            "aigateway.envoyproxy.io/v1beta1",
            "BackendSecurityPolicy",
            f"{model}-upstream",
            pulumi.Output.all(upstream.metadata, pool).apply(
                lambda a: gw.upstream_key_policy_spec(str(a[0]["name"]), backends, a[1])
            ),
        )

        route = custom(
            "route",
            "aigateway.envoyproxy.io/v1beta1",
            "AIGatewayRoute",
            model,
            pulumi.Output.all(args["gateway_namespace"], pool).apply(
                lambda a: gw.ai_route_spec(model, a[0], tracks, a[1])
            ),
        )

        clients = {c["id"]: c for c in args["access"]["clients"]}
        oidc = args.get("oidc")
        if oidc is not None:
            issuer = gw_auth.Oidc(
                oidc["issuer"], tuple(oidc["audiences"]), oidc["jwks_uri"], oidc["client_claim"]
            )
            policy: object = gw_auth.jwt_security_policy_spec(model, issuer, sorted(clients))
        else:
            keys = k8s.core.v1.Secret(
                f"{name}-client-keys",
                metadata=_k8s.meta(f"{model}-client-keys", ns, meta_labels),
                # API-key auth reads one entry per client: the entry's name is the client id.
                string_data={cid: pulumi.Output.secret(c["key"]) for cid, c in sorted(clients.items())},
                opts=child,
            )
            policy = keys.metadata.apply(lambda m: gw.security_policy_spec(model, str(m["name"])))
        custom("clients", "gateway.envoyproxy.io/v1alpha1", "SecurityPolicy", f"{model}-clients", policy)

        budgeted = [
            gw.Client(cid, {model: gw.Budget(c.get("tokens_per_minute"), c.get("tokens_per_day"))})
            for cid, c in clients.items()
        ]
        rules = gw.rate_limit_rules(model, budgeted)
        if rules:
            custom(
                "budgets",
                "gateway.envoyproxy.io/v1alpha1",
                "BackendTrafficPolicy",
                f"{model}-budgets",
                gw.budget_policy_spec(model, rules),
            )

        self.route_name = route.metadata.apply(lambda m: str(m["name"]))
        self.register_outputs({"route_name": self.route_name})
