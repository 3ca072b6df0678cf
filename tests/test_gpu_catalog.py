"""The instance catalog: facts from REFERENCE.md, and the shapes derived from them."""

from __future__ import annotations

import pytest

from components.core import gpu_catalog
from components.core.placement import GPU_PRESENT_LABEL, POOL_LABEL, gpu_placement


@pytest.mark.parametrize(
    ("name", "gpu", "gpus", "gib", "price"),
    [
        ("g5.xlarge", "A10G", 1, 22.35, 1.006),
        ("g6.xlarge", "L4", 1, 22.35, 0.805),
        ("g6e.12xlarge", "L40S", 4, 44.70, 10.493),
        ("p4de.24xlarge", "A100-80GB", 8, 80.0, 27.447),
        ("p5.48xlarge", "H100", 8, 80.0, 55.040),
        ("p5en.48xlarge", "H200", 8, 141.0, 63.296),
    ],
)
def test_catalog_rows_match_the_reference(name: str, gpu: str, gpus: int, gib: float, price: float) -> None:
    t = gpu_catalog.CATALOG[name]
    assert (t.gpu_model, t.gpus, t.hourly_usd) == (gpu, gpus, price)
    assert t.gpu_memory_gib == pytest.approx(gib, abs=0.01)


def test_only_gpu_types_count_as_gpu_types() -> None:
    assert "m7i.large" in gpu_catalog.CPU_INSTANCE_TYPES
    assert "m7i.large" not in gpu_catalog.GPU_INSTANCE_TYPES
    assert all(gpu_catalog.CATALOG[t].gpus > 0 for t in gpu_catalog.GPU_INSTANCE_TYPES)


def test_nvlink_only_on_the_sxm_instances() -> None:
    linked = {t.name for t in gpu_catalog.CATALOG.values() if t.nvlink}
    assert linked == {"p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "p5en.48xlarge"}


def test_placement_selects_the_labels_and_tolerates_the_taint_it_declares() -> None:
    p = gpu_placement("big", ["g6e.12xlarge"])
    assert p.node_selector.items() <= p.node_labels.items()
    assert p.node_labels[POOL_LABEL] == "big"
    assert p.node_labels[GPU_PRESENT_LABEL] == "true"
    for taint in p.taints:
        assert {
            "key": taint["key"],
            "operator": "Equal",
            "value": taint["value"],
            "effect": taint["effect"],
        } in p.tolerations
    assert (p.gpu_model, p.gpus_per_node, p.gpu_memory_mib) == ("L40S", 4, 45_776)


def test_placement_takes_the_smallest_shape_of_a_mixed_pool() -> None:
    p = gpu_placement("a10g", ["g5.2xlarge", "g5.xlarge"])
    assert (p.vcpu_per_node, p.memory_gib_per_node) == (4, 16)


def test_placement_refuses_pools_of_different_gpus() -> None:
    with pytest.raises(ValueError, match="differ in GPUs"):
        gpu_placement("mixed", ["g6.xlarge", "g6e.xlarge"])
