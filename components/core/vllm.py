"""The vLLM OpenAI server's command line, from typed settings.

Every flag used here is checked against the pinned release's parser
(../shared/upstream/vllm/serve-flags.txt) by tests/test_vllm.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.core.labels import VLLM_PORT

API_KEY_ENV = "VLLM_API_KEY"
"""The key reaches vLLM through this variable (from a Secret); the command line names the
variable, so the key is in neither the manifest nor the Pulumi state."""


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
        # Kubernetes expands $(VAR) from the container's environment before exec.
        "--api-key", f"$({API_KEY_ENV})",
    ]  # fmt: skip
    if s.quantization:
        args += ["--quantization", s.quantization]
    if s.load_format:
        args += ["--load-format", s.load_format]
    if s.otlp_traces_endpoint:
        args += ["--otlp-traces-endpoint", s.otlp_traces_endpoint]
    return args


def flags(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith("--")]
