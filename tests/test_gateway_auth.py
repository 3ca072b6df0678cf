"""Who a caller of the AI gateway is: OIDC/JWT clients next to API-key clients, their config
errors, and the Gateway-wide rule that no caller can send its own client id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml

from components.core import gateway as gw
from components.core import gateway_auth as auth
from components.model_gateway import ModelGateway
from tests.crd import _crds
from tests.test_config import DELETE, PROD_SECRETS, problems, prod

ISSUER = auth.Oidc(
    issuer="https://login.example.com/realms/r",
    audiences=("llm",),
    jwks_uri="https://login.example.com/realms/r/certs",
    client_claim="azp",
)


def admitted(spec: dict[str, Any], token: dict[str, Any]) -> bool:
    """What Envoy Gateway's JWT auth and authorization decide on a validly signed token with these
    claims: issuer and audience first (else 401), then the first matching rule or the default."""
    (provider,) = spec["jwt"]["providers"]
    if token.get("iss") != provider["issuer"] or token.get("aud") not in provider["audiences"]:
        return False
    for rule in spec["authorization"].get("rules", []):
        jwt = rule["principal"]["jwt"]
        if jwt["provider"] == provider["name"] and all(
            token.get(claim["name"]) in claim["values"] for claim in jwt["claims"]
        ):
            return bool(rule["action"] == "Allow")
    return bool(spec["authorization"]["defaultAction"] == "Allow")


def token(client: str, oidc: auth.Oidc = ISSUER, **claims: str) -> dict[str, Any]:
    return {"iss": oidc.issuer, "aud": oidc.audiences[0], oidc.client_claim: client, **claims}


def test_the_jwt_policy_admits_exactly_the_clients_allowed_to_call_the_model() -> None:
    spec = auth.jwt_security_policy_spec("llama", ISSUER, ["notebooks", "eval"])
    assert [c for c in ("notebooks", "eval", "batch", "") if admitted(spec, token(c))] == [
        "notebooks",
        "eval",
    ]
    # A client of the issuer is still refused with a token of another issuer or for another API.
    assert not admitted(spec, {**token("eval"), "iss": "https://login.example.com/realms/other"})
    assert not admitted(spec, {**token("eval"), "aud": "another-api"})
    # The id allowed is the id that goes on: budgets, records and metrics read that header.
    (provider,) = spec["jwt"]["providers"]
    assert provider["claimToHeaders"] == [{"claim": "azp", "header": gw.CLIENT_ID_HEADER}]
    assert provider["remoteJWKS"] == {"uri": ISSUER.jwks_uri}
    # Only the bearer header: a token in the query would land in the audit record's path.
    assert provider["extractFrom"] == {"headers": [{"name": "Authorization", "valuePrefix": "Bearer "}]}
    assert spec["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "llama"}
    ]
    assert "apiKeyAuth" not in spec


def test_a_model_nobody_may_call_refuses_every_token_and_many_clients_fit_the_crd() -> None:
    nobody = auth.jwt_security_policy_spec("llama", ISSUER, [])
    assert not admitted(nobody, token("eval"))
    many = [f"c{i}" for i in range(300)]
    spec = auth.jwt_security_policy_spec("llama", ISSUER, many)
    assert all(admitted(spec, token(c)) for c in many) and not admitted(spec, token("c300"))
    assert all(
        len(r["principal"]["jwt"]["claims"][0]["values"]) <= auth.MAX_CLAIM_VALUES
        for r in spec["authorization"]["rules"]
    )


def _manifests(out: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((out / "manifests").glob("*.yaml")):
        yield yaml.safe_load(path.read_text())


def test_prod_research_takes_tokens_and_search_keeps_its_keys(planned: Callable[[str], Path]) -> None:
    objs = list(_manifests(planned("prod")))
    policies = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "SecurityPolicy"}
    search, research = policies["llama-8b-clients"], policies["llama-70b-clients"]
    assert "apiKeyAuth" in search and "jwt" not in search and "authorization" not in search
    assert search["apiKeyAuth"]["forwardClientIDHeader"] == gw.CLIENT_ID_HEADER
    assert "apiKeyAuth" not in research
    every_client = ["search-web", "search-batch", "research-notebooks", "research-eval", "someone"]
    oidc = auth.Oidc(
        "https://login.example.com/realms/research",
        ("llm-research",),
        "https://login.example.com/realms/research/protocol/openid-connect/certs",
        "azp",
    )
    assert [c for c in every_client if admitted(research, token(c, oidc))] == [
        "research-notebooks",
        "research-eval",
    ]
    # No key Secret for a tenant without keys; search's holds its two keys.
    secrets = {o["metadata"]["name"] for o in objs if o["kind"] == "Secret"}
    assert "llama-8b-client-keys" in secrets and "llama-70b-client-keys" not in secrets
    # research's budgets still key on the header the JWT claim is copied to.
    budgets = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "BackendTrafficPolicy"}
    selected = {
        h["name"]
        for r in budgets["llama-70b-budgets"]["rateLimit"]["global"]["rules"]
        for s in r["clientSelectors"]
        for h in s["headers"]
    }
    assert selected == {h["header"] for h in research["jwt"]["providers"][0]["claimToHeaders"]}


def test_no_caller_can_send_its_own_client_id(planned: Callable[[str], Path]) -> None:
    """Every header a budget rule selects on, and the one the usage metrics name the caller by, is
    dropped at the Gateway the models' routes attach to, before any filter runs."""
    out = planned("prod")
    objs = list(_manifests(out))
    trusted = {
        h["name"]
        for o in objs
        if o["kind"] == "BackendTrafficPolicy"
        for r in o["spec"]["rateLimit"]["global"]["rules"]
        for s in r["clientSelectors"]
        for h in s["headers"]
    }
    values = yaml.safe_load((out / "helm" / "aieg.values.yaml").read_text())
    trusted.add(values["controller"]["metricsRequestHeaderAttributes"].split(":")[0])
    assert trusted == {gw.CLIENT_ID_HEADER}
    gateways = {
        (p["namespace"], p["name"])
        for o in objs
        if o["kind"] == "AIGatewayRoute"
        for p in o["spec"]["parentRefs"]
    }
    assert gateways == {(gw.CONTROLLER_NAMESPACE, gw.GATEWAY_NAME)}
    removed: dict[tuple[str, str], set[str]] = {}
    for o in objs:
        if o["kind"] == "ClientTrafficPolicy":
            early = o["spec"].get("headers", {}).get("earlyRequestHeaders", {})
            for ref in o["spec"]["targetRefs"]:
                if ref["kind"] == "Gateway":
                    key = (o["metadata"]["namespace"], ref["name"])
                    removed.setdefault(key, set()).update(early.get("remove", []))
    for gateway in gateways:
        assert trusted <= removed.get(gateway, set()), gateway


