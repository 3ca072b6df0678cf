"""What the e2e looks at in the cluster: GPU pods, PodDisruptionBudgets during a rollout or
a drain, and what is left after destroy. Each reads the API server, never our plan."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from e2e.cluster import LocalCluster

GPU = "nvidia.com/gpu"


def gpu_request(pod_or_template_spec: dict[str, Any]) -> int:
    containers = pod_or_template_spec.get("containers", [])
    return sum(int((c.get("resources", {}).get("limits") or {}).get(GPU, 0)) for c in containers)


def pods(cluster: LocalCluster) -> list[dict[str, Any]]:
    return list(cluster.get("pods", "--all-namespaces")["items"])


def gpu_pods(cluster: LocalCluster) -> list[dict[str, Any]]:
    """GPU pods that serve: the headroom's placeholders (negative priority) are not workloads."""
    return [
        p
        for p in pods(cluster)
        if gpu_request(p["spec"])
        and p["spec"].get("priority", 0) >= 0
        and not p["metadata"].get("deletionTimestamp")
    ]


def pending(cluster: LocalCluster) -> list[str]:
    return [
        f"{p['metadata']['namespace']}/{p['metadata']['name']}"
        for p in pods(cluster)
        if p["status"].get("phase") == "Pending" and not p["metadata"].get("deletionTimestamp")
    ]


def scale_to_minimum(cluster: LocalCluster, at_least: int = 0) -> int:
    """What KEDA does when it takes a ScaledObject with no load: its target at
    minReplicaCount (or `at_least`, as a cron trigger does in working hours). KEDA does not
    run here (its chart is the stand-in chart), so the e2e scales as it would. Returns the
    GPU pods the stack then wants."""
    wanted = 0
    for so in cluster.get("scaledobjects.keda.sh", "--all-namespaces")["items"]:
        ns, target = so["metadata"]["namespace"], so["spec"]["scaleTargetRef"]["name"]
        replicas = max(int(so["spec"].get("minReplicaCount", 0)), at_least)
        cluster.kubectl("scale", "deployment", target, "-n", ns, f"--replicas={replicas}")
        deployment = cluster.get("deployment", target, "-n", ns)
        if gpu_request(deployment["spec"]["template"]["spec"]):
            wanted += replicas
    return wanted


def wait_settled(cluster: LocalCluster, timeout: float = 120) -> None:
    """Until every Deployment has as many updated, ready replicas as it wants (or timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = cluster.get("deployments", "--all-namespaces")["items"]
        if all(
            d["status"].get("readyReplicas", 0) == d["spec"].get("replicas", 1)
            and d["status"].get("updatedReplicas", 0) == d["spec"].get("replicas", 1)
            and d["status"].get("replicas", 0) == d["spec"].get("replicas", 1)
            for d in items
        ):
            return
        time.sleep(1)


class Background:
    """Runs `round()` on a thread of its own every `period` seconds inside a `with` block. A
    round that fails while the cluster changes under it (a read of an object being replaced) is
    counted, and the next round tries again."""

    period = 1.0
    failed_rounds = 0

    def round(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.round()
            except (RuntimeError, ValueError, KeyError):
                self.failed_rounds += 1
            self._stop.wait(self.period)


@dataclass
class PdbWatch(Background):
    """Samples every PodDisruptionBudget's healthy pods while something runs, and records
    each moment fewer were healthy than the budget allows (desired - maxUnavailable, or
    minAvailable)."""

    cluster: LocalCluster
    violations: list[str] = field(default_factory=list)
    samples: int = 0
    period = 0.5

    def round(self) -> None:
        budgets = self.cluster.get("pdb", "--all-namespaces")["items"]
        all_pods = pods(self.cluster)
        self.samples += 1
        for pdb in budgets:
            ns = pdb["metadata"]["namespace"]
            selector = pdb["spec"].get("selector", {}).get("matchLabels", {})
            matched = [
                p
                for p in all_pods
                if p["metadata"]["namespace"] == ns
                and all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
            ]
            expected = pdb["status"].get("expectedPods", 0)
            healthy = sum(
                1
                for p in matched
                if not p["metadata"].get("deletionTimestamp")
                and any(
                    c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])
                )
            )
            if "minAvailable" in pdb["spec"]:
                floor = int(pdb["spec"]["minAvailable"])
            else:
                floor = expected - int(pdb["spec"].get("maxUnavailable", 0))
            if expected and healthy < floor:
                self.violations.append(f"{ns}/{pdb['metadata']['name']}: {healthy} healthy < {floor} allowed")


def objects(cluster: LocalCluster) -> set[str]:
    """Every object in the API server, as kind/namespace/name, but for what Kubernetes
    writes on its own all the time (events, leases, endpoint slices)."""
    kinds = cluster.kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
    skip = {"events", "events.events.k8s.io", "leases.coordination.k8s.io", "endpointslices.discovery.k8s.io",
            "endpoints", "componentstatuses"}  # fmt: skip
    kinds = [k for k in kinds if k not in skip]
    out = cluster.kubectl("get", ",".join(kinds), "--all-namespaces", "-o",
                          "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{'\\n'}{end}")  # fmt: skip
    return {line for line in out.stdout.splitlines() if line}


def left_behind(cluster: LocalCluster, before: set[str]) -> set[str]:
    """Objects that were not there before the stack, but for the root CA ConfigMap that
    Kubernetes itself puts in every namespace."""
    return {
        o
        for o in objects(cluster) - before
        if not (o.startswith("ConfigMap/") and o.endswith("/kube-root-ca.crt"))
    }


def wait_gone(
    cluster: LocalCluster, before: set[str], tick: Callable[[], None], timeout: float = 120
) -> None:
    """Until nothing is left that was not there before the stack (namespaces take a while
    to empty), or timeout: what is still there then is reported as left behind. `tick`
    runs each round (the stand-in volume provisioner reclaims released volumes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if not left_behind(cluster, before):
            return
        time.sleep(2)


def drain_a_serving_node(cluster: LocalCluster) -> dict[str, Any]:
    """Drain a node that serves a GPU pod, through the eviction API, watching every budget."""
    serving = [p for p in gpu_pods(cluster) if p["status"].get("phase") == "Running"]
    if not serving:
        return {"ok": False, "pdb_respected": False, "why": "no GPU pod runs: nothing to drain"}
    node = serving[0]["spec"]["nodeName"]
    with PdbWatch(cluster) as watch:
        drained = cluster.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
                                  "--timeout=120s", check=False)  # fmt: skip
        wait_settled(cluster, timeout=60)
    cluster.kubectl("uncordon", node)
    return {"ok": drained.returncode == 0, "pdb_respected": not watch.violations, "node": node,
            "pdb_violations": watch.violations, "output": drained.stderr.strip()[-500:]}  # fmt: skip
