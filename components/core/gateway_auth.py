"""Who a caller of the AI gateway is, as plain data: OIDC/JWT clients (a tenant's alternative to
API keys, whose policy is gateway.security_policy_spec) and the Gateway-wide rule that no caller
can name itself. No Pulumi here; components/model_gateway.py and ai_gateway.py send these.

Either way the client id ends up in the header CLIENT_ID_HEADER, which budgets, the audit record
and the usage metrics read. Envoy's API-key filter replaces that header (`setCopy`), but its JWT
filter's claim-to-header copy appends (`addCopy`, envoy source/extensions/filters/http/jwt_authn/
authenticator.cc): a caller sending its own value would reach the budget rules with two values,
match no client's rule and escape its budget, and be recorded under the name it chose. The
Gateway therefore drops the header before any filter runs (client_header_policy_spec).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.core.gateway import CLIENT_ID_HEADER

JWT_PROVIDER = "tenant-issuer"
"""Name of the one JWT provider of a model's SecurityPolicy (its authorization rules name it)."""
MAX_CLAIM_VALUES = 128
"""Values one authorization claim match may list (the SecurityPolicy CRD's maxItems)."""


@dataclass(frozen=True)
class Oidc:
    """A tenant's token issuer, and the claim of its tokens that names the client."""

    issuer: str
    audiences: tuple[str, ...]
    jwks_uri: str
    client_claim: str


def jwt_security_policy_spec(route: str, oidc: Oidc, clients: Sequence[str]) -> dict[str, Any]:
    """JWT auth on one model's route: a token of the tenant's issuer for one of its audiences,
    signed by a key of its JWKS (else 401), whose client claim names one of `clients`, the clients
    allowed to call this model (else 403). The claim travels on as the client id header."""
    allowed = sorted(set(clients))
    chunks = [allowed[i : i + MAX_CLAIM_VALUES] for i in range(0, len(allowed), MAX_CLAIM_VALUES)]
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route}],
        "jwt": {
            "providers": [
                {
                    "name": JWT_PROVIDER,
                    "issuer": oidc.issuer,
                    "audiences": list(oidc.audiences),
                    "remoteJWKS": {"uri": oidc.jwks_uri},
                    # The bearer header only: Envoy would also take ?access_token=, and the audit
                    # record keeps the request path.
                    "extractFrom": {"headers": [{"name": "Authorization", "valuePrefix": "Bearer "}]},
                    "claimToHeaders": [{"claim": oidc.client_claim, "header": CLIENT_ID_HEADER}],
                }
            ]
        },
        "authorization": {
            "defaultAction": "Deny",
            "rules": [
                {
                    "name": f"allowed-clients-{n}",
                    "action": "Allow",
                    "principal": {
                        "jwt": {
                            "provider": JWT_PROVIDER,
                            "claims": [{"name": oidc.client_claim, "valueType": "String", "values": chunk}],
                        }
                    },
                }
                for n, chunk in enumerate(chunks, start=1)
            ],
        },
    }


def client_header_policy_spec(gateway: str) -> dict[str, Any]:
    """ClientTrafficPolicy of the Gateway: the client id header a caller sends is dropped before
    routing and before any filter, so only API-key or JWT auth can set it."""
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway}],
        "headers": {"earlyRequestHeaders": {"remove": [CLIENT_ID_HEADER]}},
    }
