"""The GitHub Actions workflows: valid, pinned, credential-free where they must be, and
deploying dev before prod behind an approval."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+$")


def load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / ".github" / "workflows" / name).read_text()))


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


def test_there_are_the_two_workflows() -> None:
    assert [w.name for w in WORKFLOWS] == ["deploy.yml", "pull-request.yml"]


def test_yaml_lint() -> None:
    files = [*WORKFLOWS, REPO / "PulumiPlugin.yaml", REPO / "policy" / "PulumiPolicy.yaml"]
    result = subprocess.run(
        [str(BIN / "yamllint"), "--strict", "-c", str(REPO / ".yamllint.yaml"), *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def _schema_check(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
    )


def test_workflows_match_githubs_schema(tmp_path: Path) -> None:
    result = _schema_check(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    # and the check can fail: a job without runs-on is not a workflow GitHub accepts
    broken = load("deploy.yml")
    del broken["jobs"]["dev"]["runs-on"]
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert _schema_check(tmp_path / "broken.yml").returncode != 0


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            if "uses:" in line:
                used = line.split("uses:", 1)[1].strip()
                assert PINNED.match(used), f"{workflow.name}: {used}"


def test_the_same_action_is_pinned_to_the_same_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            if "uses:" in line:
                action, ref = line.split("uses:", 1)[1].strip().split("@", 1)
                pins.setdefault(action, set()).add(ref)
    assert all(len(refs) == 1 for refs in pins.values()), pins


def test_the_pulumi_cli_is_the_sdk_version_the_project_pins() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    sdk = next(d for d in project["project"]["dependencies"] if d.startswith("pulumi>="))
    lower = re.search(r">=([\d.]+)", sdk)
    assert lower is not None
    policy_sdk = re.search(r"^pulumi==([\d.]+)$", (REPO / "policy" / "requirements.txt").read_text(), re.M)
    assert policy_sdk is not None and policy_sdk.group(1) == lower.group(1)
    for workflow in WORKFLOWS:
        for step in steps(yaml.safe_load(workflow.read_text())):
            if step.get("uses", "").startswith("pulumi/actions@"):
                assert step["with"]["pulumi-version"] == lower.group(1)


def test_aws_access_is_by_oidc_role_only() -> None:
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
        doc = yaml.safe_load(text)
        assert doc["permissions"] == {"contents": "read"}
        for name, job in doc["jobs"].items():
            assumes = any(s.get("uses", "").startswith("aws-actions/") for s in job.get("steps", []))
            assert (job.get("permissions", {}).get("id-token") == "write") == assumes, name
            for s in job.get("steps", []):
                if s.get("uses", "").startswith("aws-actions/"):
                    assert s["with"]["role-to-assume"].startswith("${{ vars.")


def test_pull_requests_preview_the_touched_stacks_with_the_policy_pack() -> None:
    pr = load("pull-request.yml")
    offline, preview = pr["jobs"]["offline"], pr["jobs"]["preview"]
    assert not any(s.get("uses", "").startswith("aws-actions/") for s in offline["steps"])
    assert any(s.get("run") == "bash .ci/run" for s in offline["steps"])
    assert any("infra cost-diff" in s.get("run", "") for s in offline["steps"])
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    (pulumi,) = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy" and (REPO / "policy" / "PulumiPolicy.yaml").is_file()
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    # the branch's code runs with the preview role: behind an environment that can require review
    assert preview["environment"] == "preview"


def test_main_deploys_dev_then_prod_behind_its_environment() -> None:
    deploy = load("deploy.yml")
    triggers = deploy[True]  # PyYAML reads the key `on` as YAML 1.1's boolean
    assert triggers["push"]["branches"] == ["main"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    dev, prod = deploy["jobs"]["dev"], deploy["jobs"]["prod"]
    assert (dev["needs"], dev["environment"]) == ("checks", "dev")
    assert (prod["needs"], prod["environment"]) == ("dev", "prod")
    for job, stack in ((dev, "dev"), (prod, "prod")):
        (pulumi,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["stack-name"].endswith(stack)
        assert pulumi["with"]["policyPacks"] == "policy"


def touched(*files: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "touched_stacks.py"), *files],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(result.stdout))


@pytest.mark.parametrize(
    ("files", "stacks"),
    [
        (["Pulumi.prod.yaml"], ["prod"]),
        (["Pulumi.dev.yaml", "README.md"], ["dev"]),
        (["components/inference_service.py"], ["dev", "prod"]),
        (["pyproject.toml"], ["dev", "prod"]),
        (["policy/policies.py"], ["dev", "prod"]),
        (["scripts/bootstrap.sh"], ["dev", "prod"]),
        ([".github/workflows/deploy.yml"], ["dev", "prod"]),
        (["docs/outputs.md", "tests/test_cost.py", "examples/consumer/__main__.py"], []),
        (["Pulumi.staging.yaml"], []),  # a stack file that no longer exists
    ],
)
def test_touched_stacks(files: list[str], stacks: list[str]) -> None:
    assert touched(*files) == stacks
