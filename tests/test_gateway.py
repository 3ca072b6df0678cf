"""The AI gateway: who may call which model, what they are charged, how a caller over budget is
answered, and how prod wires it (clients of two tenants, budgets, the ALB only reaching proxies)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from components.core import gateway as gw
from tests.test_config import DELETE, PROD_SECRETS, problems, prod

WEB = gw.Client("web", {"llama-8b": gw.Budget(tokens_per_minute=1000, tokens_per_day=50_000)})
BATCH = gw.Client("batch", {"llama-8b": gw.Budget(tokens_per_day=10_000), "qwen": gw.Budget()})
EVAL = gw.Client("eval", {"qwen": gw.Budget()})


def test_a_models_key_secret_holds_only_the_clients_allowed_to_call_it() -> None:
    keys = {"web": "k-web", "batch": "k-batch", "eval": "k-eval"}
    assert gw.client_keys_data("llama-8b", [WEB, BATCH, EVAL], keys) == {"batch": "k-batch", "web": "k-web"}
    assert gw.client_keys_data("qwen", [WEB, BATCH, EVAL], keys) == {"batch": "k-batch", "eval": "k-eval"}
    assert gw.client_keys_data("other", [WEB, BATCH, EVAL], keys) == {}


def test_budgets_become_one_rule_per_client_and_window_charged_from_total_tokens() -> None:
    rules = gw.rate_limit_rules("llama-8b", [WEB, BATCH, EVAL])
    seen = [
        (r["clientSelectors"][0]["headers"][0]["value"], r["limit"]["unit"], r["limit"]["requests"])
        for r in rules
    ]
    assert seen == [("batch", "Day", 10_000), ("web", "Minute", 1000), ("web", "Day", 50_000)]
    for rule in rules:
        header = rule["clientSelectors"][0]["headers"][0]
        # The id API-key auth forwards, never a header the caller chose.
        assert (header["name"], header["type"]) == (gw.CLIENT_ID_HEADER, "Exact")
        # Checked before (cost 0), charged after from the AI gateway's count of the answer.
        assert rule["cost"]["request"] == {"from": "Number", "number": 0}
        assert rule["cost"]["response"]["metadata"] == {
            "namespace": gw.TOKEN_METADATA_NAMESPACE,
            "key": gw.TOTAL_TOKENS,
        }
    costs = {c["metadataKey"]: c["type"] for c in gw.request_costs()}
    assert costs[gw.TOTAL_TOKENS] == "TotalToken"
    assert gw.rate_limit_rules("qwen", [WEB, BATCH, EVAL]) == []  # no budgets, no rules


def test_a_caller_over_budget_gets_429_with_retry_after() -> None:
    spec = gw.budget_policy_spec("llama-8b", gw.rate_limit_rules("llama-8b", [WEB]))
    (override,) = spec["responseOverride"]
    assert override["match"]["statusCodes"] == [{"type": "Value", "value": 429}]
    assert override["response"]["statusCode"] == 429
    assert {"name": "Retry-After", "value": str(gw.RETRY_AFTER_SECONDS)} in override["response"]["header"][
        "set"
    ]
    assert spec["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "llama-8b"}
    ]


def test_the_route_keeps_the_canary_split_and_drops_a_track_without_share() -> None:
    spec = gw.ai_route_spec("llama-8b", "eg", [("llama-8b", 90), ("llama-8b-canary", 10)])
    (rule,) = spec["rules"]
    assert rule["matches"] == [{"headers": [{"type": "Exact", "name": gw.MODEL_HEADER, "value": "llama-8b"}]}]
    assert rule["backendRefs"] == [
        {"name": "llama-8b", "weight": 90},
        {"name": "llama-8b-canary", "weight": 10},
    ]
    only_stable = gw.ai_route_spec("m", "eg", [("m", 100), ("m-canary", 0)])
    assert only_stable["rules"][0]["backendRefs"] == [{"name": "m", "weight": 100}]


def test_api_key_auth_strips_the_callers_key_and_forwards_the_client_id() -> None:
    auth = gw.security_policy_spec("llama-8b", "llama-8b-client-keys")["apiKeyAuth"]
    assert auth["sanitize"] is True  # vLLM gets the gateway's key, never the caller's
    assert auth["forwardClientIDHeader"] == gw.CLIENT_ID_HEADER
    assert auth["credentialRefs"][0]["name"] == "llama-8b-client-keys"


def test_budget_table_lists_every_client_and_model() -> None:
    rows = gw.budget_table({"search": [WEB, BATCH]})
    assert rows == [
        ("search", "batch", "llama-8b", "unlimited", "10,000"),
        ("search", "batch", "qwen", "unlimited", "unlimited"),
        ("search", "web", "llama-8b", "1,000", "50,000"),
    ]


KEY = "k" * 40


def _client(models: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    return {"key": key, "models": models}


def test_a_client_may_only_call_its_own_tenants_models() -> None:
    found = problems(prod({"tenants.search.clients.search-web.models": {"llama-70b": {}}}), PROD_SECRETS)
    assert (
        "error: tenants.search.clients.search-web.models.llama-70b: 'llama-70b' belongs to tenant research; "
        "a client may only call its own tenant's models (declare the client under tenants.research.clients)"
    ) in found


def test_client_keys_must_be_long_unique_and_not_a_models_key() -> None:
    short = problems(prod({"tenants.search.clients.x": _client({"llama-8b": {}}, "short")}), PROD_SECRETS)
    assert any(p.startswith("error: tenants.search.clients.x.key: is 5 characters") for p in short), short
    twice = prod(
        {
            "tenants.search.clients.a": _client({"llama-8b": {}}),
            "tenants.search.clients.b": _client({"llama-8b": {}}),
        }
    )
    assert any(
        p.startswith("error: tenants.search.clients.b.key: is also tenants.search.clients.a.key")
        for p in problems(twice, PROD_SECRETS)
    )
    upstream = prod({"models.llama-8b.apiKey": KEY, "tenants.search.clients.a": _client({"llama-8b": {}})})
    assert any(
        p.startswith("error: tenants.search.clients.a.key: is also models.llama-8b.apiKey")
        for p in problems(upstream, PROD_SECRETS)
    )


def test_clients_need_the_gateway_and_sane_budgets() -> None:
    found = problems(prod({"gateway": DELETE}), PROD_SECRETS)
    assert any(
        p.startswith("error: tenants.search.clients: API clients are enforced by the AI gateway")
        for p in found
    )
    day_below_minute = prod(
        {"tenants.search.clients.a": _client({"llama-8b": {"tokensPerMinute": 100, "tokensPerDay": 10}})}
    )
    assert any(
        p.startswith(
            "error: tenants.search.clients.a.models.llama-8b.tokensPerDay: 10 is below tokensPerMinute 100"
        )
        for p in problems(day_below_minute, PROD_SECRETS)
    )
    unknown = problems(prod({"tenants.search.clients.a": _client({"nope": {}})}), PROD_SECRETS)
    assert any(
        p.startswith("error: tenants.search.clients.a.models.nope: 'nope' is not a model") for p in unknown
    )


def _manifests(out: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((out / "manifests").glob("*.yaml"))]


def test_prod_puts_two_tenants_clients_and_budgets_behind_the_gateway(planned: Callable[[str], Path]) -> None:
    objs = _manifests(planned("prod"))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    routes = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in by_kind["AIGatewayRoute"]}
    assert routes == {("search", "llama-8b"), ("research", "llama-70b")}
    keys = {
        s["metadata"]["name"]: s for s in by_kind["Secret"] if s["metadata"]["name"].endswith("-client-keys")
    }
    assert set(keys["llama-8b-client-keys"]["stringData"]) == {"search-web", "search-batch"}
    assert "llama-70b-client-keys" not in keys  # research's clients send OIDC tokens (test_gateway_auth)
    budgets = {p["metadata"]["name"]: p["spec"] for p in by_kind["BackendTrafficPolicy"]}
    limited = {
        r["clientSelectors"][0]["headers"][0]["value"]
        for r in budgets["llama-70b-budgets"]["rateLimit"]["global"]["rules"]
    }
    assert limited == {"research-notebooks"}  # research-eval is audited, not budgeted
    # The ALB's routes (one per tenant namespace: its listener admits no other) go to the
    # proxies, never to a model's Service; a ReferenceGrant lets them name the proxies.
    alb_routes = {r["metadata"]["namespace"]: r["spec"] for r in by_kind["HTTPRoute"]}
    assert set(alb_routes) == {"search", "research"}
    assert alb_routes["research"]["hostnames"] == ["llama-70b.llm.example.com"]
    for spec in alb_routes.values():
        assert spec["rules"][0]["backendRefs"] == [
            {"name": gw.PROXY_SERVICE, "namespace": gw.CONTROLLER_NAMESPACE, "port": gw.LISTENER_PORT}
        ]
    (grant,) = [g for g in by_kind["ReferenceGrant"] if g["metadata"]["name"] == gw.PROXY_SERVICE]
    assert grant["metadata"]["namespace"] == gw.CONTROLLER_NAMESPACE
    assert sorted(f["namespace"] for f in grant["spec"]["from"]) == ["research", "search"]
    assert grant["spec"]["to"] == [{"group": "", "kind": "Service", "name": gw.PROXY_SERVICE}]
    assert not [
        t
        for t in by_kind["TargetGroupConfiguration"]
        if t["spec"]["targetReference"]["name"] != gw.PROXY_SERVICE
    ]
    # vLLM's key reaches the gateway only: one upstream policy per model over all its tracks.
    upstream = {p["metadata"]["name"]: p["spec"] for p in by_kind["BackendSecurityPolicy"]}
    assert [t["name"] for t in upstream["llama-8b-upstream"]["targetRefs"]] == [
        "llama-8b",
        "llama-8b-canary",
        "llama-8b",  # its InferencePool
    ]
    # Controllers, proxies and Redis each survive a drain.
    pdbs = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in by_kind["PodDisruptionBudget"]}
    assert (gw.CONTROLLER_NAMESPACE, "redis") in pdbs
    (proxy,) = by_kind["EnvoyProxy"]
    kube = proxy["spec"]["provider"]["kubernetes"]
    assert kube["envoyDeployment"]["replicas"] == 3 and kube["envoyPDB"] == {"minAvailable": 1}
    assert kube["envoyDeployment"]["pod"]["nodeSelector"] == {"llm-platform.io/pool": "system"}


def test_dev_without_a_gateway_keeps_the_alb_routing_to_the_model(planned: Callable[[str], Path]) -> None:
    kinds = {o["kind"] for o in _manifests(planned("dev"))}
    assert "AIGatewayRoute" not in kinds and "EnvoyProxy" not in kinds
    outputs = json.loads((planned("dev") / "outputs.json").read_text())
    assert outputs["models"]["qwen-7b"]["route"].endswith("/qwen-7b")


def test_summary_shows_each_tenants_gpu_bill_and_its_clients_budgets(planned: Callable[[str], Path]) -> None:
    from infra.config import load_stack_config
    from infra.plan.summary import HOURS_PER_MONTH, gpu_hour_usd, showback_table
    from tests.test_config import prod as prod_sections

    cfg = load_stack_config(prod_sections(), PROD_SECRETS)
    rows = {r.split(" | ")[0].strip("| "): r for r in showback_table(cfg)[2:]}
    # llama-70b: 4 H100 per replica, 1..4 replicas, at the h100 pool's GPU-hour price.
    price = gpu_hour_usd(cfg, "h100")
    assert price > 0
    assert f"${4 * price * HOURS_PER_MONTH:,.0f} | ${16 * price * HOURS_PER_MONTH:,.0f} |" in rows["research"]
    assert " 3..5 " in rows["search"]  # 2..4 replicas and a canary of one GPU each
    summary = (planned("prod") / "summary.md").read_text()
    assert "## Monthly showback per tenant" in summary
    assert "| search | search-web | API key | llama-8b | 200,000 | 100,000,000 |" in summary
    assert (
        "| research | research-eval | OIDC token of https://login.example.com/realms/research (claim azp) "
        "| llama-70b | unlimited | unlimited |"
    ) in summary


def test_prod_scrapes_the_gateway_alerts_on_it_and_shows_usage_per_tenant(
    planned: Callable[[str], Path],
) -> None:
    out = planned("prod")
    objs = _manifests(out)
    (monitor,) = [o for o in objs if o["kind"] == "PodMonitor" and o["metadata"]["name"] == gw.GATEWAY_NAME]
    assert monitor["spec"]["selector"]["matchLabels"] == gw.PROXY_POD_LABELS
    ports = {e.get("port") or e.get("portNumber") for e in monitor["spec"]["podMetricsEndpoints"]}
    assert ports == {"metrics", gw.EXTPROC_METRICS_PORT}
    (rules,) = [o for o in objs if o["kind"] == "PrometheusRule" and o["metadata"]["name"] == gw.GATEWAY_NAME]
    alerts = {r["alert"] for g in rules["spec"]["groups"] for r in g["rules"]}
    assert {"AIGatewayBudgetRejections", "AIGatewayRedisDown"} <= alerts
    (board,) = [
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "llm-ai-gateway-usage"
    ]
    assert (
        board["metadata"]["namespace"] == "monitoring"
        and board["metadata"]["labels"]["grafana_dashboard"] == "1"
    )
    text = board["data"]["llm-ai-gateway-usage.json"]
    assert "research-eval|research-notebooks" in text and "search-batch|search-web" in text
    values = yaml.safe_load((out / "helm" / "aieg.values.yaml").read_text())
    assert values["controller"]["metricsRequestHeaderAttributes"].startswith(gw.CLIENT_ID_HEADER + ":")


def test_every_alb_route_lives_where_the_alb_listener_admits_routes(planned: Callable[[str], Path]) -> None:
    """The ALB's listener takes routes from tenant namespaces only: a route elsewhere is ignored
    and the models would be unreachable."""
    for stack in ("dev", "prod"):
        objs = _manifests(planned(stack))
        (alb,) = [o for o in objs if o["kind"] == "Gateway" and "infrastructure" in o["spec"]]
        selector = alb["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["selector"]["matchExpressions"]
        (key,) = [e["key"] for e in selector if e["operator"] == "Exists"]
        labelled = {
            o["metadata"]["name"]
            for o in objs
            if o["kind"] == "Namespace" and key in o["metadata"].get("labels", {})
        }
        routes = [
            o
            for o in objs
            if o["kind"] == "HTTPRoute"
            and any(p["name"] == alb["metadata"]["name"] for p in o["spec"]["parentRefs"])
        ]
        assert routes, stack
        for route in routes:
            assert route["metadata"]["namespace"] in labelled, (stack, route["metadata"])
