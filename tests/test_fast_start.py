"""A new replica starts fast: it waits for its weights itself, shares the compile cache,
streams at the pod's pace, and the spike is noticed within a few seconds."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from components.core.sizing import STREAMER_CONCURRENCY, pod_resources, streamer_settings
from components.serving.track import WEIGHTS_MARKER
from tests.conftest import RunPulumi
from tests.graph import Graph, props
from tests.test_inference_service import build, deployment


def _pod(g: Graph, name: str = "llama") -> dict[str, Any]:
    return props(deployment(g, name))["spec"]["template"]["spec"]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container["env"]}


def test_the_deployment_does_not_wait_for_the_sync_job_in_the_graph(stack_graph: Graph) -> None:
    jobs = stack_graph.of_type("kubernetes:batch/v1:Job")
    deployments = stack_graph.of_type("kubernetes:apps/v1:Deployment")
    serving = [d for d in deployments if props(d)["spec"]["template"]["spec"].get("initContainers")]
    for d in serving:
        for job in jobs:
            assert not stack_graph.depends_on(d, job), f"{d.name} waits for {job.name}"
    # ...and every pod reading a volume a job fills waits for the job's marker itself.
    for d in deployments:
        pod = props(d)["spec"]["template"]["spec"]
        if any("persistentVolumeClaim" in v and v["name"] == "weights" for v in pod.get("volumes", [])):
            assert pod["initContainers"][0]["name"] == "wait-for-weights"


def test_a_pod_waits_for_the_marker_of_its_own_revision(run_pulumi: RunPulumi, tmp_path: Path) -> None:
    g = build(run_pulumi, canary={"weight": 10, "model": "/models/rev2", "weights_ready": "w2"})
    stable, canary = _pod(g)["initContainers"][0], _pod(g, "llama-canary")["initContainers"][0]
    assert _env(stable)["MARKER"] == f"/models/rev1/{WEIGHTS_MARKER}"
    assert _env(canary)["MARKER"] == f"/models/rev2/{WEIGHTS_MARKER}"
    assert stable["image"] == _pod(g)["containers"][0]["image"]  # nothing extra to pull

    # The command itself: blocks while the marker is missing, returns once the job wrote it.
    marker = tmp_path / "rev1" / WEIGHTS_MARKER
    marker.parent.mkdir()
    script = stable["command"]
    waiting = subprocess.Popen(script, env={"MARKER": str(marker), "PATH": "/usr/bin:/bin"})
    time.sleep(1)
    assert waiting.poll() is None
    marker.touch()
    assert waiting.wait(timeout=15) == 0


def test_a_streaming_pod_waits_for_nothing_but_its_credentials(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, claim_name=None, model_uri="s3://bucket/models/llama/rev1")
    assert "initContainers" not in _pod(g)


def test_every_replica_of_a_release_shares_one_compile_cache(run_pulumi: RunPulumi) -> None:
    g = build(
        run_pulumi,
        compile_cache={"storage_class_name": "efs-models"},
        canary={"weight": 10, "image": "vllm/vllm-openai:v0.34.0"},
    )
    claim = props(g.one("kubernetes:core/v1:PersistentVolumeClaim"))
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "efs-models"
    dirs = {}
    for name in ("llama", "llama-canary"):
        pod = _pod(g, name)
        (volume,) = [v for v in pod["volumes"] if v["name"] == "compile-cache"]
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        env = _env(pod["containers"][0])
        root = env["VLLM_CACHE_ROOT"].rsplit("/", 1)[0]
        assert env["TORCHINDUCTOR_CACHE_DIR"].startswith(root) and env["TRITON_CACHE_DIR"].startswith(root)
        dirs[name] = root
    # Another vLLM release never reads artefacts compiled by a different torch.
    assert dirs["llama"] != dirs["llama-canary"]
    assert dirs["llama"].endswith(
        props(deployment(g))["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1]
    )


def test_without_a_shared_cache_each_pod_compiles_into_its_own_volume(run_pulumi: RunPulumi) -> None:
    pod = _pod(build(run_pulumi))
    assert not any(v["name"] == "compile-cache" for v in pod["volumes"])
    assert _env(pod["containers"][0])["VLLM_CACHE_ROOT"].startswith("/cache/")


def test_the_streamer_reads_in_proportion_to_the_pod_and_fits_its_memory() -> None:
    small = pod_resources(1, 1, 4, 32)  # g6e.xlarge
    big = pod_resources(4, 8, 192, 2048)  # half a p5.48xlarge
    (c_small, m_small), (c_big, m_big) = streamer_settings(small), streamer_settings(big)
    assert STREAMER_CONCURRENCY[0] <= c_small < c_big <= STREAMER_CONCURRENCY[1]
    for r, m in ((small, m_small), (big, m_big)):
        # The buffer, the engine's own 8 GiB and /dev/shm fit inside the container's limit.
        assert m + (8 * 1024 + r.shm_mib) * 1024 * 1024 <= r.memory_mib * 1024 * 1024


def test_streaming_models_get_the_loader_settings_of_their_pod(stack_graph: Graph) -> None:
    for d in stack_graph.of_type("kubernetes:apps/v1:Deployment"):
        container = props(d)["spec"]["template"]["spec"]["containers"][0]
        args = container.get("args") or []
        if "runai_streamer" in args:
            extra = json.loads(args[args.index("--model-loader-extra-config") + 1])
            assert set(extra) == {"concurrency", "memory_limit"}
            limit_mib = int(container["resources"]["limits"]["memory"].removesuffix("Mi"))
            assert extra["memory_limit"] < limit_mib * 1024 * 1024


def test_detection_follows_the_serving_scrape_interval(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, scrape_interval_seconds=5, keda_polling_seconds=5, monitoring_release="m")
    scaler = props(g.one("ScaledObject"))
    assert scaler["spec"]["pollingInterval"] == 5
    monitor = props(g.one("PodMonitor"))
    assert {e["interval"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"5s"}
