"""ModelStore: the shared model storage, an S3 bucket (the record) and an EFS file system (the cache)."""

from collections.abc import Mapping
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import _aws, _buckets, _k8s
from components.core import iam
from components.core.storage import MODEL_FILES_GID, MODEL_FILES_UID
from components.versions import EFS_CSI_ADDON

EFS_CSI_CONTROLLER_SA = "efs-csi-controller-sa"
NFS_PORT = 2049


class ModelStoreArgs(TypedDict, total=False):
    cluster_name: Required[pulumi.Input[str]]
    """EKS cluster whose pods use the storage."""
    cluster_arn: Required[pulumi.Input[str]]
    """Its ARN: the EFS CSI driver's Pod Identity role trusts only this cluster."""
    vpc_id: Required[pulumi.Input[str]]
    """VPC of the cluster."""
    subnets_by_zone: Required[Mapping[str, pulumi.Input[str]]]
    """The private subnet of each availability zone (Network.private_subnets_by_zone): an EFS mount target goes in each, named after its zone (plain mapping: one resource per zone)."""
    system_node_group_name: Required[pulumi.Input[str]]
    """The cluster's system node group (Cluster.system_node_group_name): the EFS CSI add-on waits for it, since its controller is a Deployment that needs a node."""
    node_security_group_id: Required[pulumi.Input[str]]
    """Security group of the nodes; only it may reach NFS."""
    noncurrent_version_days: pulumi.Input[int]
    """Days to keep replaced or deleted model files (default 30)."""
    access_log_retention_days: int
    """Log requests to the bucket into a log bucket kept this many days; absent: no access logs."""
    force_destroy: bool
    """Let `pulumi destroy` empty and delete the buckets (throwaway stacks only)."""
    protect: bool
    """Protect and retain the bucket, the file system and their keys; retain released volumes."""