def _cel_problems(schema: dict[str, Any], value: Any, path: str = "spec") -> Iterator[str]:
    """The CRD's x-kubernetes-validations (CEL) that `value` breaks, as the API server would say."""
    for check in schema.get("x-kubernetes-validations", []):
        env = celpy.Environment()
        if not env.program(env.compile(check["rule"])).evaluate({"self": celpy.json_to_cel(value)}):
            yield f"{path}: {check['message']}"
    if isinstance(value, dict):
        for key, item in value.items():
            if key in schema.get("properties", {}):
                yield from _cel_problems(schema["properties"][key], item, f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            yield from _cel_problems(schema["items"], item, f"{path}[{i}]")


@pytest.mark.parametrize("kind", ["SecurityPolicy", "ClientTrafficPolicy"])
def test_the_auth_policies_pass_the_crds_cel_rules(planned: Callable[[str], Path], kind: str) -> None:
    """The schema is checked for every custom resource (test_validators); these kinds' CEL rules
    (a JWT provider needs its JWKS, a JWT rule needs JWT auth, ...) are checked here too."""
    crd = _crds()[("gateway.envoyproxy.io", kind)]
    (version,) = [v for v in crd["spec"]["versions"] if v.get("served")]
    spec_schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    objs = [o for o in _manifests(planned("prod")) if o["kind"] == kind]
    assert objs
    for obj in objs:
        assert list(_cel_problems(spec_schema, obj["spec"])) == [], obj["metadata"]["name"]
    broken = auth.jwt_security_policy_spec("m", ISSUER, ["a"])
    del broken["jwt"]
    if kind == "SecurityPolicy":  # the check itself can fail
        assert "spec: if authorization.rules.principal.jwt is used, jwt must be defined" in list(
            _cel_problems(spec_schema, broken)
        )


OIDC = {
    "issuer": "https://login.example.com/realms/search",
    "audiences": ["llm-search"],
    "jwksUri": "https://login.example.com/realms/search/protocol/openid-connect/certs",
}


def _errors(changes: dict[str, Any]) -> list[str]:
    return problems(prod(changes), PROD_SECRETS)


def test_an_oidc_tenants_clients_have_no_key_and_a_key_tenants_clients_have_one() -> None:
    with_key = _errors({"tenants.search.oidc": OIDC})
    assert (
        "error: tenants.search.clients.search-web.key: tenant search authenticates its clients with tokens "
        "of https://login.example.com/realms/search (tenants.search.oidc): remove the key, and register the "
        "client there so its tokens' client_id claim is 'search-web'"
    ) in with_key
    assert any(
        p.startswith("error: tenants.search.clients.search-batch.key: tenant search") for p in with_key
    )
    keyless = _errors({"tenants.research.oidc": DELETE})
    assert (
        "error: tenants.research.clients.research-eval.key: is required: set it with `pulumi config set "
        "--secret --path 'llm-platform:tenants.research.clients.research-eval.key' $(openssl rand -hex 24)`, "
        "or give tenants.research an oidc issuer"
    ) in keyless
    assert any(
        p.startswith("error: tenants.research.oidc: OIDC clients are authenticated by the AI gateway")
        for p in _errors({"gateway": DELETE})
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("issuer", "http://login.example.com/realms/r", "is not an https URL"),
        ("issuer", "https://10.0.0.7/realms/r", "has the host '10.0.0.7', an IP address"),
        ("issuer", "https://keycloak/realms/r", "has the host 'keycloak', not a fully qualified DNS name"),
        ("issuer", "https://login.example.com/realms/r?x=1", "has a query"),
        ("issuer", "https://admin:pw@login.example.com/r", "has user information"),
        ("issuer", "https://login.example.com:99999/r", "has an invalid port"),
        ("issuer", "https://login.example.com/" + "r" * 240, "is 266 characters; at most 253"),
        ("jwksUri", "https://login.example.com/keys#frag", "has a fragment"),
        ("jwksUri", "https://login_example.com/keys", "has the host 'login_example.com', not a fully"),
        ("jwksUri", "ftp://login.example.com/keys", "is not an https URL"),
    ],
)
def test_issuer_and_keys_must_be_https_urls_of_a_dns_name(field: str, value: str, expected: str) -> None:
    found = _errors({"tenants.research.oidc": {**OIDC, field: value}})
    # (a long value is shortened in the message)
    assert any(p.startswith(f"error: tenants.research.oidc.{field}: '") and expected in p for p in found), (
        found
    )


