"""Triton Inference Server as a serving runtime: the pinned facts, the model repository, the
pod (proxy, probes, shutdown), the scaler and monitor, the config checks and the alert rules."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import versions
from components.core import metrics, triton
from components.core.alerts import Thresholds
from components.core.sizing import pod_resources
from components.core.triton_alerts import GROUP, rule_group, triton_rules
from components.core.vllm import ServeSettings
from components.inference_service import PRE_STOP_SECONDS, SHUTDOWN_TIMEOUT_SECONDS
from tests.conftest import RunPulumi
from tests.graph import Graph, props
from tests.test_alerts import promtool
from tests.test_config import dev, problems
from tests.test_inference_service import build
from tests.upstream import upstream_dir

BACKEND = upstream_dir() / "triton" / "vllm-backend.md"


# --- pinned facts -----------------------------------------------------------------------------


def test_the_image_is_the_release_that_ships_the_vllm_backend_and_its_vllm_is_recorded() -> None:
    wanted = f"| {versions.TRITON_RELEASE} | {versions.TRITON_IMAGE} |"
    rows = [line for line in BACKEND.read_text().splitlines() if wanted in line]
    assert len(rows) == 1, f"{versions.TRITON_IMAGE} is not in the vllm-python-py3 table of vllm-backend.md"
    row = rows[0]
    bundled = row.split("|")[4].strip()
    assert bundled.startswith(f"{versions.TRITON_BUNDLED_VLLM_VERSION}+"), bundled
    assert f'"release_version": "{versions.TRITON_SERVER_VERSION}"' in BACKEND.read_text()


def _serve_flags() -> set[str]:
    lines = (upstream_dir() / "vllm" / "serve-flags.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.startswith("--")}


def test_model_json_uses_only_engine_arguments_the_bundled_vllm_has() -> None:
    settings = ServeSettings(
        "qwen", 2, quantization="fp8", load_format="runai_streamer", otlp_traces_endpoint="x"
    )
    args = triton.model_json("/models/rev", settings)
    assert set(args) <= triton.ENGINE_ARGS_0_24
    # what the older engine may lack is never passed, even when the settings carry it
    assert "load_format" not in args and "otlp_traces_endpoint" not in args
    # every key names a real engine argument (the dest of a `vllm serve` flag of the pinned 0.33)
    flags = _serve_flags()
    for key in triton.ENGINE_ARGS_0_24 - {"model"}:
        assert f"--{key.replace('_', '-')}" in flags, key
    assert args["quantization"] == "fp8" and args["tensor_parallel_size"] == 2


def test_the_repository_turns_on_the_backends_vllm_metrics_and_allows_tensor_parallel() -> None:
    files = triton.repository_files("qwen", "/models/rev", ServeSettings("qwen", 4))
    config = files["config.pbtxt"]
    assert 'backend: "vllm"' in config and 'name: "qwen"' in config
    # KIND_GPU refuses tensor_parallel_size > 1 (vllm-backend.md); KIND_MODEL leaves GPUs to vLLM
    assert "kind: KIND_MODEL" in config and "KIND_GPU" not in config
    assert "decoupled: true" in config
    assert re.search(r'key: "REPORT_CUSTOM_METRICS" value: \{ string_value: "true" \}', config)
    engine = json.loads(files["model.json"])
    assert engine["disable_log_stats"] is False  # else the backend exports no vllm:* metrics
    assert engine["model"] == "/models/rev"
    assert [i["path"] for i in triton.repository_layout("qwen")] == ["qwen/config.pbtxt", "qwen/1/model.json"]


def _paths() -> set[str]:
    lines = (upstream_dir() / "triton" / "http-paths.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_probes_and_health_checks_use_tritons_own_paths() -> None:
    assert {triton.HEALTH_LIVE, triton.HEALTH_READY} <= _paths()
    open_paths = {triton.HEALTH_LIVE, triton.HEALTH_READY}  # what the proxy lets through without the key
    for path in _paths():
        if path.startswith(triton.PUBLIC_PATH_PREFIXES):  # published: the key guards it
            assert path not in open_paths, path
    # server health and metrics are never published
    for path in ("/v2/health/live", "/v2/health/ready", "/metrics", "/v2", "/v2/repository/index"):
        assert not path.startswith(tuple(p + "/" for p in triton.PUBLIC_PATH_PREFIXES)), path
        assert path not in triton.PUBLIC_PATH_PREFIXES


def test_the_server_listens_on_loopback_only_and_drains_on_shutdown() -> None:
    args = triton.server_args(SHUTDOWN_TIMEOUT_SECONDS)
    assert args[0] == "tritonserver"
    assert "--http-address=127.0.0.1" in args
    assert f"--http-port={triton.TRITON_HTTP_PORT}" in args and triton.TRITON_HTTP_PORT != triton.SERVING_PORT
    assert "--allow-grpc=false" in args  # gRPC would be a second, unauthenticated way in
    assert "--model-control-mode=none" in args  # no loading or unloading through the API
    assert f"--exit-timeout-secs={SHUTDOWN_TIMEOUT_SECONDS}" in args


def _locations(conf: str) -> dict[str, str]:
    """location -> its body, up to the next location."""
    parts = re.split(r"\n\s*location (= \S+|/) \{", conf)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_proxy_asks_for_the_key_everywhere_but_the_two_health_paths() -> None:
    conf = triton.proxy_conf("k-0123456789abcdef")
    locations = _locations(conf)
    assert set(locations) == {f"= {triton.HEALTH_LIVE}", f"= {triton.HEALTH_READY}", "/"}
    catch_all = locations["/"]
    assert 'if ($http_authorization != "Bearer k-0123456789abcdef") { return 401; }' in catch_all
    assert catch_all.index("return 401") < catch_all.index("proxy_pass")
    assert f"listen {triton.SERVING_PORT};" in conf
    assert f"proxy_pass http://127.0.0.1:{triton.TRITON_HTTP_PORT};" in catch_all
    assert "proxy_buffering off;" in catch_all  # generate_stream streams


@pytest.mark.parametrize("key", ['a"; return 200; #', "a b", "a$b", "a}b", "a\nb"])
def test_a_key_that_would_rewrite_the_proxy_config_is_refused(key: str) -> None:
    with pytest.raises(ValueError):
        triton.proxy_conf(key)


# --- the component ----------------------------------------------------------------------------


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build(run_pulumi, runtime="triton", image=versions.TRITON_IMAGE, aws_region="us-east-1")


def _spec(g: Graph, name: str = "llama") -> Any:
    deployment = next(d for d in g.of_type("apps/v1:Deployment") if d.name == name)
    return props(deployment)["spec"]["template"]["spec"]


def _repositories(g: Graph) -> dict[str, Any]:
    return {
        props(c)["metadata"]["name"]: props(c)
        for c in g.of_type("core/v1:ConfigMap")
        if props(c)["metadata"]["name"].startswith("llama")
    }


def test_only_the_proxy_is_reachable_and_the_route_publishes_inference_only(graph: Graph) -> None:
    pod = _spec(graph)
    server, proxy = pod["containers"]
    assert (server["name"], proxy["name"]) == ("triton", "auth-proxy")
    assert server["image"] == versions.TRITON_IMAGE and proxy["image"] == versions.AUTH_PROXY_IMAGE
    assert [p["name"] for p in server["ports"]] == ["metrics"]
    assert proxy["ports"] == [{"name": "http", "containerPort": triton.SERVING_PORT, "protocol": "TCP"}]
    service = props(graph.one("core/v1:Service"))["spec"]
    assert service["ports"][0]["targetPort"] == "http"
    route = props(graph.one("gateway.networking.k8s.io/v1:HTTPRoute"))["spec"]["rules"][0]
    assert [m["path"]["value"] for m in route["matches"]] == ["/v2/models"]
    assert {b["port"] for b in route["backendRefs"]} == {triton.SERVING_PORT}
    group = props(graph.one("gateway.k8s.aws/v1:TargetGroupConfiguration"))["spec"]
    assert group["defaultConfiguration"]["healthCheckConfig"]["healthCheckPath"] == triton.HEALTH_READY


def test_every_container_is_hardened_and_the_pod_asks_for_what_sizing_counted(graph: Graph) -> None:
    pod = _spec(graph)
    expected = pod_resources(2, 4, 48, 384)
    cpu = sum(int(c["resources"]["limits"]["cpu"].removesuffix("m")) for c in pod["containers"])
    memory = sum(int(c["resources"]["limits"]["memory"].removesuffix("Mi")) for c in pod["containers"])
    assert (cpu, memory) == (expected.cpu_millicores, expected.memory_mib)
    for c in pod["containers"]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], c["name"]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]
        assert c["resources"]["requests"] == c["resources"]["limits"], c["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    server = pod["containers"][0]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "2"
    writable = {m["mountPath"] for m in server["volumeMounts"] if not m.get("readOnly")}
    assert {"/cache", "/tmp", "/dev/shm"} <= writable
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert all(
        env[k].startswith("/cache/") for k in ("HOME", "HF_HOME", "VLLM_CACHE_ROOT", "TRITON_CACHE_DIR")
    )


def test_probes_ask_triton_itself_and_give_it_the_models_load_time(graph: Graph) -> None:
    server, proxy = _spec(graph)["containers"]
    startup = server["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 900
    assert f"127.0.0.1:{triton.TRITON_HTTP_PORT}{triton.HEALTH_READY}" in " ".join(startup["exec"]["command"])
    assert triton.HEALTH_LIVE in " ".join(server["livenessProbe"]["exec"]["command"])
    assert triton.HEALTH_READY in " ".join(server["readinessProbe"]["exec"]["command"])
    assert proxy["readinessProbe"]["httpGet"] == {"path": triton.HEALTH_READY, "port": "http"}


def test_shutdown_lets_triton_drain_before_the_proxy_goes(graph: Graph) -> None:
    pod = _spec(graph)
    server, proxy = pod["containers"]
    assert server["lifecycle"]["preStop"]["sleep"]["seconds"] == PRE_STOP_SECONDS
    proxy_stop = proxy["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert proxy_stop >= PRE_STOP_SECONDS + SHUTDOWN_TIMEOUT_SECONDS
    assert pod["terminationGracePeriodSeconds"] > proxy_stop


def test_the_repository_is_one_immutable_configmap_per_revision(run_pulumi: RunPulumi, graph: Graph) -> None:
    (name, repo) = next(iter(_repositories(graph).items()))
    assert repo["immutable"] is True
    assert json.loads(repo["data"]["model.json"])["model"] == "/models/rev1"
    volume = next(v for v in _spec(graph)["volumes"] if v["name"] == "repository")
    assert volume["configMap"]["name"] == name
    server = _spec(graph)["containers"][0]
    assert {"name": "repository", "mountPath": triton.REPOSITORY, "readOnly": True} in server["volumeMounts"]

    # a new revision is a new ConfigMap: the one the running pods mount is never rewritten
    moved = build(run_pulumi, runtime="triton", model_uri="/models/rev2")
    assert name not in _repositories(moved)
    # a canary on another revision serves from its own repository beside the stable one
    canary = build(
        run_pulumi,
        runtime="triton",
        canary={"weight": 10, "model": "/models/rev2", "weights_ready": "llama-sync-rev2"},
    )
    repos = _repositories(canary)
    assert name in repos and len(repos) == 2
    models = sorted(json.loads(r["data"]["model.json"])["model"] for r in repos.values())
    assert models == ["/models/rev1", "/models/rev2"]


def test_the_scaler_reads_tritons_queue_and_prometheus_its_metrics_port(graph: Graph) -> None:
    trigger = props(graph.one("keda.sh/v1alpha1:ScaledObject"))["spec"]["triggers"][0]
    assert trigger["metadata"]["query"] == metrics.triton_pending_requests("team-a", "llama", "llama")
    assert trigger["metadata"]["query"].startswith(f"sum({metrics.TRITON_PENDING.name}{{")


def test_pod_monitor_scrapes_the_metrics_port_as_job_triton(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, runtime="triton", monitoring_release="kps")
    endpoint = props(g.one("monitoring.coreos.com/v1:PodMonitor"))["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == "metrics"
    assert {"action": "replace", "targetLabel": "job", "replacement": metrics.TRITON_JOB} in endpoint[
        "relabelings"
    ]


# --- config -----------------------------------------------------------------------------------


def test_triton_refuses_what_its_backend_cannot_do() -> None:
    found = problems(
        dev(
            {
                "models.qwen-7b-triton.weights": "s3Stream",
                "models.qwen-7b-triton.source": {"s3": {"revision": "v1"}},
            }
        )
    )
    assert any(p.startswith("error: models.qwen-7b-triton.weights: s3Stream needs") for p in found), found
    found = problems(dev({"models.qwen-7b-triton.canary": {"weight": 10, "imageTag": "v0.33.1"}}))
    assert any(p.startswith("error: models.qwen-7b-triton.canary.imageTag:") for p in found), found


def test_a_key_the_proxy_cannot_hold_is_refused_at_plan_time() -> None:
    found = problems(dev({"models.qwen-7b-triton.apiKey": 'bad key"'}))
    assert any(p.startswith("error: models.qwen-7b-triton.apiKey: must be a bearer token") for p in found), (
        found
    )
    found = problems(
        dev({"models.qwen-7b-triton.apiKey": "0123456789abcdef", "models.qwen-7b-triton.maxReplicas": 0})
    )
    assert not any("apiKey: must be a bearer token" in p for p in found), found


# --- alert rules under promtool -----------------------------------------------------------------

T = Thresholds()
TRITON = 'job="triton",namespace="team-a",model="qwen"'
POD = f'{TRITON},pod="qwen-7d9c-x2x9z"'
MODEL = {"namespace": "team-a", "model": "qwen"}


def _bucket(slow: bool) -> list[dict[str, str]]:
    bucket = f'vllm:e2e_request_latency_seconds_bucket{{{POD},version="1",le='
    return [
        {"series": bucket + '"1"}', "values": "0+0x30" if slow else "0+10x30"},
        {"series": bucket + '"100"}', "values": "0+0x30" if slow else "0+10x30"},
        {"series": bucket + '"1000"}', "values": "0+10x30"},
        {"series": bucket + '"+Inf"}', "values": "0+10x30"},
    ]


CASES: dict[str, tuple[tuple[list[dict[str, str]], str, dict[str, str]], ...]] = {
    "TritonNoHealthyReplica": (
        ([{"series": f"up{{{POD}}}", "values": "0x20"}], "10m", MODEL),
        ([{"series": f"up{{{POD}}}", "values": "1x20"}], "10m", MODEL),
    ),
    "TritonHighFailureRate": (
        (
            [
                {"series": f'nv_inference_request_failure{{{POD},version="1",reason="BACKEND"}}', "values": "0+10x20"},
                {"series": f'nv_inference_request_success{{{POD},version="1"}}', "values": "0+90x20"},
            ],
            "10m",
            MODEL,
        ),
        (
            [
                {"series": f'nv_inference_request_failure{{{POD},version="1",reason="BACKEND"}}', "values": "0+1x20"},
                {"series": f'nv_inference_request_success{{{POD},version="1"}}', "values": "0+99x20"},
            ],
            "10m",
            MODEL,
        ),
    ),
    "TritonQueueBacklog": (
        ([{"series": f'nv_inference_pending_request_count{{{POD},version="1"}}', "values": f"{T.queue_depth + 5}x20"}], "10m", {**MODEL, "pod": "qwen-7d9c-x2x9z"}),
        ([{"series": f'nv_inference_pending_request_count{{{POD},version="1"}}', "values": f"{T.queue_depth - 5}x20"}], "10m", {**MODEL, "pod": "qwen-7d9c-x2x9z"}),
    ),
    "TritonHighP99Latency": ((_bucket(True), "20m", MODEL), (_bucket(False), "20m", MODEL)),
}  # fmt: skip


def test_every_triton_rule_has_cases_and_uses_contract_metrics() -> None:
    assert sorted(CASES) == sorted(r.alert for r in triton_rules(T))
    contract = {m.name for m in metrics.CONTRACT}
    for rule in triton_rules(T):
        names = {re.sub(r"_bucket$", "", n) for n in re.findall(r"([a-zA-Z0-9_:]+)\{", rule.expr)}
        assert names <= contract, (rule.alert, names - contract)


def test_triton_rules_fire_and_stay_quiet_under_promtool(tmp_path: Path) -> None:
    group = rule_group(T)
    assert group["name"] == GROUP
    for rule in group["rules"]:
        rule.pop("annotations")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    severities = {r.alert: r.severity for r in triton_rules(T)}
    tests = []
    for alert, (fires, quiet) in CASES.items():
        for (series, at, _), expected in (
            (fires, [{"exp_labels": {**fires[2], "severity": severities[alert]}}]),
            (quiet, []),
        ):
            tests.append(
                {
                    "interval": "1m",
                    "input_series": series,
                    "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": expected}],
                }
            )
    spec = tmp_path / "tests.yaml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests}))
    result = subprocess.run([promtool(), "test", "rules", str(spec)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
