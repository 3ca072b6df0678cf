"""The EC2 instance types the platform knows how to run, as plain data.

Config validation, capacity arithmetic, pod sizing and the cost tables all read
this one table, so a new instance type is one row here.

Sources (see ../shared/REFERENCE.md in the steering repo):
- GPU instances: AWS on-demand prices for us-east-1 (Linux), AWS pricing data of
  2026-07; GPU memory is what the instance reports through nvidia-smi
  (22,888 MiB for A10G and L4, 45,776 MiB for L40S, 144,384 MiB for H200), and
  the nominal 40/80 GiB for A100 and H100.
- CPU instances for the system node group: AWS on-demand prices for us-east-1
  (Linux) from the same pricing data; they carry no GPU.
Spot prices vary by the hour, so cost tables use the on-demand price as the
ceiling of what a spot pool can cost.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB_PER_GIB = 1024


@dataclass(frozen=True)
class InstanceType:
    """One EC2 instance type and the facts the platform plans with."""

    name: str
    vcpu: int
    memory_gib: int
    hourly_usd: float
    gpu_model: str | None = None
    gpus: int = 0
    gpu_memory_mib: int = 0
    nvme_gb: int = 0
    nvlink: bool = False
    """GPUs joined by NVLink/NVSwitch: tensor parallelism across them is cheap."""

    @property
    def is_gpu(self) -> bool:
        return self.gpus > 0

    @property
    def gpu_memory_gib(self) -> float:
        return self.gpu_memory_mib / MIB_PER_GIB


def _gpu(
    name: str,
    gpu_model: str,
    gpus: int,
    gpu_memory_mib: int,
    vcpu: int,
    memory_gib: int,
    nvme_gb: int,
    hourly_usd: float,
    nvlink: bool = False,
) -> InstanceType:
    return InstanceType(
        name=name,
        vcpu=vcpu,
        memory_gib=memory_gib,
        hourly_usd=hourly_usd,
        gpu_model=gpu_model,
        gpus=gpus,
        gpu_memory_mib=gpu_memory_mib,
        nvme_gb=nvme_gb,
        nvlink=nvlink,
    )


A10G_MIB = 22_888
L4_MIB = 22_888
L40S_MIB = 45_776
A100_40_MIB = 40 * MIB_PER_GIB
A100_80_MIB = 80 * MIB_PER_GIB
H100_MIB = 80 * MIB_PER_GIB
H200_MIB = 144_384

_TYPES: tuple[InstanceType, ...] = (
    _gpu("g5.xlarge", "A10G", 1, A10G_MIB, 4, 16, 250, 1.006),
    _gpu("g5.2xlarge", "A10G", 1, A10G_MIB, 8, 32, 450, 1.212),
    _gpu("g5.12xlarge", "A10G", 4, A10G_MIB, 48, 192, 3800, 5.672),
    _gpu("g5.48xlarge", "A10G", 8, A10G_MIB, 192, 768, 7600, 16.288),
    _gpu("g6.xlarge", "L4", 1, L4_MIB, 4, 16, 250, 0.805),
    _gpu("g6.12xlarge", "L4", 4, L4_MIB, 48, 192, 3760, 4.602),
    _gpu("g6.48xlarge", "L4", 8, L4_MIB, 192, 768, 7520, 13.350),
    _gpu("g6e.xlarge", "L40S", 1, L40S_MIB, 4, 32, 250, 1.861),
    _gpu("g6e.12xlarge", "L40S", 4, L40S_MIB, 48, 384, 3800, 10.493),
    _gpu("g6e.48xlarge", "L40S", 8, L40S_MIB, 192, 1536, 7600, 30.131),
    _gpu("p4d.24xlarge", "A100-40GB", 8, A100_40_MIB, 96, 1152, 8000, 21.958, nvlink=True),
    _gpu("p4de.24xlarge", "A100-80GB", 8, A100_80_MIB, 96, 1152, 8000, 27.447, nvlink=True),
    _gpu("p5.48xlarge", "H100", 8, H100_MIB, 192, 2048, 30400, 55.040, nvlink=True),
    _gpu("p5en.48xlarge", "H200", 8, H200_MIB, 192, 2048, 30400, 63.296, nvlink=True),
    InstanceType("m7i.large", vcpu=2, memory_gib=8, hourly_usd=0.1008),
    InstanceType("m7i.xlarge", vcpu=4, memory_gib=16, hourly_usd=0.2016),
    InstanceType("m7i.2xlarge", vcpu=8, memory_gib=32, hourly_usd=0.4032),
    InstanceType("m6i.large", vcpu=2, memory_gib=8, hourly_usd=0.096),
    InstanceType("m6i.xlarge", vcpu=4, memory_gib=16, hourly_usd=0.192),
    InstanceType("m6i.2xlarge", vcpu=8, memory_gib=32, hourly_usd=0.384),
)

CATALOG: dict[str, InstanceType] = {t.name: t for t in _TYPES}

GPU_INSTANCE_TYPES = tuple(t.name for t in _TYPES if t.is_gpu)
CPU_INSTANCE_TYPES = tuple(t.name for t in _TYPES if not t.is_gpu)

# Fixed hourly prices of the AWS services around the node pools (us-east-1).
EKS_CONTROL_PLANE_HOURLY_USD = 0.10  # standard support; extended support is 0.60
NAT_GATEWAY_HOURLY_USD = 0.045  # per gateway, before data processing charges


def lookup(name: str) -> InstanceType | None:
    return CATALOG.get(name)


def gpu_label(gpu_model: str) -> str:
    """The GPU model as a Kubernetes label value (lower case, no spaces)."""
    return gpu_model.lower().replace(" ", "-")
