"""llm-platform's component library: import these into any Pulumi Python stack."""

from components.cluster import Cluster, ClusterArgs
from components.core.placement import Placement
from components.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from components.gpu_runtime import GpuRuntime, GpuRuntimeArgs
from components.network import Network, NetworkArgs

__all__ = [
    "Cluster",
    "ClusterArgs",
    "GpuNodePool",
    "GpuNodePoolArgs",
    "GpuRuntime",
    "GpuRuntimeArgs",
    "Network",
    "NetworkArgs",
    "Placement",
]
