"""ModelWeights: how one model's weights reach its GPUs, and the least privilege to read them."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import _aws, _k8s
from components.core import iam, labels
from components.core.placement import POOL_LABEL, SYSTEM_POOL
from components.core.security_context import hardened_container, non_root_pod
from components.core.sizing import ARCHITECTURES
from components.core.storage import MODELS_MOUNT, model_prefix, revision_path, revision_prefix
from components.versions import AWS_CLI_IMAGE, HF_XET_VERSION, HUB_SYNC_IMAGE, HUGGINGFACE_HUB_VERSION

SYNC_TIMEOUTS = pulumi.CustomTimeouts(create="180m", update="180m")  # 140 GB at ~20 MB/s and retries
RUNAI_STREAMER = "runai_streamer"
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
SYNC_UID = 10001  # any non-root user: the EFS access point decides who owns the files
HUB_CLIENT_DIR = "/opt/hub-client"
"""emptyDir the Hub client is installed into (the image's own file system is read-only)."""
HUB_CLIENT_VOLUME_LIMIT = "512Mi"  # huggingface_hub, hf_xet and their dependencies take ~60 MB
GIB = 1024**3
SHARD_BYTES = 5 * 10**9
"""Largest safetensors shard the Hub's checkpoints use (transformers' default max_shard_size "5GB")."""
XET_BUFFER_BYTES = 3 * GIB
"""hf_xet's in-flight range downloads and reconstruction buffers at its default concurrency."""


def hub_download_memory_bytes(parameters: float) -> int:
    """Memory a Hub download of a model of `parameters` (bf16) may use: hf_xet's buffers plus the
    dirty pages of the shard being written to the network volume (NFS writes them back lazily, and
    the kernel charges them to the container); a model smaller than a shard needs only its size."""
    return XET_BUFFER_BYTES + min(SHARD_BYTES, int(parameters * 2))


def _gib_ceil(n: int) -> int:
    return -(-n // GIB)


# Sized once for the largest model the catalog knows, so that no model in it is OOM-killed;
# hf_xet streams files shard by shard, so a larger model takes longer, not more memory.
LARGEST_MODEL_PARAMETERS = max(a.parameters for a in ARCHITECTURES.values())
HUB_DOWNLOAD_MEMORY = f"{_gib_ceil(hub_download_memory_bytes(LARGEST_MODEL_PARAMETERS)) + 2}Gi"
"""Memory limit of the Hub download: the need of the largest catalog model, plus 2 GiB of Python."""

# Every step first looks for the marker of a finished revision, so a job run again
# for the same revision copies nothing; copies resume where a failed run stopped.
FETCH_FROM_S3 = """set -eu
if [ -f "$DEST/.complete" ]; then echo "revision already on the volume"; exit 0; fi
aws s3 sync --only-show-errors "s3://$BUCKET/$PREFIX" "$DEST/"
test -f "$DEST/config.json" || { echo "no model (config.json) under s3://$BUCKET/$PREFIX" >&2; exit 1; }
touch "$DEST/.complete"
"""
# Installs the Hub client at pinned versions into the emptyDir at $HUB_CLIENT_DIR; no pip cache.
INSTALL_HUB_CLIENT = f"""set -eu
if [ -f "$HUB_CLIENT_DIR/.installed" ]; then exit 0; fi
python3 -m pip install --no-cache-dir --disable-pip-version-check --no-warn-script-location \\
  --target "$HUB_CLIENT_DIR" "huggingface_hub[hf_xet]=={HUGGINGFACE_HUB_VERSION}" "hf_xet=={HF_XET_VERSION}"
touch "$HUB_CLIENT_DIR/.installed"
"""
DOWNLOAD_FROM_HUB = """import os, pathlib
from huggingface_hub import snapshot_download
dest = pathlib.Path(os.environ["DEST"])
if (dest / ".complete").exists():
    print("revision already on the volume")
    raise SystemExit(0)
snapshot_download(repo_id=os.environ["REPO"], revision=os.environ["REVISION"], local_dir=dest)
"""
MIRROR_TO_S3 = """set -eu
if [ -f "$DEST/.complete" ]; then echo "revision already complete"; exit 0; fi
test -f "$DEST/config.json" || { echo "download left no config.json in $DEST" >&2; exit 1; }
aws s3 sync --only-show-errors --exclude ".cache/*" "$DEST/" "s3://$BUCKET/$PREFIX"
rm -rf "$DEST/.cache/xet"
touch "$DEST/.complete"
"""


@dataclass(frozen=True)
class _Identity:
    service_account: pulumi.Output[str]
    association: aws.eks.PodIdentityAssociation


class ModelWeightsArgs(TypedDict, total=False):
    namespace: Required[pulumi.Input[str]]
    """Tenant namespace serving the model."""
    cluster_name: Required[pulumi.Input[str]]
    """EKS cluster of the pod identity associations."""
    cluster_arn: Required[pulumi.Input[str]]
    """Pod Identity roles trust only this cluster."""
    bucket_name: Required[pulumi.Input[str]]
    """The model bucket (ModelStore.bucket_name)."""
    bucket_arn: Required[pulumi.Input[str]]
    """ARN of the model bucket (ModelStore.bucket_arn)."""
    kms_key_arn: Required[pulumi.Input[str]]
    """Key of the bucket (kms:Decrypt for readers)."""
    revision: Required[str]
    """Immutable revision (a Hub commit, or a label of files in the bucket); part of every path."""
    extra_revisions: Sequence[str]
    """More revisions kept ready next to `revision` (a canary's), each synced by its own job."""
    hugging_face_repo: str
    """Download this Hub repository at `revision`; absent: the files are already in the bucket."""
    hugging_face_token: pulumi.Input[str]
    """Token for gated repositories (a secret)."""
    stream_from_s3: bool
    """Serving pods stream from S3 (vLLM's Run:ai streamer): no volume, no sync job."""
    storage_class_name: pulumi.Input[str]
    """EFS StorageClass for the model's volume (unless streaming)."""


class ModelWeights(pulumi.ComponentResource):
    """Weights of model `name` at one revision, readable by the model's pods only.

    Files live under models/<name>/<revision>/ in the bucket. With EFS, a
    ReadWriteMany claim holds them at /models/<revision> and a sync Job fills it
    from the bucket or from the Hub (mirroring Hub downloads into the bucket);
    streaming skips both. Serving pods run as `service_account_name`, whose
    role can read this model's prefix and nothing else; the sync job has its
    own role that may also write it.
    """

    service_account_name: pulumi.Output[str]
    """ServiceAccount of the serving pods: may read this model's prefix and nothing else."""
    model_uri: pulumi.Output[str]
    """What vLLM gets as its model: a path on the volume, or an s3:// URI."""
    claim_name: pulumi.Output[str] | None
    """The ReadWriteMany claim to mount at MODELS_MOUNT, or None when streaming."""
    load_format: str | None
    """vLLM --load-format, or None for its default."""
    ready: pulumi.Output[str]
    """Resolves once a serving pod can start: it can read the bucket (streaming), or the volume exists (the pod then waits for the sync job's marker of its revision itself)."""
    uris: dict[str, pulumi.Output[str]]
    """model_uri of every revision, by revision."""
    ready_by_revision: dict[str, pulumi.Output[str]]
    """ready of every revision, by revision."""

    def __init__(self, name: str, args: ModelWeightsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:ModelWeights", name, None, opts)
        revision = args["revision"]
        namespace = args["namespace"]
        prefix = model_prefix(name)
        key_arn, bucket_arn = args["kms_key_arn"], args["bucket_arn"]

        reader = self._identity(
            f"{name}-reader",
            f"{name}-model",
            pulumi.Output.all(bucket_arn, key_arn).apply(lambda a: iam.model_read_policy(a[0], a[1], prefix)),
            args,
        )
        self.service_account_name = reader.service_account
        self.load_format = None
        self.claim_name = None

        # a canary that pins the stable revision (to change only its vLLM release) shares its files
        revisions = list(dict.fromkeys([revision, *args.get("extra_revisions", [])]))
        job_names = _job_names(name, revisions)
        self.uris, self.ready_by_revision = {}, {}
        if args.get("stream_from_s3", False):
            self.load_format = RUNAI_STREAMER
            for rev in revisions:
                self.uris[rev] = pulumi.Output.concat(
                    "s3://", args["bucket_name"], "/", revision_prefix(name, rev)
                )
                self.ready_by_revision[rev] = reader.association.association_id
        else:
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-weights",
                metadata=_k8s.meta(f"{name}-weights", namespace, labels.standard(name, "weights")),
                spec={
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": args["storage_class_name"],
                    # EFS is elastic and ignores the size; Kubernetes requires one.
                    "resources": {"requests": {"storage": "1Ti"}},
                },
                opts=pulumi.ResourceOptions(parent=self),
            )
            writer = self._identity(
                f"{name}-sync",
                f"{name}-sync",
                pulumi.Output.all(bucket_arn, key_arn).apply(
                    lambda a: iam.model_sync_policy(a[0], a[1], prefix)
                ),
                args,
            )
            token = self._hub_token(name, args)
            for rev in revisions:
                self._sync_job(name, rev, job_names[rev], args, claim, writer, token)
                self.uris[rev] = pulumi.Output.from_input(revision_path(rev))
            self.claim_name = claim.metadata.apply(lambda m: str(m["name"]))
            # Serving pods wait for the job's marker themselves (an init container), so they
            # need only the volume: the Deployment starts while the job downloads.
            volume_ready = pulumi.Output.all(self.claim_name, reader.association.association_id).apply(
                lambda a: str(a[0])
            )
            for rev in revisions:
                self.ready_by_revision[rev] = pulumi.Output.concat(volume_ready, "/", rev)
        self.model_uri = self.uris[revision]
        self.ready = self.ready_by_revision[revision]

        self.register_outputs(
            {
                "service_account_name": self.service_account_name,
                "model_uri": self.model_uri,
                "claim_name": self.claim_name,
                "ready": self.ready,
            }
        )

    def _identity(
        self, resource_name: str, account: str, policy: pulumi.Output[str], args: ModelWeightsArgs
    ) -> _Identity:
        """A ServiceAccount bound by Pod Identity to a role holding `policy` only."""
        service_account = k8s.core.v1.ServiceAccount(
            resource_name,
            metadata=_k8s.meta(account, args["namespace"], labels.platform_owned()),
            # Pod Identity mounts its own token; the Kubernetes API token is not needed.
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        account_name = service_account.metadata.apply(lambda m: str(m["name"]))
        identity = _aws.pod_identity(
            resource_name,
            cluster_name=args["cluster_name"],
            cluster_arn=args["cluster_arn"],
            namespace=args["namespace"],
            service_account=account_name,
            policy=policy,
            parent=self,
        )
        return _Identity(account_name, identity.association)

    def _hub_token(self, name: str, args: ModelWeightsArgs) -> k8s.core.v1.Secret | None:
        if "hugging_face_repo" not in args or "hugging_face_token" not in args:
            return None
        return k8s.core.v1.Secret(
            f"{name}-hf-token",
            metadata=_k8s.meta(f"{name}-hf-token", args["namespace"]),
            string_data={"token": pulumi.Output.secret(args["hugging_face_token"])},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _sync_job(
        self,
        name: str,
        revision: str,
        job_name: str,
        args: ModelWeightsArgs,
        claim: k8s.core.v1.PersistentVolumeClaim,
        writer: _Identity,
        token: k8s.core.v1.Secret | None,
    ) -> k8s.batch.v1.Job:
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        env: list[dict[str, Any]] = [
            {"name": "DEST", "value": revision_path(revision)},
            {"name": "BUCKET", "value": args["bucket_name"]},
            {"name": "PREFIX", "value": revision_prefix(name, revision)},
            {"name": "REVISION", "value": revision},
            # the AWS CLI reads AWS_REGION; boto3 (and so vLLM's S3 streamer) reads AWS_DEFAULT_REGION
            {"name": "AWS_REGION", "value": region},
            {"name": "AWS_DEFAULT_REGION", "value": region},
            {"name": "HOME", "value": "/tmp"},
        ]
        init_containers: list[dict[str, Any]] = []
        token_volume: dict[str, Any] | None = None
        depends_on: list[pulumi.Resource] = [writer.association]
        repo = args.get("hugging_face_repo")
        if repo is None:
            containers = [_container("fetch", AWS_CLI_IMAGE, ["/bin/sh", "-c", FETCH_FROM_S3], env)]
        else:
            dest = revision_path(revision)
            hub_env: list[dict[str, Any]] = [
                *env,
                {"name": "REPO", "value": repo},
                {"name": "HUB_CLIENT_DIR", "value": HUB_CLIENT_DIR},
                {"name": "PYTHONPATH", "value": HUB_CLIENT_DIR},
                {"name": "HF_HOME", "value": "/tmp/hf"},
                # Every cache on the model's network volume (under .cache/, which the mirror skips
                # and cleans), none on the node's disk: hf_xet's caches alone may grow to ~10 GB.
                {"name": "HF_HUB_CACHE", "value": f"{dest}/.cache/hub"},
                {"name": "HF_XET_CACHE", "value": f"{dest}/.cache/xet"},
                # The chunk cache only speeds up downloading the same files twice; a revision is
                # downloaded once (its .complete marker stops a second run).
                {"name": "HF_XET_CHUNK_CACHE_SIZE_BYTES", "value": "0"},
                {"name": "HF_XET_SHARD_CACHE_SIZE_LIMIT", "value": "1gb"},
                {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
            ]
            if token is not None:
                depends_on.append(token)
                # A file, not an environment variable: env leaks into crash dumps and `kubectl describe`.
                hub_env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/token"})
                token_volume = {"name": "hf-token", "secret": {"secretName": f"{name}-hf-token"}}
            client = {"name": "hub-client", "mountPath": HUB_CLIENT_DIR}
            install = _container(
                "install-hub-client", HUB_SYNC_IMAGE, ["/bin/sh", "-c", INSTALL_HUB_CLIENT], hub_env
            )
            install["volumeMounts"].append(client)
            download = _container(
                "download",
                HUB_SYNC_IMAGE,
                ["python3", "-c", DOWNLOAD_FROM_HUB],
                hub_env,
                memory_limit=HUB_DOWNLOAD_MEMORY,
            )
            download["volumeMounts"].append({**client, "readOnly": True})
            if token_volume is not None:
                download["volumeMounts"].append(
                    {"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True}
                )
            init_containers = [install, download]
            containers = [_container("mirror", AWS_CLI_IMAGE, ["/bin/sh", "-c", MIRROR_TO_S3], env)]

        pod_labels = {**labels.standard(name, labels.MODEL_SYNC), labels.PUBLIC_HTTPS_EGRESS: "true"}
        pod: dict[str, Any] = {
            "serviceAccountName": writer.service_account,
            "automountServiceAccountToken": False,
            "restartPolicy": "OnFailure",
            # Copying is CPU work: keep it off the GPU nodes.
            "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
            "securityContext": non_root_pod(SYNC_UID),
            "initContainers": init_containers,
            "containers": containers,
            "volumes": [
                {
                    "name": "weights",
                    "persistentVolumeClaim": {"claimName": claim.metadata.apply(lambda m: str(m["name"]))},
                },
                {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
                *(
                    [{"name": "hub-client", "emptyDir": {"sizeLimit": HUB_CLIENT_VOLUME_LIMIT}}]
                    if repo
                    else []
                ),
                *([token_volume] if token_volume is not None else []),
            ],
        }
        spec: dict[str, Any] = {
            "backoffLimit": 4,
            "activeDeadlineSeconds": 3 * 3600,
            "template": {"metadata": {"labels": pod_labels}, "spec": pod},
        }
        return k8s.batch.v1.Job(
            job_name,
            metadata=_k8s.meta(
                job_name,
                args["namespace"],
                pod_labels,
                _k8s.checkov_skips(_k8s.PINNED_TAG, _k8s.PULL_IF_NOT_PRESENT),
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, custom_timeouts=SYNC_TIMEOUTS),
        )


def _job_names(name: str, revisions: list[str]) -> dict[str, str]:
    """Sync job name of each revision: <model>-sync-<first 12 characters of the revision>, and a
    short hash of the whole revision when an earlier revision already took that name (labels such
    as llama-70b-2026-10 and llama-70b-2026-11 share their first 12 characters)."""
    names: dict[str, str] = {}
    for rev in revisions:
        short = rev[:12].lower().replace(".", "-").replace("_", "-").rstrip("-")
        job = f"{name}-sync-{short}"
        if job in names.values():
            job = f"{job}-{hashlib.sha256(rev.encode()).hexdigest()[:8]}"
        names[rev] = job
    return names


def _container(
    name: str, image: str, command: list[str], env: list[dict[str, Any]], memory_limit: str = "4Gi"
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": env,
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
            "limits": {"cpu": "2", "memory": memory_limit, "ephemeral-storage": "2Gi"},
        },
        "securityContext": hardened_container(),
        "volumeMounts": [
            {"name": "weights", "mountPath": MODELS_MOUNT},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
