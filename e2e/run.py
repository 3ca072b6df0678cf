"""The real-engine e2e: each stack through `pulumi up`, a look at what the scheduler did,
a no-change preview, a rollout, a drain, a preview with the policy pack, and destroy, on a
local control plane, with AWS answered by the stand-in provider (e2e/aws_standin: a test
double, never evidence about AWS). Writes build/e2e/report.json.

    python -m e2e.run [--stacks dev,prod] [--out build/e2e]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from e2e import checks, headroom, routing
from e2e.cluster import LocalCluster
from e2e.engine import Pulumi, policy_events
from e2e.karpenter import SimulatedKarpenter
from e2e.sdks import check_sdks
from e2e.stacks import DerivedStack, derive, node_objects

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT.parent / "shared" / "upstream"
PYTHON = ROOT / ".venv" / "bin" / "python"


def _crds(directory: Path) -> list[dict[str, Any]]:
    import yaml

    return [
        doc
        for path in sorted(directory.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "CustomResourceDefinition"
    ]


LOCAL_CRD_GROUPS = {
    "gateway.networking.k8s.io": "gateway-api-crds",
    "inference.networking.k8s.io": "inference-pool-crds",
}
"""CRDs the program installs itself (from a release file: config gatewayApiCrds and
gateway.inferencePoolCrds), so the e2e hands it local copies instead of applying them first."""


def _local_crds(workdir: Path) -> dict[str, Path]:
    """Each group's pinned CRDs, as the one local file the program may point at."""
    import yaml

    files = {}
    for group, stem in LOCAL_CRD_GROUPS.items():
        path = workdir / f"{stem}.yaml"
        path.write_text(yaml.safe_dump_all(_crds(UPSTREAM / "crds" / group)))
        files[group] = path
    return files