class ModelStore(pulumi.ComponentResource):
    """An S3 bucket for model artifacts and an EFS file system every replica mounts.

    The bucket is the record: versioned, KMS-encrypted with its own rotating key,
    private, TLS-only. EFS is the cache the sync jobs fill: KMS-encrypted,
    elastic throughput, reachable over NFS only from the cluster's nodes, with
    the EFS CSI driver and a StorageClass that provisions one access point per
    volume claim.
    """

    bucket_name: pulumi.Output[str]
    """The model bucket: weights live under models/<model>/<revision>/."""
    bucket_arn: pulumi.Output[str]
    """ARN of the model bucket, for scoped IAM policies."""
    kms_key_arn: pulumi.Output[str]
    """Key of the bucket; readers of model files need kms:Decrypt on it."""
    file_system_id: pulumi.Output[str]
    """The EFS file system that serves weights to pods over NFS."""
    storage_class_name: pulumi.Output[str]
    """StorageClass of ReadWriteMany weight volumes (one EFS access point each)."""
    access_log_bucket_name: pulumi.Output[str] | None
    """Where S3 server access logs of the model bucket go."""

    def __init__(self, name: str, args: ModelStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:ModelStore", name, None, opts)
        protect = args.get("protect", False)
        force_destroy = args.get("force_destroy", False)

        key = _aws.kms_key(f"{name}-models", f"Model artifacts of {name}", self, protect)
        bucket = aws.s3.Bucket(
            f"{name}-models",
            force_destroy=force_destroy,
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        _buckets.harden(
            f"{name}-models",
            bucket,
            self,
            policy=bucket.arn.apply(iam.bucket_tls_only),
            kms_key_arn=key.arn,
            noncurrent_version_days=args.get("noncurrent_version_days", 30),
        )
        self.access_log_bucket_name = None
        if "access_log_retention_days" in args:
            logs = _buckets.access_log_bucket(
                f"{name}-access-logs",
                source=bucket,
                retention_days=args["access_log_retention_days"],
                parent=self,
                force_destroy=force_destroy,
                protect=protect,
            )
            self.access_log_bucket_name = logs.bucket

        file_system = self._file_system(name, args, protect)
        addon = self._csi_driver(name, args)
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-efs",
            metadata={"name": f"{name}-efs"},
            provisioner="efs.csi.aws.com",
            parameters={
                # one access point per claim, in a directory named after namespace and claim,
                # so a claim deleted and made again finds its files where they were
                "provisioningMode": "efs-ap",
                "fileSystemId": file_system.id,
                "directoryPerms": "750",
                "uid": str(MODEL_FILES_UID),
                "gid": str(MODEL_FILES_GID),
                "basePath": "/models",
                "subPathPattern": "${.PVC.namespace}/${.PVC.name}",
                "ensureUniqueDirectory": "false",
                "reuseAccessPoint": "true",
            },
            reclaim_policy="Retain" if protect else "Delete",
            volume_binding_mode="Immediate",
            opts=_k8s.storage_class_options(pulumi.ResourceOptions(parent=self, depends_on=[addon])),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.kms_key_arn = key.arn
        self.file_system_id = file_system.id
        self.storage_class_name = storage_class.metadata.apply(lambda m: str(m["name"]))
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "kms_key_arn": self.kms_key_arn,
                "file_system_id": self.file_system_id,
                "storage_class_name": self.storage_class_name,
            }
        )

    def _file_system(self, name: str, args: ModelStoreArgs, protect: bool) -> aws.efs.FileSystem:
        child = pulumi.ResourceOptions(parent=self)
        key = _aws.kms_key(f"{name}-efs", f"Model cache file system of {name}", self, protect)
        file_system = aws.efs.FileSystem(
            f"{name}-efs",
            encrypted=True,
            kms_key_id=key.arn,
            # Elastic: throughput follows load (many replicas reading at once) without provisioning.
            throughput_mode="elastic",
            performance_mode="generalPurpose",
            tags={"Name": f"{name}-models"},
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        aws.efs.FileSystemPolicy(
            f"{name}-efs",
            file_system_id=file_system.id,
            policy=file_system.arn.apply(iam.efs_tls_only),
            opts=child,
        )
        nfs = aws.ec2.SecurityGroup(
            f"{name}-efs",
            description=f"NFS to the model cache of {name}, from cluster nodes only",
            vpc_id=args["vpc_id"],
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-efs-nfs",
            security_group_id=nfs.id,
            referenced_security_group_id=args["node_security_group_id"],
            ip_protocol="tcp",
            from_port=NFS_PORT,
            to_port=NFS_PORT,
            description="NFS from EKS nodes",
            opts=child,
        )
        # A zone takes one mount target: named by zone, adding or reordering zones leaves the
        # others alone, and a replaced target goes before its successor is created
        # (MountTargetConflict otherwise). The alias is the name by list position that
        # earlier versions gave the target of the zone at that position.
        for i, (zone, subnet) in enumerate(args["subnets_by_zone"].items()):
            aws.efs.MountTarget(
                f"{name}-efs-{zone}",
                file_system_id=file_system.id,
                subnet_id=subnet,
                security_groups=[nfs.id],
                opts=pulumi.ResourceOptions(
                    parent=self, delete_before_replace=True, aliases=[pulumi.Alias(name=f"{name}-efs-{i}")]
                ),
            )
        return file_system

    def _csi_driver(self, name: str, args: ModelStoreArgs) -> aws.eks.Addon:
        """The EFS CSI driver add-on; its controller creates access points with its own role."""
        role, policy = _aws.addon_role(
            f"{name}-efs-csi", args["cluster_arn"], "service-role/AmazonEFSCSIDriverPolicy", self
        )
        # Created before a node is Ready, the controller Deployment cannot run and the add-on
        # stays DEGRADED until its create times out: take the cluster name only once the
        # system nodes exist (as Cluster orders the EBS CSI add-on).
        after_nodes = pulumi.Output.all(args["cluster_name"], args["system_node_group_name"]).apply(
            lambda a: str(a[0])
        )
        return aws.eks.Addon(
            f"{name}-efs-csi",
            cluster_name=after_nodes,
            addon_name="aws-efs-csi-driver",
            addon_version=EFS_CSI_ADDON.version,
            pod_identity_associations=[
                aws.eks.AddonPodIdentityAssociationArgs(
                    role_arn=role.arn, service_account=EFS_CSI_CONTROLLER_SA
                )
            ],
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
