"""llm-platform's component library: import these into any Pulumi Python stack."""

from components._k8s import ChartSourceArgs
from components.ai_gateway import AiGateway, AiGatewayArgs
from components.audit_log import AuditLog, AuditLogArgs
from components.cluster import Cluster, ClusterArgs
from components.core.placement import Placement
from components.endpoint_picker import EndpointPicker, EndpointPickerArgs
from components.gpu_headroom import GpuHeadroom, GpuHeadroomArgs
from components.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from components.gpu_runtime import GpuRuntime, GpuRuntimeArgs
from components.gpu_telemetry import GpuTelemetry, GpuTelemetryArgs
from components.image_cache import ImageCache, ImageCacheArgs
from components.inference_service import InferenceService, InferenceServiceArgs
from components.ingress_gateway import IngressGateway, IngressGatewayArgs
from components.karpenter import Karpenter, KarpenterArgs
from components.keda import Keda, KedaArgs
from components.logs import Logs, LogsArgs
from components.model_gateway import ModelGateway, ModelGatewayArgs
from components.model_store import ModelStore, ModelStoreArgs
from components.model_weights import ModelWeights, ModelWeightsArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.tenant import Tenant, TenantArgs

__all__ = [
    "AiGateway",
    "AiGatewayArgs",
    "AuditLog",
    "AuditLogArgs",
    "ChartSourceArgs",
    "Cluster",
    "ClusterArgs",
    "EndpointPicker",
    "EndpointPickerArgs",
    "GpuHeadroom",
    "GpuHeadroomArgs",
    "GpuNodePool",
    "GpuNodePoolArgs",
    "GpuRuntime",
    "GpuRuntimeArgs",
    "GpuTelemetry",
    "GpuTelemetryArgs",
    "ImageCache",
    "ImageCacheArgs",
    "InferenceService",
    "InferenceServiceArgs",
    "IngressGateway",
    "IngressGatewayArgs",
    "Karpenter",
    "KarpenterArgs",
    "Keda",
    "KedaArgs",
    "Logs",
    "LogsArgs",
    "ModelGateway",
    "ModelGatewayArgs",
    "ModelStore",
    "ModelStoreArgs",
    "ModelWeights",
    "ModelWeightsArgs",
    "Monitoring",
    "MonitoringArgs",
    "Network",
    "NetworkArgs",
    "Placement",
    "Tenant",
    "TenantArgs",
]
