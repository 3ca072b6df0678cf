"""Triton Inference Server with its vLLM backend in the serving pod.

The pod holds Triton (on loopback only), an authenticating proxy in front of it (Triton has no
API key of its own), and the model repository: a ConfigMap per model revision, laid out as
<model>/config.pbtxt and <model>/1/model.json, so a new revision never overwrites the one the
running pods serve. Callers authenticate exactly as with vLLM: `Authorization: Bearer <key>`,
checked by the proxy against the model's key; only Triton's two health paths answer without it.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels, metrics, triton
from components.core.security_context import hardened_container
from components.serving.runtimes.base import (
    PRE_STOP_SECONDS,
    PodParts,
    ServerContainer,
    Track,
    server_env,
    startup_probe,
)
from components.versions import AUTH_PROXY_IMAGE, TRITON_IMAGE

PROXY_CPU_MILLICORES = 250
PROXY_MEMORY_MIB = 128
"""The proxy's share of the replica's CPU and memory: taken from Triton's, so the pod asks
for what sizing, the tenant's quota and the pool's capacity already counted."""
PROXY_CONF_DIR = "/etc/auth-proxy"


def _exec_get(path: str) -> dict[str, Any]:
    """Asks Triton itself on loopback (its HTTP port is not on the pod address): a probe that
    only the proxy could answer would restart a healthy Triton, reloading the model, whenever
    the proxy had a problem."""
    url = f"http://127.0.0.1:{triton.TRITON_HTTP_PORT}{path}"
    return {
        "exec": {"command": ["python3", "-c", f"import urllib.request as r; r.urlopen('{url}', timeout=4)"]}
    }


class TritonRuntime:
    name: str = "triton"
    default_image: str = TRITON_IMAGE
    service_port: int = triton.SERVING_PORT
    health_path: str = triton.HEALTH_READY
    public_path_prefixes: tuple[str, ...] = triton.PUBLIC_PATH_PREFIXES
    metrics_port: str = "metrics"
    metrics_path: str = "/metrics"
    job: str = metrics.TRITON_JOB
    checkov_skips: tuple[tuple[str, str], ...] = (
        _k8s.PINNED_TAG,
        _k8s.PULL_IF_NOT_PRESENT,
    )

    def pod(self, track: Track) -> PodParts:
        serve, args = track.serve, track.args
        served = serve.served_model_name
        namespace = args["namespace"]
        files = pulumi.Output.from_input(track.model).apply(
            lambda uri: triton.repository_files(served, uri, serve)
        )
        repository = k8s.core.v1.ConfigMap(
            f"{track.name}-repository",
            metadata=files.apply(
                lambda f: _k8s.meta(
                    f"{track.name}-repository-{triton.content_suffix(f)}",
                    namespace,
                    labels.standard(served, labels.INFERENCE),
                )
            ),
            # Immutable and named by its content: another revision is another ConfigMap, created
            # before the rollout and deleted only after it, so serving pods never see a change.
            immutable=True,
            data=files,
            opts=pulumi.ResourceOptions(parent=track.parent),
        )
        proxy_conf = k8s.core.v1.Secret(
            f"{track.name}-auth-proxy",
            metadata=_k8s.meta(
                f"{track.name}-auth-proxy", namespace, labels.standard(served, labels.INFERENCE)
            ),
            string_data={
                "nginx.conf": pulumi.Output.secret(args["api_key"]).apply(triton.proxy_conf),
            },
            opts=pulumi.ResourceOptions(parent=track.parent),
        )
        env: list[dict[str, Any]] = [
            *server_env("triton"),
        ]
        if "aws_region" in args:
            env.append({"name": "AWS_REGION", "value": args["aws_region"]})
            env.append({"name": "AWS_DEFAULT_REGION", "value": args["aws_region"]})  # boto3
        probe = {"periodSeconds": 10, "timeoutSeconds": 5}
        startup = startup_probe(triton.HEALTH_READY, args["startup_seconds"], _exec_get(triton.HEALTH_READY))
        server = ServerContainer(
            name="triton",
            args=triton.server_args(serve.shutdown_timeout_seconds),
            ports=[{"name": "metrics", "containerPort": triton.METRICS_PORT, "protocol": "TCP"}],
            env=env,
            startup_probe=startup,
            readiness_probe={**_exec_get(triton.HEALTH_READY), **probe, "failureThreshold": 3},
            # Runs only after the startup probe passed: it cannot kill a loading pod.
            liveness_probe={
                **_exec_get(triton.HEALTH_LIVE),
                **probe,
                "periodSeconds": 15,
                "failureThreshold": 4,
            },
            mounts=[{"name": "repository", "mountPath": triton.REPOSITORY, "readOnly": True}],
        )
        limits = {"cpu": f"{PROXY_CPU_MILLICORES}m", "memory": f"{PROXY_MEMORY_MIB}Mi"}
        proxy = {
            "name": "auth-proxy",
            "image": AUTH_PROXY_IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "args": ["nginx", "-c", f"{PROXY_CONF_DIR}/nginx.conf"],
            "ports": [{"name": "http", "containerPort": triton.SERVING_PORT, "protocol": "TCP"}],
            "resources": {"requests": limits, "limits": limits},
            "securityContext": hardened_container(),
            # Ready when a request through it reaches a ready Triton: what the Service needs.
            "readinessProbe": {
                "httpGet": {"path": triton.HEALTH_READY, "port": "http"},
                **probe,
                "failureThreshold": 3,
            },
            "livenessProbe": {
                "tcpSocket": {"port": "http"},
                **probe,
                "periodSeconds": 15,
                "failureThreshold": 4,
            },
            # The image stops nginx with SIGQUIT (graceful); it must outlive Triton's own drain,
            # so streams in flight through it finish before it goes.
            "lifecycle": {
                "preStop": {"sleep": {"seconds": PRE_STOP_SECONDS + serve.shutdown_timeout_seconds}}
            },
            "volumeMounts": [
                {"name": "auth-proxy", "mountPath": PROXY_CONF_DIR, "readOnly": True},
                {"name": "proxy-tmp", "mountPath": "/tmp"},
            ],
        }
        served_items = triton.repository_layout(served)
        return PodParts(
            server,
            sidecars=[proxy],
            volumes=[
                {
                    "name": "repository",
                    "configMap": {"name": repository.metadata["name"], "items": served_items},
                },
                {"name": "auth-proxy", "secret": {"secretName": proxy_conf.metadata["name"]}},
                {"name": "proxy-tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            ],
            sidecar_cpu_millicores=PROXY_CPU_MILLICORES,
            sidecar_memory_mib=PROXY_MEMORY_MIB,
        )

    def waiting_requests(self, namespace: str, served_model: str, deployment: str) -> str:
        return metrics.triton_pending_requests(namespace, served_model, deployment)
