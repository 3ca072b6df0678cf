"""The AI gateway's alert rules under promtool: each fires on one history and stays quiet on another."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from components.core.dashboards import queries
from components.core.gateway_alerts import (
    OVER_LIMIT,
    PICKER_JOB,
    PROXY_JOB,
    REDIS_JOB,
    REDIS_UP,
    UPSTREAM_REQUESTS,
    gateway_rule_groups,
    gateway_rules,
)
from components.core.gateway_dashboard import (
    CLIENT_LABEL,
    TOKENS,
    ModelCost,
    gpu_cost_per_hour,
    usage_dashboard,
)
from components.core.metrics import EPP_SCHEDULER_ATTEMPTS, KSM_DEPLOYMENT_AVAILABLE
from tests.test_alerts import promtool

CLUSTER = 'envoy_cluster_name="httproute/search/llama-8b/rule/0"'
READY = KSM_DEPLOYMENT_AVAILABLE.name
ATTEMPTS = EPP_SCHEDULER_ATTEMPTS.name
# As the PodMonitor leaves them: the target's namespace wins over the metric's own (exported_).
PICKER = f'job="{PICKER_JOB}",namespace="search",model="llama-8b",exported_namespace=""'


def _counter(name: str, labels: str, per_minute: int) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": f"0+{per_minute}x30"}


# alert -> (labels it fires with, series where it fires, series where it stays quiet)
CASES: dict[str, tuple[dict[str, str], list[dict[str, str]], list[dict[str, str]]]] = {
    "AIGatewayDown": (
        {},
        [{"series": f'up{{job="{PROXY_JOB}",pod="p1"}}', "values": "0x30"}],
        [{"series": f'up{{job="{PROXY_JOB}",pod="p1"}}', "values": "0x2 1x28"}],
    ),
    "AIGatewayBudgetRejections": (
        {"envoy_cluster_name": "httproute/search/llama-8b/rule/0"},
        [
            _counter(OVER_LIMIT, f'job="{PROXY_JOB}",{CLUSTER}', 30),
            _counter(UPSTREAM_REQUESTS, f'job="{PROXY_JOB}",{CLUSTER}', 60),
        ],
        [
            _counter(OVER_LIMIT, f'job="{PROXY_JOB}",{CLUSTER}', 5),
            _counter(UPSTREAM_REQUESTS, f'job="{PROXY_JOB}",{CLUSTER}', 60),
        ],
    ),
    "InferencePickerDown": (
        {"namespace": "research", "deployment": "llama-70b-endpoint-picker", "model": "llama-70b"},
        [
            {
                "series": f'{READY}{{namespace="research",deployment="llama-70b-endpoint-picker"}}',
                "values": "0x30",
            }
        ],
        [
            # one picker lost, its twin took over within a scrape: never zero for 2 minutes
            {
                "series": f'{READY}{{namespace="research",deployment="llama-70b-endpoint-picker"}}',
                "values": "2 1 0 2x27",
            },
            # a model scaled to zero is VLLMNoHealthyReplica's business, not the picker's
            {"series": f'{READY}{{namespace="research",deployment="llama-70b"}}', "values": "0x30"},
        ],
    ),
    "InferencePickerErrors": (
        {"namespace": "search", "model": "llama-8b"},
        [
            _counter(ATTEMPTS, f'{PICKER},status="failure"', 10),
            _counter(ATTEMPTS, f'{PICKER},status="success"', 60),
        ],
        [
            _counter(ATTEMPTS, f'{PICKER},status="failure"', 1),
            _counter(ATTEMPTS, f'{PICKER},status="success"', 60),
        ],
    ),
    "AIGatewayRedisDown": (
        {},
        [{"series": f'{REDIS_UP}{{job="{REDIS_JOB}"}}', "values": "0x30"}],
        [{"series": f'{REDIS_UP}{{job="{REDIS_JOB}"}}', "values": "1x30"}],
    ),
}


def test_every_gateway_rule_has_a_firing_and_a_quiet_case() -> None:
    assert sorted(CASES) == sorted(r.alert for r in gateway_rules())


def _rules(tmp_path: Path, annotations: bool) -> Path:
    groups = gateway_rule_groups()
    if not annotations:
        for rule in groups[0]["rules"]:
            rule.pop("annotations")
    path = tmp_path / f"rules-{annotations}.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def test_gateway_rules_pass_promtool_check(tmp_path: Path) -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(_rules(tmp_path, True))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_gateway_rule_fires_and_stays_quiet(tmp_path: Path) -> None:
    severities = {r.alert: r.severity for r in gateway_rules()}
    tests: list[dict[str, Any]] = []
    for alert, (labels, fires, quiet) in CASES.items():
        for series, expected in (
            (fires, [{"exp_labels": {**labels, "severity": severities[alert]}}]),
            (quiet, []),
        ):
            tests.append(
                {
                    "interval": "1m",
                    "input_series": series,
                    "alert_rule_test": [{"eval_time": "25m", "alertname": alert, "exp_alerts": expected}],
                }
            )
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(
        yaml.safe_dump(
            {"rule_files": [str(_rules(tmp_path, False))], "evaluation_interval": "1m", "tests": tests},
            sort_keys=False,
        )
    )
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


TENANTS = {"search": ["search-web", "search-batch"], "research": ["research-eval"]}
MODELS = [
    ModelCost("search", "search", "llama-8b", 1.86),
    ModelCost("research", "research", "llama-70b", 6.88),
]


def test_usage_dashboard_queries_parse(tmp_path: Path) -> None:
    exprs = queries(usage_dashboard(TENANTS, MODELS))
    rules = [{"record": f"panel:query{i}", "expr": q} for i, q in enumerate(exprs)]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_usage_is_split_by_tenant_from_the_clients_it_declared(tmp_path: Path) -> None:
    """promtool evaluates the tenant query on two clients' counters: each lands on its tenant."""
    (expr,) = [
        t["expr"]
        for p in usage_dashboard(TENANTS, MODELS)["panels"]
        if p["title"] == "Tokens per second by tenant"
        for t in p["targets"]
    ]
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "tenant:tokens:rate", "expr": expr}]}]})
    )
    cases = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{TOKENS}{{{CLIENT_LABEL}="search-web"}}', "values": "0+600x20"},
                    {"series": f'{TOKENS}{{{CLIENT_LABEL}="research-eval"}}', "values": "0+60x20"},
                    {"series": f'{TOKENS}{{{CLIENT_LABEL}="stranger"}}', "values": "0+6000x20"},
                ],
                "promql_expr_test": [
                    {
                        "expr": "tenant:tokens:rate",
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": 'tenant:tokens:rate{tenant="search"}', "value": 10},
                            {"labels": 'tenant:tokens:rate{tenant="research"}', "value": 1},
                        ],
                    }
                ],
            }
        ],
    }
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(yaml.safe_dump(cases, sort_keys=False))
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6.8800" in gpu_cost_per_hour(MODELS) and 'pod=~"llama-70b-.*"' in gpu_cost_per_hour(MODELS)
