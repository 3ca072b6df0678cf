"""The e2e's own pieces that can be checked without running it: the pinned toolchain agrees
with the project's pins, the simulated nodes have the shape of the stack's pools, the
derived stacks keep no secret, and the verdict fails on every check that does not hold."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.versions import KUBERNETES_VERSION
from e2e.stacks import derive, node_objects
from e2e.verdict import failures

ROOT = Path(__file__).resolve().parent.parent
TOOLCHAIN = (ROOT / "scripts" / "toolchain.sh").read_text()


def _pin(name: str) -> str:
    match = re.search(rf'^{name}="([^"]+)"', TOOLCHAIN, re.M)
    assert match, name
    return match.group(1)


def _requires(tool: str) -> dict[str, str]:
    text = (ROOT / "e2e" / "toolchain" / tool / "go.mod").read_text()
    return dict(re.findall(r"^\s*(?:require\s+)?([\w./-]+)\s+(v[\w.+-]+)\s*(?://.*)?$", text, re.M))


def test_control_plane_is_the_kubernetes_minor_the_cluster_pins() -> None:
    release = _pin("KUBERNETES_RELEASE")
    assert release.rsplit(".", 1)[0] == KUBERNETES_VERSION
    assert _requires("control-plane")["k8s.io/kubernetes"] == f"v{release}"
    # every staging module at the same release, or the build mixes Kubernetes versions
    staging = re.findall(
        r"^\s*(k8s\.io/[\w-]+) => \1 (v[\d.]+)$",
        (ROOT / "e2e/toolchain/control-plane/go.mod").read_text(),
        re.M,
    )
    assert len(staging) > 20
    assert {v for _, v in staging} == {"v0." + release.split(".", 1)[1]}


def test_toolchain_versions_match_the_wrapper_modules() -> None:
    cli = _pin("PULUMI_CLI_VERSION")
    assert _requires("pulumi")["github.com/pulumi/pulumi/pkg/v3"] == f"v{cli}"
    assert _requires("pulumi")["github.com/pulumi/pulumi/sdk/v3"] == f"v{cli}"
    assert _requires("language-python")["github.com/pulumi/pulumi/sdk/v3"] == f"v{cli}"
    assert _requires("language-codegen")["github.com/pulumi/pulumi/pkg/v3"] == f"v{cli}"
    assert _requires("kubernetes-provider")["github.com/pulumi/pulumi-kubernetes/provider/v4"] == _pin(
        "KUBERNETES_PROVIDER_MODULE_VERSION"
    )
    assert _requires("etcd")["go.etcd.io/etcd/server/v3"] == f"v{_pin('ETCD_VERSION')}"
    assert _requires("kwok")["sigs.k8s.io/kwok"] == f"v{_pin('KWOK_VERSION')}"


def test_every_wrapper_module_pins_its_sums() -> None:
    for tool in (
        "pulumi",
        "language-python",
        "language-codegen",
        "kubernetes-provider",
        "etcd",
        "kwok",
        "control-plane",
    ):
        assert (ROOT / "e2e" / "toolchain" / tool / "go.sum").stat().st_size > 0, tool


def test_cli_is_not_older_than_the_python_sdk_pin() -> None:
    sdk = re.search(r'"pulumi>=([\d.]+)', (ROOT / "pyproject.toml").read_text())
    assert sdk
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(_pin("PULUMI_CLI_VERSION")) >= as_tuple(sdk.group(1))


@pytest.fixture
def prod_nodes(planned: Callable[[str], Path]) -> list[dict[str, Any]]:
    return node_objects("prod", planned("prod"))


def _node_groups(plan: Path) -> list[dict[str, Any]]:
    resources = json.loads((plan / "resources.json").read_text())
    return [r["props"] for r in resources if r["type"] == "aws:eks/nodeGroup:NodeGroup"]


def test_simulated_nodes_match_the_pools_at_their_starting_size(
    prod_nodes: list[dict[str, Any]], planned: Callable[[str], Path]
) -> None:
    groups = _node_groups(planned("prod"))
    assert len(prod_nodes) == sum(g["scalingConfig"]["desiredSize"] for g in groups)
    for group in groups:
        mine = [
            n
            for n in prod_nodes
            if n["metadata"]["labels"]["node.kubernetes.io/instance-type"] == group["instanceTypes"][0]
        ]
        assert len(mine) == group["scalingConfig"]["desiredSize"]
        for node in mine:
            for key, value in group["labels"].items():
                assert node["metadata"]["labels"][key] == value
            assert [(t["key"], t["effect"]) for t in node["spec"]["taints"]] == [
                (t["key"], {"NO_SCHEDULE": "NoSchedule"}[t["effect"]]) for t in group.get("taints") or []
            ]


def test_a_gpu_node_offers_its_gpus_and_less_than_its_raw_memory(prod_nodes: list[dict[str, Any]]) -> None:
    p5 = next(
        n for n in prod_nodes if n["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "p5.48xlarge"
    )
    allocatable = p5["status"]["allocatable"]
    assert allocatable["nvidia.com/gpu"] == "8"
    # 2048 GiB of RAM less what the kubelet and the OS keep
    assert 2048 * 1024 - 2000 < int(allocatable["memory"].removesuffix("Mi")) < 2048 * 1024
    assert int(allocatable["cpu"].removesuffix("m")) < 192 * 1000
    system = next(n for n in prod_nodes if n["metadata"]["labels"]["llm-platform.io/pool"] == "system")
    assert "nvidia.com/gpu" not in system["status"]["allocatable"]
    assert not system["spec"]["taints"]


def test_derived_stack_keeps_no_secret_and_installs_every_chart_locally(tmp_path: Path) -> None:
    crds = tmp_path / "crds.yaml"
    crds.write_text("")
    stack = derive(ROOT, "prod", tmp_path, crds)
    text = stack.config_file.read_text()
    assert "secure:" not in text
    committed = (ROOT / "Pulumi.prod.yaml").read_text()
    assert len(stack.secrets) == committed.count("secure:")
    assert "llm-platform:models.llama-8b.apiKey" in stack.secrets
    assert len(set(stack.secrets.values())) == len(stack.secrets)  # no two secrets alike
    config = yaml.safe_load(text)["config"]
    sources = config["llm-platform:chartSources"]
    assert sources and all(Path(s["path"]).is_dir() for s in sources.values())
    # the plan's copy keeps the placeholders: the offline plan never decrypts
    assert yaml.safe_load(stack.plan_config_file.read_text())["config"]["llm-platform:protect"] is True


GOOD: dict[str, Any] = {
    "engine": {"pulumi": "3.274.1", "kubernetes_provider": "4.0.0"},
    "cluster": {"kubernetes": "1.36.3"},
    "stacks": {
        name: {
            "up": {"ok": True, "seconds": 60, "resources": 100},
            "pods": {"gpu_pods_wanted_at_min": 2, "gpu_pods_running": 2, "pending": []},
            "preview_after_up": {"changes": 0},
            "rollout": {"ok": True, "seconds": 20},
            "drain": {"ok": True, "pdb_respected": True},
            "destroy": {"ok": True, "left": 0},
        }
        for name in ("dev", "prod")
    },
    "sdks": {"typescript": {"generated": True, "compiled": True}, "go": {"generated": True, "built": True}},
    "policy_pack": {"preview_with_policy_pack": True, "violations": 0},
}


def test_verdict_passes_a_report_where_everything_holds() -> None:
    assert failures(GOOD) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ("stacks", "prod", "pods", "pending"),
            ["search/llama-8b-x"],
            "stacks.prod.pods.pending: search/llama-8b-x",
        ),
        (("stacks", "prod", "pods", "gpu_pods_running"), 1, "1 GPU pods running, 2 wanted"),
        (("stacks", "dev", "preview_after_up", "changes"), 3, "stacks.dev.preview_after_up.changes: 3"),
        (("stacks", "dev", "rollout", "ok"), False, "stacks.dev.rollout"),
        (("stacks", "prod", "drain", "pdb_respected"), False, "stacks.prod.drain"),
        (("stacks", "prod", "destroy", "left"), 2, "stacks.prod.destroy: 2 left"),
        (("sdks", "go", "built"), False, "sdks.go.built: false"),
        (("policy_pack", "violations"), 1, "policy_pack.violations: 1"),
        (("engine", "pulumi"), None, "engine.pulumi: unknown"),
    ],
)
def test_verdict_names_each_check_that_fails(path: tuple[str, ...], value: Any, expected: str) -> None:
    report = copy.deepcopy(GOOD)
    node = report
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert any(expected in problem for problem in failures(report)), failures(report)


def test_verdict_fails_a_stack_that_did_not_run() -> None:
    report = copy.deepcopy(GOOD)
    del report["stacks"]["prod"]
    assert failures(report) == ["stacks.prod: did not run"]
