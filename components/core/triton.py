"""Triton Inference Server with its vLLM backend: the model repository, the server's command
line and the authenticating proxy in front of it, from the same typed settings as vLLM's.

Facts: ../shared/upstream/triton/ (vllm-backend.md: repository layout, config.pbtxt and
model.json; http-paths.txt; metrics.tsv), checked by tests/test_triton.py.
"""

from __future__ import annotations

import hashlib
import json

from components.core.labels import VLLM_PORT
from components.core.vllm import ServeSettings

SERVING_PORT = VLLM_PORT
"""The port clients, the ALB and probes reach: the authenticating proxy's, as vLLM's is."""
TRITON_HTTP_PORT = 8080
"""Triton's own HTTP API, bound to 127.0.0.1: nothing outside the pod reaches it but through
the proxy, which asks for the key. (Triton's default 8000 is the proxy's.)"""
METRICS_PORT = 8002
"""Triton's metrics port (its default): Prometheus scrapes it directly; it serves /metrics only."""
REPOSITORY = "/repository"
"""Where the model repository (one model, config.pbtxt and version 1/model.json) is mounted."""
MODEL_VERSION = "1"

HEALTH_LIVE = "/v2/health/live"
HEALTH_READY = "/v2/health/ready"
"""With --strict-readiness (the default, set explicitly), ready only once every model loaded."""
PUBLIC_PATH_PREFIXES = ("/v2/models",)
"""What the gateway publishes: inference on the model (/v2/models/<name>/generate, /infer,
/generate_stream ...). Server metadata (/v2), the repository API and /metrics stay inside."""

ENGINE_ARGS_0_24 = frozenset(
    {
        "model",
        "tensor_parallel_size",
        "dtype",
        "max_model_len",
        "gpu_memory_utilization",
        "max_num_seqs",
        "enable_prefix_caching",
        "quantization",
        "disable_log_stats",
    }
)
"""The engine arguments the Triton model.json may use. The Triton 26.07 image bundles vLLM
0.24.0, not the 0.33.0 whose flags are pinned under ../shared/upstream/vllm; every key here has
been an EngineArgs field since vLLM 0.4 (2024) and is still one in 0.33 (a test checks the
latter), so the older engine has them all. Left out on purpose: load_format (the Run:ai S3
streamer is not known to be in NVIDIA's vLLM build, so Triton models read weights from the
volume), otlp_traces_endpoint (Triton traces requests itself), the API key (Triton has none)."""


def model_json(model: str, s: ServeSettings) -> dict[str, object]:
    """The vLLM engine arguments of the backend's model.json (AsyncEngineArgs field names)."""
    args: dict[str, object] = {
        "model": model,
        "tensor_parallel_size": s.tensor_parallel_size,
        "dtype": s.dtype,
        "max_model_len": s.max_model_len,
        "gpu_memory_utilization": s.gpu_memory_utilization,
        "max_num_seqs": s.max_num_seqs,
        "enable_prefix_caching": s.prefix_caching,
        # The backend exports vLLM's token and latency metrics only when stats are logged.
        "disable_log_stats": False,
    }
    if s.quantization:
        args["quantization"] = s.quantization
    return args


def config_pbtxt(model_name: str) -> str:
    """The model's config.pbtxt: the vLLM backend, decoupled (it streams), one KIND_MODEL
    instance (vLLM places the model on the GPUs itself; KIND_GPU refuses tensor parallel > 1),
    and the backend's vLLM metrics exported through Triton's metrics endpoint."""
    return (
        f'name: "{model_name}"\n'
        'backend: "vllm"\n'
        "max_batch_size: 0\n"
        "model_transaction_policy { decoupled: true }\n"
        "instance_group [ { count: 1, kind: KIND_MODEL } ]\n"
        'parameters: { key: "REPORT_CUSTOM_METRICS" value: { string_value: "true" } }\n'
    )


def repository_files(model_name: str, model: str, s: ServeSettings) -> dict[str, str]:
    """ConfigMap key -> content of one model revision's repository."""
    return {
        "config.pbtxt": config_pbtxt(model_name),
        "model.json": json.dumps(model_json(model, s), indent=2, sort_keys=True) + "\n",
    }


def repository_layout(model_name: str) -> list[dict[str, str]]:
    """Volume items laying the ConfigMap out as Triton's repository: <model>/config.pbtxt and
    <model>/<version>/model.json."""
    return [
        {"key": "config.pbtxt", "path": f"{model_name}/config.pbtxt"},
        {"key": "model.json", "path": f"{model_name}/{MODEL_VERSION}/model.json"},
    ]


def content_suffix(files: dict[str, str]) -> str:
    """Ten hex digits of the files' hash: the repository ConfigMap of another revision (or other
    settings) gets another name, so the one the running pods mount is never overwritten."""
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return digest[:10]


def server_args(shutdown_timeout_seconds: int) -> list[str]:
    """`tritonserver` and its flags (the image's entrypoint execs them: SIGTERM reaches Triton)."""
    return [
        "tritonserver",
        f"--model-repository={REPOSITORY}",
        # Mode none (the default, said explicitly): the repository's one model loads at start
        # and the repository API cannot load or unload models, even for key holders.
        "--model-control-mode=none",
        # Loopback only: the proxy beside it is the one way in, and it asks for the key.
        "--http-address=127.0.0.1",
        f"--http-port={TRITON_HTTP_PORT}",
        "--allow-grpc=false",
        "--allow-metrics=true",
        f"--metrics-port={METRICS_PORT}",
        "--strict-readiness=true",
        # In-flight requests get this long after SIGTERM (Triton's default is 30 s).
        f"--exit-timeout-secs={shutdown_timeout_seconds}",
    ]


TOKEN68 = r"[A-Za-z0-9._~+/-]+=*"
"""RFC 6750's b64token: what a bearer token may be, and all the proxy's config may quote."""


UNQUOTABLE = frozenset("\"\\$;{}# \t\n\r'")
"""Characters that would end or rewrite the quoted string in nginx.conf."""


def proxy_conf(api_key: str) -> str:
    """nginx.conf of the proxy: the key (a bearer token) for everything but Triton's two health
    paths, which kubelet and the ALB ask without one and which say nothing about the model."""
    if any(c in api_key for c in UNQUOTABLE) or not api_key.isprintable():
        # Config validation refuses such keys (TOKEN68); this keeps one from rewriting the config.
        raise ValueError("the API key of a Triton model must be a bearer token (RFC 6750 b64token)")
    return f"""worker_processes 1;
daemon off;
pid /tmp/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  server_tokens off;
  client_max_body_size 64m;
  server {{
    listen {SERVING_PORT};
    location = {HEALTH_LIVE} {{ proxy_pass http://127.0.0.1:{TRITON_HTTP_PORT}; }}
    location = {HEALTH_READY} {{ proxy_pass http://127.0.0.1:{TRITON_HTTP_PORT}; }}
    location / {{
      # A byte-for-byte comparison (an nginx map would ignore case).
      if ($http_authorization != "Bearer {api_key}") {{ return 401; }}
      proxy_set_header Authorization "";
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 600s;
      proxy_pass http://127.0.0.1:{TRITON_HTTP_PORT};
    }}
  }}
}}
"""
