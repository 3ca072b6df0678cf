"""What Karpenter does for the e2e's pending pods, acted out against the real API server.

The Karpenter release installs the stand-in chart here (the controller image cannot run
on kwok nodes, and it would call EC2), so this loop does its node work: it reads the
NodePools the program created, and for GPU pods the scheduler could not place it creates
kwok Nodes shaped like the NodePool's instance type, with its template's labels and
taints, never past its `nvidia.com/gpu` limit; a node left empty goes, as
`consolidationPolicy: WhenEmpty` does; nodes of a deleted NodePool go with it. A test
double of Karpenter, not Karpenter: the report says `"karpenter": "simulated"`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from components.core.capacity import nodes_needed
from components.core.gpu_catalog import lookup
from e2e.checks import GPU, Background, gpu_request
from e2e.cluster import LocalCluster
from e2e.stacks import node_object

NODEPOOL_LABEL = "karpenter.sh/nodepool"
# Long enough for the scheduler to place pods on a node just created, short enough for the
# e2e: Karpenter's own consolidateAfter is minutes.
SETTLE_SECONDS = 20.0
EMPTY_SECONDS = 30.0


def _requirement(pool: dict[str, Any], key: str) -> list[str]:
    for r in pool["spec"]["template"]["spec"].get("requirements", []):
        if r["key"] == key and r["operator"] == "In":
            return list(r["values"])
    return []


def _tolerates(pod: dict[str, Any], taints: list[dict[str, Any]]) -> bool:
    tolerations = pod["spec"].get("tolerations") or []
    for taint in taints:
        if not any(
            t.get("key") == taint["key"]
            and t.get("effect", taint["effect"]) == taint["effect"]
            and (t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", ""))
            for t in tolerations
        ):
            return False
    return True


def matches(pod: dict[str, Any], pool: dict[str, Any]) -> bool:
    """The pod's node selector is met by the NodePool's labels, and it tolerates its taints."""
    template = pool["spec"]["template"]
    labels = (template.get("metadata") or {}).get("labels") or {}
    selector = pod["spec"].get("nodeSelector") or {}
    return all(labels.get(k) == v for k, v in selector.items()) and _tolerates(
        pod, template["spec"].get("taints") or []
    )


def unschedulable(pod: dict[str, Any]) -> bool:
    if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
        return False
    return any(
        c["type"] == "PodScheduled" and c["status"] == "False" and c.get("reason") == "Unschedulable"
        for c in pod["status"].get("conditions", [])
    )


@dataclass
class SimulatedKarpenter(Background):
    cluster: LocalCluster
    stack: str
    launched: list[str] = field(default_factory=list)
    """Every node it created, in order."""
    removed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Pods it could not place without passing a NodePool's GPU limit."""
    _empty_since: dict[str, float] = field(default_factory=dict)
    _created_at: dict[str, float] = field(default_factory=dict)

    def round(self) -> None:
        self.tick()

    def report(self) -> dict[str, Any]:
        return {
            "launched": len(self.launched),
            "removed": len(self.removed),
            "refused": sorted(set(self.refused)),
        }

    def tick(self) -> None:
        try:
            pools = self.cluster.get("nodepools.karpenter.sh")["items"]
        except RuntimeError:
            return  # CRD not there (yet)
        nodes = self.cluster.get("nodes")["items"]
        pods = self.cluster.get("pods", "--all-namespaces")["items"]
        names = {p["metadata"]["name"] for p in pools}
        now = time.monotonic()
        for node in nodes:
            pool = node["metadata"].get("labels", {}).get(NODEPOOL_LABEL)
            if pool is not None and pool not in names:
                self._remove(node["metadata"]["name"])  # its NodePool is gone
        for pool in pools:
            self._provision(pool, nodes, pods, now)
        self._consolidate(nodes, pods, now)

    def _provision(
        self, pool: dict[str, Any], nodes: list[dict[str, Any]], pods: list[dict[str, Any]], now: float
    ) -> None:
        name = pool["metadata"]["name"]
        own = [n for n in nodes if n["metadata"].get("labels", {}).get(NODEPOOL_LABEL) == name]
        if any(now - self._created_at.get(n["metadata"]["name"], -1e9) < SETTLE_SECONDS for n in own):
            return  # the scheduler has not had its turn on the newest node
        waiting = [p for p in pods if unschedulable(p) and gpu_request(p["spec"]) and matches(p, pool)]
        if not waiting:
            return
        instance_type = _requirement(pool, "node.kubernetes.io/instance-type")[0]
        instance = lookup(instance_type)
        assert instance is not None and instance.gpus
        limit = int(pool["spec"].get("limits", {}).get(GPU, 10**6))
        in_use = sum(int(n["status"].get("capacity", {}).get(GPU, 0)) for n in own)
        wanted = nodes_needed([gpu_request(p["spec"]) for p in waiting], instance.gpus)
        room = max(0, (limit - in_use) // instance.gpus)
        if wanted > room:
            self.refused += [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in waiting]
        template = pool["spec"]["template"]
        labels = {**((template.get("metadata") or {}).get("labels") or {}), NODEPOOL_LABEL: name}
        capacity = _requirement(pool, "karpenter.sh/capacity-type")
        labels["karpenter.sh/capacity-type"] = capacity[0] if capacity else "on-demand"
        taints = [dict(t) for t in template["spec"].get("taints") or []]
        for _ in range(min(wanted, room)):
            node_name = f"{self.stack}-{name}-{len(self.launched)}".lower()
            self.cluster.apply(
                [
                    node_object(
                        node_name,
                        instance_type,
                        labels,
                        taints,
                        "SPOT" if labels["karpenter.sh/capacity-type"] == "spot" else "ON_DEMAND",
                    )
                ]
            )
            self.launched.append(node_name)
            self._created_at[node_name] = time.monotonic()

    def _consolidate(self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]], now: float) -> None:
        """WhenEmpty: a node of a NodePool with no pod left on it (and not cordoned by someone
        draining it) goes once it has been empty a while."""
        busy = {
            p["spec"].get("nodeName") for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")
        }
        for node in nodes:
            name = node["metadata"]["name"]
            if NODEPOOL_LABEL not in node["metadata"].get("labels", {}) or node["spec"].get("unschedulable"):
                continue
            if name in busy or now - self._created_at.get(name, -1e9) < SETTLE_SECONDS:
                self._empty_since.pop(name, None)
                continue
            since = self._empty_since.setdefault(name, now)
            if now - since >= EMPTY_SECONDS:
                self._remove(name)

    def _remove(self, name: str) -> None:
        self.cluster.kubectl("delete", "node", name, "--wait=false", check=False)
        self._empty_since.pop(name, None)
        if name not in self.removed:
            self.removed.append(name)
