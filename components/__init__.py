"""llm-platform's component library: import these into any Pulumi Python stack."""

from components.cluster import Cluster, ClusterArgs
from components.core.placement import Placement
from components.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from components.gpu_runtime import GpuRuntime, GpuRuntimeArgs
from components.model_store import ModelStore, ModelStoreArgs
from components.model_weights import ModelWeights, ModelWeightsArgs
from components.network import Network, NetworkArgs
from components.tenant import Tenant, TenantArgs

__all__ = [
    "Cluster",
    "ClusterArgs",
    "GpuNodePool",
    "GpuNodePoolArgs",
    "GpuRuntime",
    "GpuRuntimeArgs",
    "ModelStore",
    "ModelStoreArgs",
    "ModelWeights",
    "ModelWeightsArgs",
    "Network",
    "NetworkArgs",
    "Placement",
    "Tenant",
    "TenantArgs",
]
