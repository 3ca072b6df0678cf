"""The vLLM OpenAI server's command line, from typed settings.

Every flag used here is checked against the pinned release's parser
(../shared/upstream/vllm/serve-flags.txt) by tests/test_vllm.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from components.core.labels import VLLM_PORT

API_KEY_ENV = "VLLM_API_KEY"
"""The key reaches vLLM through this variable only (from a Secret): vLLM 0.33 reads it when
`--api-key` is absent (vllm/entrypoints/serve/middleware/register.py: `args.api_key or
[envs.VLLM_API_KEY]`). Never `--api-key $(VLLM_API_KEY)`: Kubernetes expands that into the
command line, which /proc/<pid>/cmdline and `ps` show to anyone on the node or in the pod."""

GUARDED_PREFIXES = ("/v1", "/v2", "/inference", "/cohere")
"""The only path prefixes vLLM 0.33's `--api-key` / VLLM_API_KEY check covers
(vllm/entrypoints/serve/middleware/authenticate.py, GUARDED_PREFIX, a plain str.startswith).
Everything else it serves answers without a key: /invocations (a full chat or completion),
/tokenize, /detokenize, /generative_scoring, /scale_elastic_ep, /load, /metrics, /docs..."""

PUBLIC_PATH_PREFIXES = ("/v1", "/v2")
"""What the gateway publishes: the guarded prefixes this program's servers answer under
(http-paths.tsv of the pinned release: /v1/... for generate models, /v2/embed and /v2/rerank
for pooling ones). /inference only answers 403 stubs without --enable-scale-out and /cohere
needs VLLM_ENABLE_COHERE_API, neither of which is set, so they stay unpublished."""

SERVE_ENV = {
    # No usage report to stats.vllm.ai: serving pods have no internet route, and the report
    # would describe the hardware and model of every replica.
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
}
"""Environment every vLLM server gets besides the key and the cache paths."""


@dataclass(frozen=True)
class ServeSettings:
    served_model_name: str
    tensor_parallel_size: int
    dtype: str = "bfloat16"
    quantization: str | None = None
    max_model_len: int = 8192
    gpu_memory_utilization: float = 0.9
    max_num_seqs: int = 128
    prefix_caching: bool = True
    load_format: str | None = None
    shutdown_timeout_seconds: int = 120
    otlp_traces_endpoint: str | None = None
    streamer_concurrency: int | None = None
    """Parallel reads of the Run:ai streamer (runai_streamer only)."""
    streamer_memory_limit_bytes: int | None = None
    """The streamer's CPU buffer (runai_streamer only)."""
    log_requests: bool = False
    """Log each request's prompt and each response (the tenant's audit of bodies, opt-in)."""


def serve_args(model: str, s: ServeSettings) -> list[str]:
    """Arguments after `vllm serve` (the image's entrypoint) for `model` (a path on the
    model volume, or an s3:// URI); exec form, no shell, so SIGTERM reaches vLLM itself."""
    args = [
        model,
        "--served-model-name", s.served_model_name,
        "--host", "0.0.0.0",
        "--port", str(VLLM_PORT),
        "--tensor-parallel-size", str(s.tensor_parallel_size),
        "--dtype", s.dtype,
        "--max-model-len", str(s.max_model_len),
        "--gpu-memory-utilization", str(s.gpu_memory_utilization),
        "--max-num-seqs", str(s.max_num_seqs),
        "--enable-prefix-caching" if s.prefix_caching else "--no-enable-prefix-caching",
        "--shutdown-timeout", str(s.shutdown_timeout_seconds),
        # /docs, /redoc and /openapi.json would answer anyone: vLLM's key does not guard them.
        "--disable-fastapi-docs",
        # No --api-key: the key comes from VLLM_API_KEY (see API_KEY_ENV).
    ]  # fmt: skip
    if s.quantization:
        args += ["--quantization", s.quantization]
    if s.load_format:
        args += ["--load-format", s.load_format]
    if s.load_format == "runai_streamer" and s.streamer_concurrency and s.streamer_memory_limit_bytes:
        loader = {"concurrency": s.streamer_concurrency, "memory_limit": s.streamer_memory_limit_bytes}
        args += ["--model-loader-extra-config", json.dumps(loader, sort_keys=True)]
    if s.otlp_traces_endpoint:
        args += ["--otlp-traces-endpoint", s.otlp_traces_endpoint]
    if s.log_requests:
        args += ["--enable-log-requests", "--enable-log-outputs"]
    return args


def flags(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith("--")]


def guarded(path: str) -> bool:
    """Whether vLLM 0.33 asks for the key on `path` (its own test: a plain string prefix)."""
    return path.startswith(GUARDED_PREFIXES)
