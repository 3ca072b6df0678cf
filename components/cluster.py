"""Cluster: the EKS control plane, its core add-ons, a CPU system node group, and a Kubernetes provider."""

import re
from collections.abc import Mapping, Sequence
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import _aws, _k8s, _nodes, versions
from components.core import iam
from components.core.kubeconfig import eks_kubeconfig, region_of_arn
from components.core.placement import POOL_LABEL, SYSTEM_POOL

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


class ClusterArgs(TypedDict, total=False):
    subnet_ids: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Private subnets for the control plane's network interfaces and the system nodes."""
    public_access_cidrs: Sequence[str]
    """CIDRs allowed to reach the API endpoint over the internet; empty makes the endpoint private."""
    admin_arns: Sequence[str]
    """IAM role or user ARNs given cluster-admin by access entries (one entry each)."""
    log_retention_days: pulumi.Input[int]
    """Days to keep control-plane logs (default 90)."""
    system_instance_types: Sequence[str]
    """Instance types of the CPU system node group."""
    system_min_size: int
    """Fewest system nodes."""
    system_max_size: int
    """Most system nodes."""
    system_desired_size: int
    """System nodes to start with; ignored after creation."""
    system_disk_gib: int
    """Root volume of a system node, GiB."""
    node_tags: pulumi.Input[Mapping[str, str]]
    """Tags for the instances, root volumes and network interfaces of the system nodes, such as the stack's cost-allocation tags (the provider's default tags do not reach them)."""
    protect: bool
    """Protect the cluster, its KMS key and its logs from deletion, and keep them when removed."""


