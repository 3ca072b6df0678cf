"""Dashboards: every panel's query parses (promtool) and names only metrics of the contract."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components.core import metrics
from components.core.dashboards import dashboards, gpu_dashboard, queries, serving_dashboard
from tests.test_alerts import promtool

VARIABLES = {"$namespace": "team-a", "$model": "llama", "$node": "ip-10-40-1-7"}
METRIC_NAME = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{")
CONTRACT = {m.name for m in metrics.CONTRACT}


def _as_grafana_sends_it(query: str) -> str:
    for variable, value in VARIABLES.items():
        query = query.replace(variable, value)
    return query


@pytest.mark.parametrize("dashboard", [serving_dashboard(), gpu_dashboard()], ids=lambda d: d["uid"])
def test_every_panel_query_parses(dashboard: dict[str, object], tmp_path: Path) -> None:
    exprs = queries(dashboard)  # type: ignore[arg-type]
    rules = [{"record": f"panel:query{i}", "expr": _as_grafana_sends_it(q)} for i, q in enumerate(exprs)]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dashboard", [serving_dashboard(), gpu_dashboard()], ids=lambda d: d["uid"])
def test_every_panel_uses_only_contract_metrics(dashboard: dict[str, object]) -> None:
    used = set()
    for query in queries(dashboard):  # type: ignore[arg-type]
        for name in METRIC_NAME.findall(query) + re.findall(r"label_replace\((\w+),", query):
            used.add(name if name in CONTRACT else re.sub(r"_(bucket|sum|count)$", "", name))
    assert used and used <= CONTRACT, used - CONTRACT


def test_serving_dashboard_covers_what_operators_ask_for() -> None:
    titles = {p["title"] for p in serving_dashboard()["panels"]}
    for wanted in ("Requests per second", "Time to first token", "Time per output token", "End-to-end latency",
                   "Tokens per second", "Requests waiting and running per replica", "KV cache usage per replica",
                   "Preemptions per second"):  # fmt: skip
        assert wanted in titles
    latency = next(p for p in serving_dashboard()["panels"] if p["title"] == "End-to-end latency")
    assert [t["legendFormat"].split()[0] for t in latency["targets"]] == ["p50", "p90", "p99"]


def test_gpu_dashboard_shows_nodes_and_pools() -> None:
    titles = {p["title"] for p in gpu_dashboard()["panels"]}
    assert {"GPU utilisation per node", "GPU utilisation per pool", "GPU memory used", "GPU temperature",
            "GPU power per pool", "Last XID error per GPU"} <= titles  # fmt: skip


def test_dashboards_are_json_with_unique_uids() -> None:
    loaded = [json.loads(text) for text in dashboards().values()]
    assert len({d["uid"] for d in loaded}) == len(loaded) == 2
