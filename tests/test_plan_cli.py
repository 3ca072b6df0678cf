"""`python -m infra plan`: the contract other tools rely on (files, secrets, exit codes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, plan_cli

RECORD_KEYS = {
    "urn",
    "type",
    "name",
    "parent",
    "dependencies",
    "provider",
    "protect",
    "ignoreChanges",
    "props",
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_writes_the_contract_files(planned: Callable[[str], Path], stack: str) -> None:
    out = planned(stack)
    records = json.loads((out / "resources.json").read_text())
    assert records and all(set(r) >= RECORD_KEYS for r in records)
    urns = {r["urn"] for r in records}
    assert all(
        r["parent"] is None or r["parent"].endswith(f"::llm-platform-{stack}") or r["parent"] in urns
        for r in records
    )
    assert all(dep in urns for r in records for dep in r["dependencies"])

    manifests = sorted((out / "manifests").glob("*.yaml"))
    kube_objects = [r for r in records if r["type"].startswith("kubernetes:") and "kind" in r["props"]]
    assert len(manifests) == len(kube_objects) > 0
    for path in manifests:
        obj = yaml.safe_load(path.read_text())
        assert list(obj)[:3] == ["apiVersion", "kind", "metadata"]

    releases = [r for r in records if r["type"] == "kubernetes:helm.sh/v3:Release"]
    assert sorted(p.name for p in (out / "helm").iterdir()) == sorted(
        f"{r['props']['name']}.values.yaml" for r in releases
    )
    for r in releases:
        values = yaml.safe_load((out / "helm" / f"{r['props']['name']}.values.yaml").read_text())
        assert values == r["props"]["values"]

    summary = (out / "summary.md").read_text()
    for heading in ("## Component tree", "## GPU capacity per pool", "## Hourly cost", "## Monthly estimate"):
        assert heading in summary


def test_plan_is_deterministic(planned: Callable[[str], Path], tmp_path: Path) -> None:
    again = tmp_path / "dev"
    assert plan_cli("plan", "--stack", "dev", "--out", str(again)).returncode == 0
    first = planned("dev")
    assert (again / "resources.json").read_text() == (first / "resources.json").read_text()
    assert (again / "summary.md").read_text() == (first / "summary.md").read_text()


def test_prod_summary_has_the_capacity_and_cost_of_every_pool(planned: Callable[[str], Path]) -> None:
    summary = (planned("prod") / "summary.md").read_text()
    # Karpenter pools: at minimum scale the nodes the models keep (llama-8b 2 + canary 1, and
    # one headroom placeholder; llama-70b one 4-GPU replica and its 4-GPU placeholder on one
    # 8-GPU node), at most maxSize
    assert "| l40s | karpenter | g6e.xlarge | onDemand | L40S | 1 | 44.7 | 4..7 | 4..7 |" in summary
    assert "| h100 | karpenter | p5.48xlarge | onDemand | H100 | 8 | 80.0 | 1..3 | 8..24 |" in summary
    # both ends: demand with one surge pod per rollout (and the placeholders, at minimum only),
    # against what the pool may have
    assert "| l40s | 6 | 6 | 7 | 7 | 7 | 7 (7 nodes) | llama-8b, llama-8b-canary |" in summary
    assert "| h100 | 12 | 2 | 3 | 20 | 3 | 24 (3 nodes) | llama-70b |" in summary
    assert "| search | 7 | 7 | 40 | 18.2 | 256Gi | 181Gi | llama-8b, llama-8b-canary |" in summary
    assert "| llama-70b | research | h100 | 4 | 131.5 GiB | 320 KiB | 15 x 32768 | 1..4 | - |" in summary
    # the control plane, 3 NAT gateways, the ALB, 3..6 m7i.xlarge, 4..7 g6e.xlarge, 1..3 p5.48xlarge
    fixed = 0.10 + 3 * 0.045 + 0.0225
    low = fixed + 3 * 0.2016 + 4 * 1.861 + 55.040
    high = fixed + 6 * 0.2016 + 7 * 1.861 + 3 * 55.040
    # gp3 roots: system 50 GiB; l40s 200 GiB and h100 500 GiB, both at 6000 IOPS and 500 MiB/s
    fast = (6000 - 3000) * 0.005 + (500 - 125) * 0.04
    disks_low = 3 * 50 * 0.08 + 4 * (200 * 0.08 + fast) + 1 * (500 * 0.08 + fast)
    disks_high = 6 * 50 * 0.08 + 7 * (200 * 0.08 + fast) + 3 * (500 * 0.08 + fast)
    low += disks_low / 730
    high += disks_high / 730
    assert f"**${low:,.2f}/h** | **${high:,.2f}/h**" in summary
    # monthly: 730 hours of that, the WAF web ACL with its rule, Prometheus 500 GiB,
    # Alertmanager 5 GiB and Loki 20 GiB
    monthly_fixed = 5 + 1 + (500 + 5 + 20) * 0.08
    month_low, month_high = low * 730 + monthly_fixed, high * 730 + monthly_fixed
    assert f"**${month_low:,.0f}/month** | **${month_high:,.0f}/month**" in summary


def _write_stack(tmp_path: Path, config: dict[str, object]) -> Path:
    doc = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    doc["config"].update(config)
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_invalid_config_exits_2_with_one_line_per_problem_and_writes_nothing(tmp_path: Path) -> None:
    stack_file = _write_stack(
        tmp_path,
        {
            "llm-platform:gpuPools": {"l4": {"instanceTypes": ["g6.xlarge"], "minSize": 3, "maxSize": 1}},
            "llm-platform:network": {"availabilityZones": ["us-east-1a", "eu-west-1b"]},
        },
    )
    out = tmp_path / "out"
    result = plan_cli("plan", "--stack", "broken", "--config", str(stack_file), "--out", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: network.availabilityZones[1]: 'eu-west-1b' is not an availability zone of us-east-1; use names like us-east-1a",
        "error: gpuPools.l4.minSize: 3 is above maxSize 1",
    ]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_missing_stack_file_exits_2(tmp_path: Path) -> None:
    result = plan_cli("plan", "--stack", "nosuch", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Pulumi.nosuch.yaml: no such file" in result.stderr


def test_secure_values_are_never_decrypted(tmp_path: Path) -> None:
    ciphertext = "v1:Zm9vYmFyYmF6:ThisIsCiphertextNotToBeSeen=="
    stack_file = _write_stack(
        tmp_path,
        {
            "llm-platform:aws": {
                "region": "us-east-1",
                "tags": {"owner-contact": {"secure": ciphertext}},
            }
        },
    )
    out = tmp_path / "out"
    result = plan_cli("plan", "--stack", "dev", "--config", str(stack_file), "--out", str(out))
    assert result.returncode == 0, result.stderr
    written = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert ciphertext not in written and "ThisIsCiphertext" not in written
    provider = next(
        r for r in json.loads((out / "resources.json").read_text()) if r["type"] == "pulumi:providers:aws"
    )
    assert json.loads(provider["props"]["defaultTags"])["tags"]["owner-contact"] == "[secret]"


def test_schema_command_prints_the_schema() -> None:
    result = plan_cli("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads((REPO / "docs" / "config.schema.json").read_text())