def _plan(stack: DerivedStack, workdir: Path) -> Path:
    out = workdir / f"plan-{stack.name}"
    subprocess.run(
        [str(PYTHON), "-m", "infra", "plan", "--stack", stack.name, "--config", str(stack.plan_config_file),
         "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out


class StandInVolumes:
    """What the EFS CSI driver's provisioner does for a claim: a PersistentVolume bound to
    it. No CSI driver runs here; without this, pods with a claim stay Pending."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster

    def bind_pending(self) -> None:
        for pvc in self.cluster.get("pvc", "--all-namespaces")["items"]:
            if pvc["status"].get("phase") != "Pending" or pvc["spec"].get("volumeName"):
                continue
            ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
            pv_name = f"e2e-{ns}-{name}"
            self.cluster.apply(
                [
                    {
                        "apiVersion": "v1",
                        "kind": "PersistentVolume",
                        "metadata": {"name": pv_name, "labels": {"llm-platform.io/e2e": "stand-in-volume"}},
                        "spec": {
                            "capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
                            "accessModes": pvc["spec"]["accessModes"],
                            "storageClassName": pvc["spec"].get("storageClassName", ""),
                            "persistentVolumeReclaimPolicy": "Delete",
                            "claimRef": {"namespace": ns, "name": name},
                            "csi": {"driver": "efs.csi.aws.com", "volumeHandle": f"fs-e2e::{pv_name}"},
                        },
                    }
                ]
            )

    def reclaim_released(self) -> None:
        """Reclaim policy Delete: the provisioner deletes a volume once its claim is gone."""
        for pv in self.cluster.get("pv", "-l", "llm-platform.io/e2e=stand-in-volume")["items"]:
            if pv["status"].get("phase") in ("Released", "Failed"):
                self.cluster.kubectl("delete", "pv", pv["metadata"]["name"], "--wait=false")

    def tick(self) -> None:
        self.bind_pending()
        self.reclaim_released()


def _pulumi_with_volumes(
    pulumi: Pulumi, cluster: LocalCluster, log: str, command: str, *args: str
) -> tuple[bool, float, str]:
    """`pulumi up` or `destroy`, with the stand-in volume provisioner running beside it."""
    started = time.monotonic()
    logfile = pulumi.log_dir / f"{log}.log"
    volumes = StandInVolumes(cluster)
    with logfile.open("w") as out:
        proc = subprocess.Popen(
            ["pulumi", command, "--yes", "--skip-preview", "--non-interactive", "--color=never", *args],
            cwd=pulumi.root, env=pulumi.env, text=True, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        while proc.poll() is None:
            with contextlib.suppress(RuntimeError):  # the API server is busy; the next round does it
                volumes.tick()
            time.sleep(1)
    return proc.returncode == 0, time.monotonic() - started, logfile.read_text()


def _up(pulumi: Pulumi, cluster: LocalCluster, log: str, *args: str) -> tuple[bool, float, str]:
    return _pulumi_with_volumes(pulumi, cluster, log, "up", *args)


def _changes(preview_json: str) -> int:
    summary = json.loads(preview_json).get("changeSummary", {})
    return sum(n for op, n in summary.items() if op != "same")


def run_stack(name: str, workdir: Path, report: dict[str, Any], local_crds: dict[str, Path]) -> None:
    result: dict[str, Any] = {}
    report["stacks"][name] = result
    stack = derive(
        ROOT,
        name,
        workdir,
        local_crds["gateway.networking.k8s.io"],
        local_crds["inference.networking.k8s.io"],
    )
    plan_dir = _plan(stack, workdir)

    cluster = LocalCluster(workdir / f"cluster-{name}")
    cluster.start()
    karpenter: SimulatedKarpenter | None = None
    try:
        report["cluster"]["kubernetes"] = json.loads(cluster.kubectl("version", "-o", "json").stdout)[
            "serverVersion"
        ]["gitVersion"].lstrip("v")
        cluster.apply([c for c in _crds(UPSTREAM / "crds") if c["spec"]["group"] not in LOCAL_CRD_GROUPS])
        nodes = node_objects(name, plan_dir)
        cluster.apply(nodes)
        before = checks.objects(cluster)
        # Karpenter's part: nodes for the GPU pods the NodePools are for (see e2e/karpenter.py).
        karpenter = SimulatedKarpenter(cluster, name).__enter__()
        report["karpenter"] = "simulated"

        pulumi = Pulumi.offline(
            stack.project,
            workdir / f"pulumi-{name}",
            {
                "LLM_PLATFORM_E2E_KUBE_ENDPOINT": cluster.endpoint,
                "LLM_PLATFORM_E2E_KUBE_CA_DATA": cluster.ca_data,
                "LLM_PLATFORM_E2E_KUBE_TOKEN_FILE": str(cluster.token_file),
            },
        )
        report["engine"]["pulumi"] = pulumi.version()
        pulumi.run(f"{name}-init", "stack", "init", name, "--secrets-provider", "passphrase")
        config = ("--stack", name)
        for key, value in stack.secrets.items():
            pulumi.run(f"{name}-secret", "config", "set", "--secret", "--path", *config, key, value)

        # 1. up
        ok, seconds, text = _up(pulumi, cluster, f"{name}-up", *config)
        resources = len(pulumi.stack_resources(name))
        result["up"] = {"ok": ok, "seconds": round(seconds, 1), "resources": resources}
        if not ok:
            raise RuntimeError(
                f"pulumi up of {name} failed; see {pulumi.log_dir / f'{name}-up.log'}\n{text[-3000:]}"
            )

        # 2. what the scheduler did, at minimum scale
        wanted = checks.scale_to_minimum(cluster)
        checks.wait_settled(cluster)
        running = [p for p in checks.gpu_pods(cluster) if p["status"].get("phase") == "Running"]
        result["pods"] = {
            "gpu_pods_wanted_at_min": wanted,
            "gpu_pods_running": len(running),
            "pending": checks.pending(cluster),
        }

        # 2b. a spike served by headroom: the scheduler preempts a placeholder for the replica
        result["headroom"] = headroom.spike(cluster)
        checks.wait_settled(cluster)

        # 2c. cache-aware routing: each gateway model's pool, its replicas and its pickers; then
        # a picker node drained (the gateway fails a model's requests while it has no picker)
        result["routing"] = routing.pools(cluster, stack.gateway_models())
        if result["routing"]["expected"]:
            result["routing"]["drain"] = routing.drain_a_picker_node(cluster)
            checks.wait_settled(cluster)

        # 3. no perpetual diff
        preview = pulumi.run(
            f"{name}-preview", "preview", *config, "--json", "--expect-no-changes", check=False
        )
        result["preview_after_up"] = {"changes": _changes(preview.stdout) if preview.stdout.strip() else -1}

        # 4. a rollout in working hours (every model at least one replica, as KEDA's cron
        # trigger has dev's in the day): every model's serving arguments change at once, as
        # a vLLM upgrade does, so every Deployment that surges needs its spare GPU together
        checks.scale_to_minimum(cluster, at_least=1)
        checks.wait_settled(cluster)
        old_pods = {p["metadata"]["uid"] for p in checks.gpu_pods(cluster)}
        models = stack.max_num_seqs()
        for key, max_num_seqs in models.items():
            pulumi.run(f"{name}-rollout-config", "config", "set", "--path", *config,
                       f"llm-platform:models.{key}", str(max_num_seqs // 2))  # fmt: skip
        with checks.PdbWatch(cluster) as watch:
            ok, seconds, _ = _up(pulumi, cluster, f"{name}-rollout", *config)
            checks.wait_settled(cluster)
        serving = checks.gpu_pods(cluster)
        replaced = not any(p["metadata"]["uid"] in old_pods for p in serving)
        result["rollout"] = {"ok": ok and replaced and not watch.violations and not checks.pending(cluster),
                             "seconds": round(seconds, 1), "models": sorted(models),
                             "old_pods_left": sum(p["metadata"]["uid"] in old_pods for p in serving),
                             "pdb_samples": watch.samples, "pdb_violations": watch.violations}  # fmt: skip

        # 5. a drain of one GPU node that serves, through the eviction API
        result["drain"] = checks.drain_a_serving_node(cluster)

        # 6. the policy pack in the real engine
        # --json with streaming on: the engine's own events, one JSON object a line
        policy = pulumi.run(
            f"{name}-policy", "preview", *config, "--policy-pack", str(ROOT / "policy"), "--json",
            check=False, env={"PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"},
        )  # fmt: skip
        ran, violations = policy_events(policy.stdout)
        report["policy_pack"] = {
            "preview_with_policy_pack": policy.ok and ran,
            "violations": report.get("policy_pack", {}).get("violations", 0) + len(violations),
            "violation_messages": report.get("policy_pack", {}).get("violation_messages", []) + violations,
        }

        # 7. destroy, as README's "Tearing down a protected stack" says: protection off
        # (and buckets emptied) through an update, then destroy
        unprotect_ok = True
        if stack.protected():
            for key, value in (("protect", "false"), ("storage.forceDestroy", "true")):
                pulumi.run(
                    f"{name}-teardown-config",
                    "config",
                    "set",
                    "--path",
                    *config,
                    f"llm-platform:{key}",
                    value,
                )
            unprotect_ok, _, _ = _up(pulumi, cluster, f"{name}-unprotect", *config)
        destroy_ok, _, _ = _pulumi_with_volumes(pulumi, cluster, f"{name}-destroy", "destroy", *config)
        destroy_ok = destroy_ok and unprotect_ok
        left_in_stack = [r["urn"] for r in pulumi.stack_resources(name) if r["type"] != "pulumi:pulumi:Stack"]
        checks.wait_gone(cluster, before, tick=StandInVolumes(cluster).reclaim_released)
        left_in_cluster = sorted(checks.left_behind(cluster, before))
        result["destroy"] = {"ok": destroy_ok and not left_in_stack and not left_in_cluster,
                             "left": len(left_in_stack) + len(left_in_cluster),
                             "left_objects": left_in_stack + left_in_cluster}  # fmt: skip
    finally:
        if karpenter is not None:
            karpenter.__exit__()
            result["karpenter"] = karpenter.report()
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.run")
    parser.add_argument("--stacks", default="dev,prod")
    parser.add_argument("--out", default="build/e2e")
    parser.add_argument(
        "--skip-sdks", action="store_true", help="leave out the SDK generation (a quicker local run)"
    )
    args = parser.parse_args(argv)
    out = (ROOT / args.out).resolve()
    workdir = out / "work"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    report: dict[str, Any] = {
        "engine": {"pulumi": None, "kubernetes_provider": _provider_version()},
        "cluster": {"kubernetes": None},
        "stacks": {},
        "sdks": {},
        "policy_pack": {"preview_with_policy_pack": False, "violations": 0},
        "karpenter": None,
    }
    failed = False
    local_crds = _local_crds(workdir)
    if not args.skip_sdks:
        report["sdks"] = check_sdks(workdir / "sdks", Pulumi.offline(ROOT, workdir / "pulumi-sdks", {}).env)
    for name in args.stacks.split(","):
        try:
            run_stack(name, workdir, report, local_crds)
        except Exception:
            failed = True
            report["stacks"].setdefault(name, {})["error"] = traceback.format_exc()[-4000:]
            print(f"e2e: stack {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


def _provider_version() -> str | None:
    """The version scripts/toolchain.sh stamped into the provider it built."""
    return os.environ.get("LLM_PLATFORM_E2E_KUBERNETES_PROVIDER")


if __name__ == "__main__":
    raise SystemExit(main())
