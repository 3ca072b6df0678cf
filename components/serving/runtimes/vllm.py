"""vLLM's OpenAI server in the serving container: its command line, API key, caches and probes."""

from __future__ import annotations

from typing import Any

import pulumi

from components import _k8s
from components.core import labels, metrics
from components.core.vllm import API_KEY_ENV, PUBLIC_PATH_PREFIXES, serve_args
from components.serving.runtimes.base import (
    CACHE,
    PodParts,
    ServerContainer,
    Track,
    server_env,
    startup_probe,
)
from components.versions import VLLM_IMAGE

# Proves the model serves: /v1/models answers only once the engine is up, and needs the key.
READY_COMMAND = [
    "python3",
    "-c",
    "import os, urllib.request as r; r.urlopen(r.Request('http://127.0.0.1:8000/v1/models', "
    f"headers={{'Authorization': 'Bearer ' + os.environ['{API_KEY_ENV}']}}), timeout=4)",
]


class VllmRuntime:
    name: str = "vllm"
    default_image: str = VLLM_IMAGE
    service_port: int = labels.VLLM_PORT
    health_path: str = "/health"
    public_path_prefixes: tuple[str, ...] = PUBLIC_PATH_PREFIXES
    metrics_port: str = "http"
    metrics_path: str = "/metrics"
    job: str = metrics.VLLM_JOB
    checkov_skips: tuple[tuple[str, str], ...] = (
        _k8s.PINNED_TAG,
        _k8s.PULL_IF_NOT_PRESENT,
        ("CKV_K8S_35", "vLLM takes its API key only from VLLM_API_KEY, not from a file"),
    )

    def pod(self, track: Track) -> PodParts:
        serve, args = track.serve, track.args
        container_args = pulumi.Output.from_input(track.model).apply(lambda uri: serve_args(uri, serve))
        compiled = track.compile_cache_dir() or CACHE
        env: list[dict[str, Any]] = [
            {
                "name": API_KEY_ENV,
                "valueFrom": {"secretKeyRef": {"name": track.key_secret.metadata["name"], "key": "key"}},
            },
            *server_env("vllm", compiled),
        ]
        if "aws_region" in args:
            env.append({"name": "AWS_REGION", "value": args["aws_region"]})
            env.append({"name": "AWS_DEFAULT_REGION", "value": args["aws_region"]})  # boto3 (S3 streamer)
        return PodParts(
            ServerContainer(
                name="vllm",
                args=container_args,
                ports=[{"name": "http", "containerPort": labels.VLLM_PORT, "protocol": "TCP"}],
                env=env,
                startup_probe=startup_probe("/health", args["startup_seconds"]),
                readiness_probe={
                    "exec": {"command": READY_COMMAND},
                    "periodSeconds": 10,
                    "timeoutSeconds": 5,
                    "failureThreshold": 3,
                },
                # Runs only after the startup probe passed: it cannot kill a loading pod.
                liveness_probe={
                    "httpGet": {"path": "/health", "port": "http"},
                    "periodSeconds": 15,
                    "timeoutSeconds": 5,
                    "failureThreshold": 4,
                },
            )
        )

    def waiting_requests(self, namespace: str, served_model: str, deployment: str) -> str:
        return metrics.waiting_requests(namespace, served_model, deployment)
