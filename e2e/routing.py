"""Cache-aware routing in the cluster: every model behind the AI gateway has its InferencePool,
the pool holds exactly its stable replicas, its endpoint picker is ready on the port the pool
names, and draining the node of a picker (the gateway fails the model's requests while none
is ready) never leaves a model without one."""

from __future__ import annotations

from typing import Any

from components.core import endpoint_picker as epp
from components.core import labels
from e2e import checks
from e2e.cluster import LocalCluster

POOLS = "inferencepools.inference.networking.k8s.io"
PICKER_SELECTOR = f"{labels.COMPONENT}={epp.COMPONENT}"


def _selected(pods: list[dict[str, Any]], namespace: str, selector: dict[str, str]) -> set[str]:
    return {
        p["metadata"]["name"]
        for p in pods
        if p["metadata"]["namespace"] == namespace
        and selector.items() <= (p["metadata"].get("labels") or {}).items()
        and p["status"].get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
    }


def pools(cluster: LocalCluster, expected: list[str]) -> dict[str, Any]:
    """Each InferencePool (`<namespace>/<model>`) against the pods and picker it must have."""
    if not expected:  # no AI gateway: the program installs no InferencePool CRD either
        return {"ok": True, "expected": [], "pools": {}}
    pods = checks.pods(cluster)
    found: dict[str, Any] = {}
    for pool in cluster.get(POOLS, "--all-namespaces")["items"]:
        ns, name, spec = pool["metadata"]["namespace"], pool["metadata"]["name"], pool["spec"]
        stable = cluster.get("deployment", "-n", ns, name)
        ref = spec["endpointPickerRef"]
        service = cluster.get("service", "-n", ns, ref["name"])
        picker = cluster.get("deployment", "-n", ns, ref["name"])
        in_pool = _selected(pods, ns, spec["selector"]["matchLabels"])
        found[f"{ns}/{name}"] = {
            "replicas_in_pool": len(in_pool),
            # the pool is the stable track, whole: no canary pod, no other model's
            "is_the_stable_track": in_pool == _selected(pods, ns, stable["spec"]["selector"]["matchLabels"]),
            "picker_port_served": ref["port"]["number"] in {p["port"] for p in service["spec"]["ports"]},
            "pickers_ready": picker.get("status", {}).get("availableReplicas", 0),
            "pickers_wanted": picker["spec"]["replicas"],
        }
    ok = sorted(found) == sorted(expected) and all(
        p["is_the_stable_track"]
        and p["picker_port_served"]
        and p["pickers_ready"] == p["pickers_wanted"] >= 1
        for p in found.values()
    )
    return {"ok": ok, "expected": sorted(expected), "pools": found}


def drain_a_picker_node(cluster: LocalCluster) -> dict[str, Any]:
    """Drain the pickers off the node that runs the most of them, through the eviction API:
    their disruption budgets must keep one picker of every model ready throughout."""
    pickers = [
        p
        for p in cluster.get("pods", "--all-namespaces", "-l", PICKER_SELECTOR)["items"]
        if p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")
    ]
    if not pickers:
        return {"ok": False, "why": "no picker pod runs: nothing to drain"}
    nodes = [p["spec"]["nodeName"] for p in pickers]
    node = max(set(nodes), key=nodes.count)
    with checks.PdbWatch(cluster) as watch:
        drained = cluster.kubectl(
            "drain",
            node,
            f"--pod-selector={PICKER_SELECTOR}",
            "--ignore-daemonsets",
            "--timeout=120s",
            check=False,
        )
        checks.wait_settled(cluster, timeout=60)
    cluster.kubectl("uncordon", node)
    moved = [
        p
        for p in cluster.get("pods", "--all-namespaces", "-l", PICKER_SELECTOR)["items"]
        if p["spec"].get("nodeName") == node and not p["metadata"].get("deletionTimestamp")
    ]
    return {
        "ok": drained.returncode == 0 and not watch.violations and not moved,
        "node": node,
        "pickers_on_node": nodes.count(node),
        "pdb_violations": watch.violations,
        "output": drained.stderr.strip()[-500:],
    }