class Cluster(pulumi.ComponentResource):
    """An EKS cluster ready for platform workloads.

    Secrets are envelope-encrypted with a rotating KMS key; all five control-plane
    log types go to a log group with a retention; authentication is by access
    entries only; core add-ons are pinned EKS add-ons (the VPC CNI enforces
    NetworkPolicy); a CPU node group hosts controllers. `provider` (Python only)
    is a Kubernetes provider that talks to the cluster with the caller's own AWS
    identity.

    The component name is the EKS cluster name (and names its log group, KMS
    alias and node groups), so two clusters in one stack never collide.
    """

    cluster_name: pulumi.Output[str]
    """The EKS cluster's name (the component's name)."""
    cluster_arn: pulumi.Output[str]
    """Pod Identity trust policies name it, so only this cluster can use their roles."""
    endpoint: pulumi.Output[str]
    """HTTPS address of the Kubernetes API."""
    certificate_authority: pulumi.Output[str]
    """Base64 PEM of the cluster's certificate authority, to verify the endpoint."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig that authenticates with `aws eks get-token` (no static token); a secret."""
    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS puts on the control plane and on every managed node."""
    kms_key_arn: pulumi.Output[str]
    """The KMS key that envelope-encrypts Kubernetes Secrets."""
    storage_class_name: pulumi.Output[str]
    """The default StorageClass: encrypted gp3 EBS volumes."""
    system_node_group_name: pulumi.Output[str]
    """The CPU system node group; resolves once it exists. Add-ons whose controller is a
    Deployment (EFS CSI) take it, so they are created when a node can run them."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:Cluster", name, None, opts)
        cluster_name = name
        protect = args.get("protect", False)
        stateful = pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect)
        child = pulumi.ResourceOptions(parent=self)

        key = _aws.kms_key(
            f"{name}-secrets",
            f"Envelope encryption of Kubernetes secrets in EKS cluster {cluster_name}",
            self,
            protect,
        )
        role = aws.iam.Role(
            f"{name}-control-plane",
            assume_role_policy=iam.service_trust("eks.amazonaws.com"),
            opts=child,
        )
        partition = _aws.partition(self)
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-control-plane",
            role=role.name,
            policy_arn=_aws.managed_policy_arn(partition, "AmazonEKSClusterPolicy"),
            opts=child,
        )
        # EKS would create this group itself, without a retention; creating it first keeps it ours.
        logs = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=args.get("log_retention_days", 90),
            opts=stateful,
        )
        public_cidrs = list(args.get("public_access_cidrs", []))
        cluster = aws.eks.Cluster(
            name,
            name=cluster_name,
            version=versions.KUBERNETES_VERSION,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": args["subnet_ids"],
                "endpoint_private_access": True,
                "endpoint_public_access": bool(public_cidrs),
                "public_access_cidrs": public_cidrs or None,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config={
                "authentication_mode": "API",
                # Every admin is an explicit access entry below; nobody gets hidden access.
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            # The core add-ons are created below as pinned EKS add-ons instead.
            bootstrap_self_managed_addons=False,
            # Extended support costs six times as much; upgrade instead.
            upgrade_policy={"support_type": "STANDARD"},
            deletion_protection=protect,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=protect,
                retain_on_delete=protect,
                depends_on=[logs, cluster_policy],
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="60m", delete="30m"),
            ),
        )

        access = self._admins(name, cluster, args.get("admin_arns", []))
        pod_identity_agent = self._addon(name, cluster, "eks-pod-identity-agent", depends_on=[])
        early_addons = [
            pod_identity_agent,
            self._addon(name, cluster, "kube-proxy", depends_on=[]),
            self._cni(name, cluster, pod_identity_agent),
        ]
        system_nodes = self._system_nodes(name, cluster, args, early_addons)
        # CoreDNS is a Deployment: the add-on reports healthy only once nodes can run it.
        coredns = self._addon(name, cluster, "coredns", depends_on=[system_nodes])
        block_storage = self._ebs_csi(name, cluster, system_nodes)

        # Whoever takes the cluster name (node pools, add-ons of later layers) also waits for
        # the core add-ons: a node cannot become Ready before the CNI runs.
        self.cluster_name = pulumi.Output.all(
            cluster.name, *[addon.addon_version for addon in early_addons]
        ).apply(lambda values: str(values[0]))
        self.cluster_arn = cluster.arn
        self.endpoint = cluster.endpoint
        self.certificate_authority = cluster.certificate_authority.data
        self.cluster_security_group_id = cluster.vpc_config.cluster_security_group_id
        self.kms_key_arn = key.arn
        self.system_node_group_name = system_nodes.node_group_name
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, self.certificate_authority, cluster.arn).apply(
                lambda a: eks_kubeconfig(a[0], a[1], a[2], region_of_arn(a[3]))
            )
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*access, system_nodes, coredns]),
        )
        # The cluster's default volumes: encrypted gp3, bound where the pod lands (its zone).
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={
                "name": f"{name}-gp3",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
            reclaim_policy="Retain" if protect else "Delete",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=_k8s.storage_class_options(
                pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[block_storage])
            ),
        )
        self.storage_class_name = storage_class.metadata.apply(lambda m: str(m["name"]))
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "endpoint": self.endpoint,
                "certificate_authority": self.certificate_authority,
                "kubeconfig": self.kubeconfig,
                "cluster_security_group_id": self.cluster_security_group_id,
                "kms_key_arn": self.kms_key_arn,
                "storage_class_name": self.storage_class_name,
                "system_node_group_name": self.system_node_group_name,
            }
        )

    def _admins(self, name: str, cluster: aws.eks.Cluster, arns: Sequence[str]) -> list[pulumi.Resource]:
        done: list[pulumi.Resource] = []
        for arn in arns:
            # Named after the principal, not its list position, so reordering changes nothing.
            who = re.sub(r"[^a-zA-Z0-9-]", "-", arn.split(":", 5)[5])
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{who}",
                cluster_name=cluster.name,
                principal_arn=arn,
                type="STANDARD",
                opts=pulumi.ResourceOptions(parent=self),
            )
            done.append(
                aws.eks.AccessPolicyAssociation(
                    f"{name}-admin-{who}",
                    cluster_name=cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=ADMIN_POLICY,
                    access_scope={"type": "cluster"},
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        return done

    def _addon(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        addon: str,
        depends_on: list[pulumi.Resource],
        pod_identity_associations: list[aws.eks.AddonPodIdentityAssociationArgs] | None = None,
    ) -> aws.eks.Addon:
        settings = versions.EKS_ADDONS[addon]
        return aws.eks.Addon(
            f"{name}-{addon}",
            cluster_name=cluster.name,
            addon_name=addon,
            addon_version=settings.version,
            configuration_values=settings.configuration,
            pod_identity_associations=pod_identity_associations,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _cni(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        pod_identity_agent: aws.eks.Addon,
    ) -> aws.eks.Addon:
        """The VPC CNI, with its ENI permissions on its own Pod Identity role rather than on
        every node's role (AWS's recommendation)."""
        role, policy = _aws.addon_role(f"{name}-vpc-cni", cluster.arn, "AmazonEKS_CNI_Policy", self)
        return self._addon(
            name,
            cluster,
            "vpc-cni",
            depends_on=[pod_identity_agent, policy],
            pod_identity_associations=[
                aws.eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account="aws-node")
            ],
        )

    def _ebs_csi(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        system_nodes: aws.eks.NodeGroup,
    ) -> aws.eks.Addon:
        """The EBS CSI driver, its controller on its own Pod Identity role; after the nodes,
        since its controller is a Deployment."""
        role, policy = _aws.addon_role(
            f"{name}-ebs-csi", cluster.arn, "service-role/AmazonEBSCSIDriverPolicy", self
        )
        return aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=cluster.name,
            addon_name="aws-ebs-csi-driver",
            addon_version=versions.EBS_CSI_ADDON.version,
            pod_identity_associations=[
                aws.eks.AddonPodIdentityAssociationArgs(
                    role_arn=role.arn, service_account="ebs-csi-controller-sa"
                )
            ],
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[system_nodes, policy]),
        )

    def _system_nodes(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        args: ClusterArgs,
        addons: list[aws.eks.Addon],
    ) -> aws.eks.NodeGroup:
        pool = f"{name}-system"
        role, role_policies = _nodes.node_role(pool, self)
        template = _nodes.launch_template(
            pool, args.get("system_disk_gib", 50), self, tags=args.get("node_tags")
        )
        min_size = args.get("system_min_size", 2)
        return aws.eks.NodeGroup(
            pool,
            cluster_name=cluster.name,
            node_role_arn=role.arn,
            subnet_ids=args["subnet_ids"],
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=list(args.get("system_instance_types", ["m7i.large"])),
            scaling_config={
                "min_size": min_size,
                "max_size": args.get("system_max_size", 4),
                "desired_size": args.get("system_desired_size", min_size),
            },
            labels={POOL_LABEL: SYSTEM_POOL},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            update_config={"max_unavailable": 1},
            opts=pulumi.ResourceOptions(
                parent=self,
                # Nodes join NotReady until the CNI runs, and pods need Pod Identity from the start.
                depends_on=[*addons, *role_policies],
                ignore_changes=["scalingConfig.desiredSize"],
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="60m", delete="30m"),
            ),
        )
