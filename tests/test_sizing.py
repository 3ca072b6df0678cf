"""Sizing over the REFERENCE.md models on A10G, L40S, A100 80 GB and H100 pools."""

from __future__ import annotations

import pytest

from components.core import gpu_catalog
from components.core.sizing import (
    ARCHITECTURES,
    GIB,
    MIB,
    choose_tensor_parallel,
    kv_bytes_per_token,
    pod_resources,
    size_for,
    startup_budget_seconds,
    weight_bytes,
    why_not,
)

KIB = 1024


def gpu(instance: str) -> tuple[int, int]:
    """(GPUs per node, bytes per GPU) of an instance type."""
    t = gpu_catalog.CATALOG[instance]
    return t.gpus, t.gpu_memory_mib * MIB


@pytest.mark.parametrize(
    ("model", "weights_gb", "kv_kib"),
    [
        ("llama-3.1-8b", 16.1, 128),
        ("llama-3.1-70b", 141, 320),
        ("qwen2.5-7b", 15.2, 56),
        ("qwen2.5-32b", 65, 256),
        ("qwen2.5-72b", 145, 320),
        ("mistral-7b", 14.5, 128),
    ],
)
def test_weights_and_kv_per_token_match_the_reference(model: str, weights_gb: float, kv_kib: int) -> None:
    arch = ARCHITECTURES[model]
    assert weight_bytes(arch, "bfloat16") / 1e9 == pytest.approx(weights_gb, rel=0.01)
    assert kv_bytes_per_token(arch) == kv_kib * KIB


def choose(model: str, instance: str, max_model_len: int = 32768, precision: str = "bfloat16") -> int | None:
    gpus, memory = gpu(instance)
    sizing = choose_tensor_parallel(ARCHITECTURES[model], precision, gpus, memory, 0.9, max_model_len)
    return None if sizing is None else sizing.tensor_parallel_size


@pytest.mark.parametrize("instance", ["p5.48xlarge", "p4de.24xlarge"])
def test_llama_70b_in_bf16_needs_four_80gb_gpus_not_two(instance: str) -> None:
    assert choose("llama-3.1-70b", instance) == 4
    _, memory = gpu(instance)
    two = size_for(ARCHITECTURES["llama-3.1-70b"], "bfloat16", 2, memory, 0.9, 32768)
    assert two.max_length_sequences == 0  # the weights fit two GPUs, a 32k sequence does not


def test_llama_70b_is_refused_on_an_a10g_pool() -> None:
    assert choose("llama-3.1-70b", "g5.12xlarge") is None
    assert choose("llama-3.1-70b", "g5.12xlarge", max_model_len=4096) is None


def test_fp8_halves_what_llama_70b_needs() -> None:
    assert choose("llama-3.1-70b", "p5.48xlarge", precision="fp8") == 2


@pytest.mark.parametrize(
    ("model", "instance", "expected"),
    [
        ("llama-3.1-8b", "g6e.xlarge", 1),  # L40S 44.7 GiB
        (
            "llama-3.1-8b",
            "g5.12xlarge",
            2,
        ),  # A10G 22.4 GiB: 15 GiB of weights leave no room for a 32k sequence
        ("qwen2.5-7b", "g5.xlarge", 1),  # 4 KV heads: small KV cache
        ("qwen2.5-32b", "g6e.12xlarge", 2),
        ("qwen2.5-72b", "p5.48xlarge", 4),
        ("mistral-7b", "g6.12xlarge", 1),  # L4: 13.5 GiB of weights, a 32k sequence still fits
        ("llama-3.1-8b", "g6.12xlarge", 2),  # but not beside Llama's 15 GiB
    ],
)
def test_smallest_tensor_parallel_size_that_works(model: str, instance: str, expected: int) -> None:
    assert choose(model, instance) == expected


def test_tensor_parallel_must_divide_heads_and_fit_a_node() -> None:
    qwen7 = ARCHITECTURES["qwen2.5-7b"]  # 28 attention heads, 4 KV heads
    assert why_not(qwen7, 8, 8) == "8 does not divide the 28 attention heads"
    assert why_not(qwen7, 4, 1) == "4 GPUs per replica, but a node has 1"
    assert why_not(qwen7, 2, 8) is None
    assert why_not(ARCHITECTURES["qwen2.5-32b"], 8, 8) is None  # 40 heads, 8 KV heads


def test_more_gpus_than_kv_heads_replicate_the_heads() -> None:
    qwen7 = ARCHITECTURES["qwen2.5-7b"]  # 4 KV heads
    _, memory = gpu("g6e.48xlarge")
    four = size_for(qwen7, "bfloat16", 4, memory, 0.9, 8192)
    eight = size_for(qwen7, "bfloat16", 8, memory, 0.9, 8192)
    # Split four ways the KV cache would double from 4 to 8 GPUs; replicated, it grows only
    # by the memory the smaller weight shards free.
    assert four.kv_cache_bytes < eight.kv_cache_bytes < 2 * four.kv_cache_bytes


def test_pods_get_their_gpus_share_of_the_node() -> None:
    whole = pod_resources(1, 1, vcpu=4, memory_gib=16)  # g6.xlarge
    assert whole.cpu_millicores == 2600
    assert whole.memory_mib == int((16 * 0.9 - 3) * 1024)
    half = pod_resources(4, 8, vcpu=192, memory_gib=2048)  # a TP-4 replica on a p5.48xlarge
    assert half.cpu_millicores == 85900
    assert 0 < half.shm_mib <= half.memory_mib // 4
    assert half.shm_mib == 14 * 1024  # 2 GiB + 4 GiB for each extra GPU


def test_startup_budget_grows_with_weights_and_slower_paths() -> None:
    small = startup_budget_seconds(16 * GIB, "efs")
    big = startup_budget_seconds(140 * GIB, "efs")
    streamed = startup_budget_seconds(140 * GIB, "s3Stream")
    assert small < streamed < big
    assert big >= 140 / 0.375 + 300  # the worst read rate plus engine start, before margin