def test_a_query_is_fine_in_a_jwks_uri_and_the_claim_defaults_to_client_id() -> None:
    from infra.config import load_stack_config

    sections = prod({"tenants.research.oidc": {**OIDC, "jwksUri": OIDC["jwksUri"] + "?v=2"}})
    oidc = load_stack_config(sections, PROD_SECRETS).tenants["research"].oidc
    assert oidc is not None and oidc.client_claim == "client_id"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"audiences": []}, "error: tenants.research.oidc.audiences: List should have at least 1 item"),
        (
            {"audiences": [""]},
            "error: tenants.research.oidc.audiences[0]: String should have at least 1 character",
        ),
        (
            {"audiences": [f"a{i}" for i in range(9)]},
            "error: tenants.research.oidc.audiences: List should have at most 8 items",
        ),
        ({"jwksUri": DELETE}, "error: tenants.research.oidc.jwksUri: is required but not set"),
        (
            {"clientClaim": "client id"},
            "error: tenants.research.oidc.clientClaim: 'client id' is not a claim name",
        ),
        (
            {"clientClaim": "https://x.example/cid"},
            "error: tenants.research.oidc.clientClaim: 'https://x.example/cid' is not a claim name",
        ),
    ],
)
def test_oidc_config_mistakes_are_named_by_their_key(changes: dict[str, Any], expected: str) -> None:
    oidc = {k: v for k, v in {**OIDC, **changes}.items() if v is not DELETE}
    found = _errors({"tenants.research.oidc": oidc})
    assert any(p.startswith(expected) for p in found), found


def test_model_gateway_refuses_a_client_with_both_or_neither_credential() -> None:
    base: dict[str, Any] = {
        "namespace": "ns",
        "model": "m",
        "access": {"tracks": [], "clients": [{"id": "a", "key": "k" * 40}]},
        "port": 8000,
        "upstream_key": "u" * 40,
        "gateway_namespace": "eg",
        "gateway_release": "eg",
    }
    oidc = {"issuer": ISSUER.issuer, "audiences": ["llm"], "jwks_uri": ISSUER.jwks_uri, "client_claim": "azp"}
    with pytest.raises(ValueError, match=r"clients \['a'\] need no key"):
        ModelGateway("m", {**base, "oidc": oidc})  # type: ignore[typeddict-item]
    keyless = {**base, "access": {"tracks": [], "clients": [{"id": "a"}]}}
    with pytest.raises(ValueError, match=r"clients \['a'\] need a key"):
        ModelGateway("m", keyless)  # type: ignore[arg-type]
