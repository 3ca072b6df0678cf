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
from e2e.karpenter import SimulatedKarpenter
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


def test_simulated_nodes_are_the_managed_node_groups_at_their_starting_size(
    prod_nodes: list[dict[str, Any]], planned: Callable[[str], Path]
) -> None:
    groups = _node_groups(planned("prod"))
    assert groups and len(prod_nodes) == sum(g["scalingConfig"]["desiredSize"] for g in groups)
    for node in prod_nodes:
        assert "nvidia.com/gpu" not in node["status"]["allocatable"]  # GPU nodes come from Karpenter
        assert not node["spec"]["taints"]


def _nodepool(plan: Path, pool: str) -> dict[str, Any]:
    resources = json.loads((plan / "resources.json").read_text())
    return next(
        r["props"]
        for r in resources
        if r["type"] == "kubernetes:karpenter.sh/v1:NodePool"
        and r["props"]["spec"]["template"]["metadata"]["labels"]["llm-platform.io/pool"] == pool
    )


class FakeCluster:
    """What SimulatedKarpenter reads and writes, in memory."""

    def __init__(self, pools: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
        self.pools, self.pods, self.nodes = pools, pods, []  # type: list[dict[str, Any]]
        self.deleted: list[str] = []

    def get(self, kind: str, *args: str) -> dict[str, Any]:
        items = {"nodepools.karpenter.sh": self.pools, "nodes": self.nodes, "pods": self.pods}[kind]
        return {"items": items}

    def apply(self, objects: list[dict[str, Any]]) -> None:
        self.nodes += objects

    def kubectl(self, *args: str, check: bool = True) -> None:
        if args[:2] == ("delete", "node"):
            self.deleted.append(args[2])
            self.nodes = [n for n in self.nodes if n["metadata"]["name"] != args[2]]


def _pending(name: str, gpus: int, pool: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "research"},
        "spec": {
            "nodeSelector": {"llm-platform.io/pool": pool},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
            ],
            "containers": [{"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}],
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
        },
    }


def test_simulated_karpenter_launches_pool_shaped_nodes_within_the_gpu_limit(
    planned: Callable[[str], Path],
) -> None:
    h100 = {"metadata": {"name": "llm-platform-prod-h100"}, **_nodepool(planned("prod"), "h100")}
    # 5 replicas of 4 GPUs fit 3 nodes of 8: the pool's limit is 24 GPUs
    cluster = FakeCluster([h100], [_pending(f"llama-70b-{i}", 4, "h100") for i in range(5)])
    karpenter = SimulatedKarpenter(cluster, "prod")  # type: ignore[arg-type]
    karpenter.tick()
    assert len(cluster.nodes) == 3 and not karpenter.refused
    p5 = cluster.nodes[0]
    assert p5["status"]["allocatable"]["nvidia.com/gpu"] == "8"
    assert 2048 * 1024 - 2000 < int(p5["status"]["allocatable"]["memory"].removesuffix("Mi")) < 2048 * 1024
    assert p5["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "p5.48xlarge"
    assert p5["metadata"]["labels"]["karpenter.sh/nodepool"] == "llm-platform-prod-h100"
    assert p5["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    # a pod of another pool is not its business; one past the limit is refused, not launched
    other = FakeCluster(
        [h100], [_pending(f"x-{i}", 8, "h100") for i in range(4)] + [_pending("y", 1, "l40s")]
    )
    karpenter = SimulatedKarpenter(other, "prod")  # type: ignore[arg-type]
    karpenter.tick()
    assert len(other.nodes) == 3 and len(set(karpenter.refused)) == 4


def test_derived_stack_keeps_no_secret_and_installs_every_chart_locally(tmp_path: Path) -> None:
    crds, pool_crds = tmp_path / "crds.yaml", tmp_path / "pool-crds.yaml"
    crds.write_text("")
    pool_crds.write_text("")
    stack = derive(ROOT, "prod", tmp_path, crds, pool_crds)
    text = stack.config_file.read_text()
    assert "secure:" not in text
    committed = (ROOT / "Pulumi.prod.yaml").read_text()
    assert len(stack.secrets) == committed.count("secure:")
    assert "llm-platform:models.llama-8b.apiKey" in stack.secrets
    assert len(set(stack.secrets.values())) == len(stack.secrets)  # no two secrets alike
    config = yaml.safe_load(text)["config"]
    assert config["llm-platform:gatewayApiCrds"] == str(crds)
    assert config["llm-platform:gateway"]["inferencePoolCrds"] == str(pool_crds)
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
            "routing": {"ok": True, "expected": ["search/llama-8b"], "pools": {}, "drain": {"ok": True}},
        }
        for name in ("dev", "prod")
    },
    "sdks": {"typescript": {"generated": True, "compiled": True}, "go": {"generated": True, "built": True}},
    "policy_pack": {"preview_with_policy_pack": True, "violations": 0},
    "karpenter": "simulated",
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
        (("stacks", "prod", "routing", "ok"), False, "stacks.prod.routing: expected"),
        (("stacks", "prod", "routing", "drain"), {"ok": False}, "stacks.prod.routing.drain"),
        (("sdks", "go", "built"), False, "sdks.go.built: false"),
        (("policy_pack", "violations"), 1, "policy_pack.violations: 1"),
        (("engine", "pulumi"), None, "engine.pulumi: unknown"),
        (("karpenter",), None, "karpenter: None, not real or simulated"),
        (
            ("stacks", "prod", "headroom"),
            {"ok": False, "placeholders": 2, "spikes": []},
            "stacks.prod.headroom",
        ),
        (
            ("stacks", "prod", "karpenter"),
            {"refused": ["search/llama-8b-x"]},
            "stacks.prod.karpenter.refused",
        ),
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
