"""A traffic spike served by headroom, in the real scheduler: one more replica of a model
whose pool keeps placeholders must start by preempting one, not wait for a node."""

from __future__ import annotations

import time
from typing import Any

from e2e.checks import gpu_request, pods
from e2e.cluster import LocalCluster


def placeholders(cluster: LocalCluster) -> list[dict[str, Any]]:
    """Pods below the default priority: the GPU headroom's placeholders."""
    return [p for p in pods(cluster) if p["spec"].get("priority", 0) < 0 and gpu_request(p["spec"])]


def _deployments_on(cluster: LocalCluster, selector: dict[str, str], gpus: int) -> list[dict[str, Any]]:
    return [
        d
        for d in cluster.get("deployments", "--all-namespaces")["items"]
        if (d["spec"]["template"]["spec"].get("priorityClassName") is None)
        and 0 < gpu_request(d["spec"]["template"]["spec"]) <= gpus
        and (d["spec"]["template"]["spec"].get("nodeSelector") or {}) == selector
        and d["spec"].get("replicas", 0) >= 1
    ]


def spike(cluster: LocalCluster, timeout: float = 60) -> dict[str, Any]:
    """For each pool with a Running placeholder: one more replica of a model on it (what the
    HPA does on a spike); it must run within `timeout` and a placeholder must have made way."""
    running = [p for p in placeholders(cluster) if p["status"].get("phase") == "Running"]
    spikes: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for holder in running:
        selector = holder["spec"].get("nodeSelector") or {}
        key = tuple(sorted(selector.items()))
        if key in seen:
            continue
        seen.add(key)
        targets = _deployments_on(cluster, selector, gpu_request(holder["spec"]))
        if not targets:
            continue
        target = targets[0]
        ns, name = target["metadata"]["namespace"], target["metadata"]["name"]
        before = target["spec"]["replicas"]
        held = {p["metadata"]["uid"] for p in running if (p["spec"].get("nodeSelector") or {}) == selector}
        start = time.monotonic()
        cluster.kubectl("scale", "deployment", name, "-n", ns, f"--replicas={before + 1}")
        ready = False
        while time.monotonic() - start < timeout:
            d = cluster.get("deployment", name, "-n", ns)
            if d["status"].get("readyReplicas", 0) >= before + 1:
                ready = True
                break
            time.sleep(0.5)
        seconds = round(time.monotonic() - start, 1)
        left = {
            p["metadata"]["uid"] for p in placeholders(cluster) if not p["metadata"].get("deletionTimestamp")
        }
        spikes.append(
            {
                "pool": dict(selector),
                "deployment": f"{ns}/{name}",
                "ok": ready,
                "seconds": seconds,
                "preempted": len(held - left),
            }
        )
        cluster.kubectl("scale", "deployment", name, "-n", ns, f"--replicas={before}")
    # placeholders that no spike could use prove nothing: that is a failure too
    made_way = all(bool(s["ok"]) and int(s["preempted"]) >= 1 for s in spikes)
    return {"ok": made_way and (bool(spikes) or not running), "placeholders": len(running), "spikes": spikes}
