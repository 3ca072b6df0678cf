"""The e2e's stacks, derived from the committed stack files, and the nodes they start with.

A derived stack is the committed Pulumi.<stack>.yaml with three changes, all of them
things a real operator does too: every Helm release installs from a local chart (the
project's stand-in chart, e2e/charts/standin: the upstream charts are not installed
here), the Gateway API and InferencePool CRDs come from local files, and the `secure:`
placeholders are set again with `pulumi config set --secret` under the e2e's own passphrase.

It lives in a project directory of its own (the checkout's Pulumi.yaml with absolute
paths, and infra/ linked in), because `pulumi stack init` and `config set` rewrite the
stack file next to Pulumi.yaml: the committed ones are never touched.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.core.gpu_catalog import lookup
from components.versions import HELM_CHARTS

NAMESPACE = "llm-platform"
STANDIN_CHART = Path(__file__).parent / "charts" / "standin"


@dataclass(frozen=True)
class DerivedStack:
    name: str
    project: Path
    """The project directory `pulumi` runs in."""
    config_file: Path
    """The stack file `pulumi` reads, next to the project's Pulumi.yaml (no secrets in it)."""
    plan_config_file: Path
    """The same config with the placeholders, for the offline plan (which never decrypts)."""
    secrets: dict[str, str]
    """`pulumi config set --secret --path` key -> value."""

    def config(self) -> dict[str, Any]:
        """The stack's config as `pulumi` reads it now (the e2e changes it between steps)."""
        return dict(yaml.safe_load(self.config_file.read_text())["config"])

    def protected(self) -> bool:
        return bool(self.config().get(f"{NAMESPACE}:protect", False))

    def gateway_models(self) -> list[str]:
        """`<tenant namespace>/<model>` of each model behind the AI gateway (none without it)."""
        config = self.config()
        if f"{NAMESPACE}:gateway" not in config:
            return []
        return [f"{m['tenant']}/{name}" for name, m in config.get(f"{NAMESPACE}:models", {}).items()]

    def max_num_seqs(self) -> dict[str, int]:
        """Every maxNumSeqs that shapes a Deployment (each model's, and its canary's where the
        canary sets its own), by config path below `models`, with its value in force."""
        from infra.config.workloads import ModelConfig

        default = int(ModelConfig.model_fields["max_num_seqs"].default)
        found = {}
        for name, model in self.config().get(f"{NAMESPACE}:models", {}).items():
            found[f"{name}.maxNumSeqs"] = int(model.get("maxNumSeqs", default))
            if "maxNumSeqs" in (model.get("canary") or {}):
                found[f"{name}.canary.maxNumSeqs"] = int(model["canary"]["maxNumSeqs"])
        return found


def _secure_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return [path]
        return [p for k, v in value.items() for p in _secure_paths(v, f"{path}.{k}" if path else k)]
    return []


def _drop(config: dict[str, Any], path: str) -> None:
    top, *rest = path.split(".")
    node = config[top]
    for key in rest[:-1]:
        node = node[key]
    del node[rest[-1]]


def derive(root: Path, stack: str, workdir: Path, gateway_crds: Path, pool_crds: Path) -> DerivedStack:
    document = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())
    config: dict[str, Any] = document["config"]
    config[f"{NAMESPACE}:chartSources"] = {
        chart.name: {"path": str(STANDIN_CHART), "allowVersionMismatch": True} for chart in HELM_CHARTS
    }
    config[f"{NAMESPACE}:gatewayApiCrds"] = str(gateway_crds)
    if f"{NAMESPACE}:gateway" in config:
        config[f"{NAMESPACE}:gateway"]["inferencePoolCrds"] = str(pool_crds)
    plan_file = workdir / f"plan.Pulumi.{stack}.yaml"
    plan_file.write_text(yaml.safe_dump({"config": config}, sort_keys=False))

    secret_values: dict[str, str] = {}
    for path in _secure_paths(config, ""):
        _drop(config, path)
        # 36 characters: long enough for every key the config checks (API client keys need 32).
        secret_values[path] = f"e2e-{secrets.token_hex(16)}"
    project = _project(root, workdir / f"project-{stack}")
    config_file = project / f"Pulumi.{stack}.yaml"
    config_file.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return DerivedStack(stack, project, config_file, plan_file, secret_values)


def _project(root: Path, directory: Path) -> Path:
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    options = project["runtime"]["options"]
    options["virtualenv"] = str(root / options["virtualenv"])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    main = project["main"].rstrip("/")
    (directory / main).symlink_to(root / main, target_is_directory=True)
    return directory


# EKS reserves memory and CPU on every node for the kubelet and the OS (the AL2023 AMI's
# bootstrap: 255 MiB + 11 MiB per pod, CPU by core tiers, plus a 100 MiB eviction
# threshold); the scheduler sees only what is left.
def _reserved_millicores(vcpu: int) -> int:
    tiers = [(1, 60), (1, 10), (2, 5)]  # first core 6 %, second 1 %, next two 0.5 %
    reserved, left = 0, vcpu
    for cores, per_core in tiers:
        take = min(left, cores)
        reserved += take * per_core
        left -= take
    return reserved + left * 25 // 10  # the rest 0.25 %


def node_object(
    name: str,
    instance_type: str,
    labels: dict[str, str],
    taints: list[dict[str, str]],
    capacity_type: str = "ON_DEMAND",
) -> dict[str, Any]:
    """A kwok Node of `instance_type` (from the catalog): what it offers the scheduler once
    the kubelet and the OS have taken their share, with the pool's labels and taints."""
    instance = lookup(instance_type)
    if instance is None:
        raise ValueError(f"node {name}: {instance_type} is not in the GPU catalog")
    max_pods = 110
    memory_mib = instance.memory_gib * 1024 - (255 + 11 * max_pods) - 100
    allocatable = {
        "cpu": f"{instance.vcpu * 1000 - _reserved_millicores(instance.vcpu)}m",
        "memory": f"{memory_mib}Mi",
        "pods": str(max_pods),
        "ephemeral-storage": "100Gi",
    }
    if instance.gpus:
        allocatable["nvidia.com/gpu"] = str(instance.gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                **labels,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": instance.name,
                "eks.amazonaws.com/capacityType": capacity_type,
                "type": "kwok",
            },
        },
        "spec": {"taints": taints},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }


def node_objects(stack: str, plan_dir: Path) -> list[dict[str, Any]]:
    """kwok Nodes for every managed node group of the plan, at the size it starts with.
    Karpenter pools start with none: e2e/karpenter.py launches theirs for pending pods."""
    nodes: list[dict[str, Any]] = []
    for resource in json.loads((plan_dir / "resources.json").read_text()):
        if resource["type"] != "aws:eks/nodeGroup:NodeGroup":
            continue
        props = resource["props"]
        scaling = props["scalingConfig"]
        count = scaling.get("desiredSize", scaling["minSize"])
        taints = [
            {"key": t["key"], "value": t.get("value", ""), "effect": _EFFECTS[t["effect"]]}
            for t in props.get("taints") or []
        ]
        for i in range(count):
            nodes.append(
                node_object(
                    f"{stack}-{resource['name']}-{i}".lower(),
                    props["instanceTypes"][0],
                    dict(props.get("labels") or {}),
                    taints,
                    props.get("capacityType", "ON_DEMAND"),
                )
            )
    return nodes


_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
