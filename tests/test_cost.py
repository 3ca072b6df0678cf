"""Monthly cost per environment, and what a change does to it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml

from components.core.costs import HOURS_PER_MONTH, CostLine, Volume
from tests.conftest import REPO, plan_cli


def test_monthly_is_hours_plus_what_is_billed_by_the_month() -> None:
    line = CostLine("x", 1.0, 3.0, monthly_fixed=6.0)
    assert (line.monthly_min, line.monthly_max) == (HOURS_PER_MONTH + 6.0, 3 * HOURS_PER_MONTH + 6.0)


def test_gp3_charges_only_performance_above_the_baseline() -> None:
    assert Volume(100).monthly_usd == 100 * 0.08
    assert Volume(100, 6000, 500).monthly_usd == 100 * 0.08 + 3000 * 0.005 + 375 * 0.04


def test_cost_json_agrees_with_the_summary(planned: Callable[[str], Path]) -> None:
    cost = json.loads((planned("prod") / "cost.json").read_text())
    summary = (planned("prod") / "summary.md").read_text()
    total = cost["total"]
    assert f"**${total['monthlyMin']:,.0f}/month** | **${total['monthlyMax']:,.0f}/month**" in summary
    assert round(sum(line["monthlyMax"] for line in cost["lines"]), 0) == round(total["monthlyMax"], 0)
    assert total["monthlyMin"] < total["monthlyMax"]


def test_dev_costs_less_than_prod(planned: Callable[[str], Path]) -> None:
    dev = json.loads((planned("dev") / "cost.json").read_text())["total"]
    prod = json.loads((planned("prod") / "cost.json").read_text())["total"]
    assert dev["monthlyMax"] < prod["monthlyMin"]


def test_cost_diff_shows_what_a_bigger_pool_adds(planned: Callable[[str], Path], tmp_path: Path) -> None:
    doc = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())
    doc["config"]["llm-platform:gpuPools"]["l40s"]["maxSize"] += 2
    head_file = tmp_path / "Pulumi.prod.yaml"
    head_file.write_text(yaml.safe_dump(doc))
    head = tmp_path / "head"
    assert plan_cli("plan", "--stack", "prod", "--config", str(head_file), "--out", str(head)).returncode == 0

    result = plan_cli("cost-diff", str(planned("prod")), str(head))
    assert result.returncode == 0, result.stderr
    node = 1.861 * HOURS_PER_MONTH
    disk = 200 * 0.08 + 3000 * 0.005 + 375 * 0.04
    changed = [line for line in result.stdout.splitlines() if line.startswith("| l40s")]
    assert len(changed) == 2  # the nodes and their root volumes; nothing else moved
    assert changed[0].endswith(f"| 0 .. +${2 * node:,.0f} |")
    assert changed[1].endswith(f"| 0 .. +${2 * disk:,.0f} |")
    assert "| **total** |" in result.stdout


def test_cost_diff_of_identical_plans_says_no_change(planned: Callable[[str], Path]) -> None:
    result = plan_cli("cost-diff", str(planned("dev")), str(planned("dev") / "cost.json"))
    assert result.returncode == 0
    assert "No change" in result.stdout and "| item |" not in result.stdout


def test_cost_diff_without_a_base_plan_is_a_clear_error(
    tmp_path: Path, planned: Callable[[str], Path]
) -> None:
    result = plan_cli("cost-diff", str(tmp_path), str(planned("dev")))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "python -m infra plan" in result.stderr
    assert "Traceback" not in result.stderr
