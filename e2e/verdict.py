"""The e2e's verdict on build/e2e/report.json: every check must hold.

python -m e2e.verdict build/e2e/report.json   # prints what failed; exit 1 if anything did
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def failures(report: dict[str, Any], stacks: tuple[str, ...] = ("dev", "prod")) -> list[str]:
    problems: list[str] = []
    for key in ("pulumi", "kubernetes_provider"):
        if not report.get("engine", {}).get(key):
            problems.append(f"engine.{key}: unknown")
    if not report.get("cluster", {}).get("kubernetes"):
        problems.append("cluster.kubernetes: unknown")
    # Who launched the GPU nodes: Karpenter itself against kwok, or e2e/karpenter.py acting it out.
    if report.get("karpenter") not in ("real", "simulated"):
        problems.append(f"karpenter: {report.get('karpenter')!r}, not real or simulated")
    for name in stacks:
        s = report.get("stacks", {}).get(name)
        if s is None:
            problems.append(f"stacks.{name}: did not run")
            continue
        if "error" in s:
            problems.append(f"stacks.{name}: {s['error'].strip().splitlines()[-1]}")
        if not s.get("up", {}).get("ok"):
            problems.append(f"stacks.{name}.up: failed")
        if s.get("karpenter", {}).get("refused"):
            problems.append(f"stacks.{name}.karpenter.refused: {', '.join(s['karpenter']['refused'])}")
        pods = s.get("pods", {})
        if pods.get("pending"):
            problems.append(f"stacks.{name}.pods.pending: {', '.join(pods['pending'])}")
        if pods.get("gpu_pods_running") != pods.get("gpu_pods_wanted_at_min"):
            problems.append(
                f"stacks.{name}.pods: {pods.get('gpu_pods_running')} GPU pods running, "
                f"{pods.get('gpu_pods_wanted_at_min')} wanted at minimum scale"
            )
        if s.get("preview_after_up", {}).get("changes") != 0:
            problems.append(
                f"stacks.{name}.preview_after_up.changes: {s.get('preview_after_up', {}).get('changes')}"
            )
        spikes = s.get("headroom", {})
        if spikes and not spikes.get("ok"):
            problems.append(f"stacks.{name}.headroom: {spikes.get('spikes')}")
        routing = s.get("routing", {})
        if routing and not routing.get("ok"):
            problems.append(
                f"stacks.{name}.routing: expected {routing.get('expected')}, found {routing.get('pools')}"
            )
        if routing.get("expected") and not routing.get("drain", {}).get("ok"):
            problems.append(f"stacks.{name}.routing.drain: {routing.get('drain')}")
        if not s.get("rollout", {}).get("ok"):
            problems.append(
                f"stacks.{name}.rollout: {s.get('rollout', {}).get('pdb_violations') or 'failed'}"
            )
        drain = s.get("drain", {})
        if not (drain.get("ok") and drain.get("pdb_respected")):
            problems.append(
                f"stacks.{name}.drain: {drain.get('why') or drain.get('pdb_violations') or 'failed'}"
            )
        destroy = s.get("destroy", {})
        if not destroy.get("ok") or destroy.get("left"):
            problems.append(
                f"stacks.{name}.destroy: {destroy.get('left')} left: {destroy.get('left_objects')}"
            )
    sdks = report.get("sdks", {})
    for lang, step in (("typescript", "compiled"), ("go", "built")):
        for key in ("generated", step):
            if not sdks.get(lang, {}).get(key):
                problems.append(f"sdks.{lang}.{key}: false")
    policy = report.get("policy_pack", {})
    if not policy.get("preview_with_policy_pack"):
        problems.append("policy_pack.preview_with_policy_pack: false")
    if policy.get("violations"):
        problems.append(f"policy_pack.violations: {policy['violations']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    report = json.loads(Path(args[0]).read_text())
    problems = failures(report)
    for problem in problems:
        print(f"e2e: {problem}", file=sys.stderr)
    if not problems:
        print("e2e: every check holds")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
