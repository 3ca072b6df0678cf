"""The platform's invariants as Pulumi policies, for any stack that uses the components.

Each policy reads resources as the engine sees them (input properties, camelCase),
so it judges `pulumi preview --policy-pack policy` of this project and of stacks
that import the components alike. A resource whose checked values a preview does
not know yet (outputs of resources still to be created) is skipped, never
guessed; `pulumi up` runs the policies again with every value known.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = "nvidia.com/gpu"
POOL_LABEL = "llm-platform.io/pool"
VLLM_IMAGE = re.compile(r"(^|/)vllm/vllm-openai[:@]")
API_KEY_ENV = "VLLM_API_KEY"
# vLLM 0.33's AuthenticationMiddleware asks for the key only on paths starting with these
# (vllm/entrypoints/serve/middleware/authenticate.py, GUARDED_PREFIX); /invocations, /tokenize,
# /generative_scoring, /metrics, /docs... answer anyone. components/core/vllm.py has the same.
GUARDED_PREFIXES = ("/v1", "/v2", "/inference", "/cohere")

# kind -> where the pod spec sits in the object
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
# Karpenter writes the launch templates of its nodes from this; the policy reads it instead.
EC2_NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
SERVICE = "kubernetes:core/v1:Service"
GATEWAY_API = "kubernetes:gateway.networking.k8s.io/"
LOAD_BALANCER_CONFIGURATION = "kubernetes:gateway.k8s.aws/v1:LoadBalancerConfiguration"
KMS_ALGORITHMS = {"aws:kms", "aws:kms:dsse"}
SSE_S3_TAG = "llm-platform.io/sse-s3"  # components/_buckets.py sets it where AWS requires SSE-S3


def skip_unknown(validate: Callable[[ResourceValidationArgs, ReportViolation], None]) -> Callable[..., None]:
    """A resource validation that passes over a resource with an unknown value, instead of
    pulumi-policy's reaction to the error (the whole policy reported as advisory)."""

    @functools.wraps(validate)
    def checked(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        try:
            validate(args, report_violation)
        except UnknownValueError:
            return

    return checked


def is_list(value: Any) -> bool:
    """Lists arrive as pulumi-policy's read-only proxies, not as `list`."""
    return isinstance(value, Sequence) and not isinstance(value, str)


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    node: Any = props
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node if isinstance(node, Mapping) else None


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if isinstance(c, Mapping):
                yield c


def requests_gpus(spec: Mapping[str, Any]) -> bool:
    for c in containers(spec):
        resources = c.get("resources") or {}
        for section in ("limits", "requests"):
            amount = (resources.get(section) or {}).get(GPU_RESOURCE)
            if amount not in (None, 0, "0"):
                return True
    return False


# --- no `latest` images ------------------------------------------------------------------


def image_problem(image: Any) -> str | None:
    """Why an image reference is not pinned, or None (unknown values are not judged)."""
    if not isinstance(image, str) or not image:
        return None
    if "@sha256:" in image:
        return None
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return f"image {image} has no tag, so it means :latest"
    if name.rsplit(":", 1)[1] == "latest":
        return f"image {image} is :latest"
    return None


def _images_in_values(values: Any) -> Iterator[tuple[str, Any]]:
    """(where, value) of every image or tag a Helm release's values set."""
    if isinstance(values, Mapping):
        for key, value in values.items():
            if (key == "image" and isinstance(value, str)) or (key == "tag" and isinstance(value, str)):
                yield key, value
            else:
                for where, found in _images_in_values(value):
                    yield f"{key}.{where}", found
    elif is_list(values):
        for i, item in enumerate(values):
            for where, found in _images_in_values(item):
                yield f"[{i}].{where}", found


def validate_no_latest_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is not None:
        for c in containers(spec):
            problem = image_problem(c.get("image"))
            if problem is not None:
                report_violation(f"container {c.get('name')}: {problem}; pin a release tag or digest", None)
    if args.resource_type == HELM_RELEASE:
        for where, value in _images_in_values(args.props.get("values")):
            if where.endswith("tag") and value == "latest":
                report_violation(
                    f"values.{where} is latest; pin the chart's image tag or leave the chart's own", None
                )
            elif where.endswith("image"):
                problem = image_problem(value)
                if problem is not None:
                    report_violation(f"values.{where}: {problem}", None)


# --- GPU workloads go to a GPU pool ------------------------------------------------------------


def _selects_a_pool(spec: Mapping[str, Any]) -> bool:
    if POOL_LABEL in (spec.get("nodeSelector") or {}):
        return True
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = affinity.get("nodeSelectorTerms") or []
    return bool(terms) and all(
        any(e.get("key") == POOL_LABEL for e in term.get("matchExpressions") or []) for term in terms
    )


def _tolerates_gpu_taint(spec: Mapping[str, Any]) -> bool:
    for t in spec.get("tolerations") or []:
        key_ok = t.get("key") == GPU_TAINT_KEY or (
            t.get("key") in (None, "") and t.get("operator") == "Exists"
        )
        effect_ok = t.get("effect") in (None, "", "NoSchedule")
        if key_ok and effect_ok:
            return True
    return False


def validate_gpu_workloads_target_a_pool(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None or not requests_gpus(spec):
        return
    if not _selects_a_pool(spec):
        report_violation(
            f"requests {GPU_RESOURCE} but selects no GPU pool: set nodeSelector {POOL_LABEL} "
            "from GpuNodePool.placement",
            None,
        )
    if not _tolerates_gpu_taint(spec):
        report_violation(
            f"requests {GPU_RESOURCE} but does not tolerate the {GPU_TAINT_KEY} NoSchedule taint of GPU "
            "nodes: it would stay Pending; use GpuNodePool.placement's tolerations",
            None,
        )


# --- namespaces running GPU workloads have a GPU quota -----------------------------------------


def _namespace(props: Mapping[str, Any]) -> Any:
    return (props.get("metadata") or {}).get("namespace")


def validate_gpu_namespaces_have_quota(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    capped: set[str] = set()
    unknown_quota = False
    for r in args.resources:
        if r.resource_type != RESOURCE_QUOTA:
            continue
        try:
            hard = (r.props.get("spec") or {}).get("hard") or {}
            if f"requests.{GPU_RESOURCE}" in hard:
                capped.add(str(_namespace(r.props)))
        except UnknownValueError:
            unknown_quota = True  # a quota whose namespace is not known yet may be the one
    for r in args.resources:
        try:
            spec = pod_spec(r.resource_type, r.props)
            if spec is None or not requests_gpus(spec):
                continue
            namespace = str(_namespace(r.props))
        except UnknownValueError:
            continue
        if namespace not in capped and not unknown_quota:
            report_violation(
                f"{r.name} requests GPUs in namespace {namespace}, which has no ResourceQuota on "
                f"requests.{GPU_RESOURCE}: create it with the Tenant component",
                r.urn,
            )


# --- buckets and file systems encrypted and private ----------------------------------------------


def _depends_on(r: PolicyResource, target: PolicyResource) -> bool:
    return any(d.urn == target.urn for d in r.dependencies)


def validate_storage_encrypted_and_private(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    by_type: dict[str, list[PolicyResource]] = {}
    for r in args.resources:
        by_type.setdefault(r.resource_type, []).append(r)
    for bucket in by_type.get(BUCKET, []):
        try:
            problems = _bucket_problems(bucket, by_type)
        except UnknownValueError:
            continue
        for problem in problems:
            report_violation(f"bucket {bucket.name} {problem}", bucket.urn)
    for fs in by_type.get(FILE_SYSTEM, []):
        try:
            encrypted = fs.props.get("encrypted") is True and bool(fs.props.get("kmsKeyId"))
        except UnknownValueError:
            continue  # a key made in the same update is unknown until then
        if not encrypted:
            report_violation(f"file system {fs.name} is not encrypted with a KMS key", fs.urn)


def _bucket_problems(bucket: PolicyResource, by_type: dict[str, list[PolicyResource]]) -> list[str]:
    problems = []
    encryption = [e for e in by_type.get(BUCKET_ENCRYPTION, []) if _depends_on(e, bucket)]
    algorithms = {a for e in encryption for a in _algorithms(e.props)}
    sse_s3_reason = (bucket.props.get("tags") or {}).get(SSE_S3_TAG)
    if not algorithms & KMS_ALGORITHMS and not ("AES256" in algorithms and sse_s3_reason):
        problems.append(
            "has no default encryption with KMS (aws:kms or aws:kms:dsse); "
            f"SSE-S3 is accepted only with a {SSE_S3_TAG} tag saying why"
        )
    blocks = [b for b in by_type.get(BUCKET_PUBLIC_ACCESS_BLOCK, []) if _depends_on(b, bucket)]
    if not any(_blocks_all(b.props) for b in blocks):
        problems.append("has no public access block with all four settings true")
    return problems


def _algorithms(props: Mapping[str, Any]) -> set[str]:
    rules = props.get("rules") or []
    return {str((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")) for rule in rules}


def _blocks_all(props: Mapping[str, Any]) -> bool:
    return all(
        props.get(k) is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )


# --- IMDSv2 on launch templates --------------------------------------------------------------------


def validate_imdsv2(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == LAUNCH_TEMPLATE:
        options = args.props.get("metadataOptions") or {}
    elif args.resource_type == EC2_NODE_CLASS:
        # Karpenter's own default is a hop limit of 1 too, but only what is written counts.
        options = (args.props.get("spec") or {}).get("metadataOptions") or {}
    else:
        return
    if options.get("httpTokens") != "required":
        report_violation("metadataOptions.httpTokens must be required (IMDSv2 only)", None)
    if options.get("httpPutResponseHopLimit") not in (1, 1.0):
        report_violation(
            "metadataOptions.httpPutResponseHopLimit must be 1: pods must not reach the node role "
            "through the instance metadata service",
            None,
        )


# --- an API key on every inference service ----------------------------------------------------------


def validate_inference_api_key(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for c in containers(spec):
        if _serves_vllm(c):
            problem = _api_key_problem(c)
            if problem is not None:
                report_violation(f"container {c.get('name')} {problem}", None)


def _words(c: Mapping[str, Any], key: str) -> list[str]:
    return [a for a in c.get(key) or [] if isinstance(a, str)]


def _serves_vllm(c: Mapping[str, Any]) -> bool:
    """A vLLM OpenAI server: the vLLM image with its own entrypoint (`vllm serve`), or any
    image told to run `vllm serve` or the api_server module. The weights sync runs a small
    Python image, and does not serve."""
    command, arguments = _words(c, "command"), _words(c, "args")
    words = command + arguments
    if any("vllm.entrypoints.openai.api_server" in w for w in words):
        return True
    if any(w.endswith("vllm") for w in words) and "serve" in words:
        return True
    image = c.get("image")
    return isinstance(image, str) and bool(VLLM_IMAGE.search(image)) and not command


def _api_key_problem(c: Mapping[str, Any]) -> str | None:
    """vLLM 0.33 reads VLLM_API_KEY itself when --api-key is absent. The variable must come
    from a Secret, and the flag must not be used at all: even `--api-key $(VLLM_API_KEY)` is
    expanded by the kubelet into the process's argv, which /proc/<pid>/cmdline and `ps` show."""
    words = _words(c, "command") + _words(c, "args")
    env = {e.get("name"): e for e in c.get("env") or [] if isinstance(e, Mapping)}
    key = env.get(API_KEY_ENV)
    if key is not None and "value" in key:
        return f"sets {API_KEY_ENV} to a literal; read it from a Secret"
    from_secret = key is not None and "secretKeyRef" in (key.get("valueFrom") or {})
    values = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--api-key"]
    values += [w.split("=", 1)[1] for w in words if w.startswith("--api-key=")]
    if values or "--api-key" in words:
        what = "a literal key" if any(v != f"$({API_KEY_ENV})" for v in values) else "the key"
        return (
            f"passes {what} with --api-key, on the command line that /proc/<pid>/cmdline and ps show; "
            f"drop the flag and set {API_KEY_ENV} from a Secret (vLLM reads it itself)"
        )
    if not from_secret:
        return (
            "serves vLLM without an API key from a Secret: anyone who reaches it can use the GPUs; "
            f"InferenceService sets {API_KEY_ENV} from a Secret"
        )
    return None


# --- public routes to vLLM publish only the paths its key guards --------------------------------------


def _key(props: Mapping[str, Any], namespace: Any = None) -> tuple[str, str]:
    meta = props.get("metadata") or {}
    return str(meta.get("namespace") or namespace or "default"), str(meta.get("name"))


def _pod_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Labels of the pods a workload makes: the metadata next to its pod spec."""
    node: Any = props
    for key in (*POD_SPEC_PATHS[resource_type][:-1], "metadata"):
        node = node.get(key) if isinstance(node, Mapping) else None
    return (node.get("labels") if isinstance(node, Mapping) else None) or {}


def _selects(selector: Mapping[str, Any], pod_labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(pod_labels.get(k) == v for k, v in selector.items())


def path_problem(match: Mapping[str, Any]) -> str | None:
    """Why one HTTPRoute match reaches a path vLLM's key does not guard, or None. A match
    without a path is PathPrefix /; a prefix must be a guarded one or a path below it."""
    path = match.get("path") or {}
    kind = path.get("type") or "PathPrefix"
    value = path.get("value") or "/"
    if kind not in ("PathPrefix", "Exact"):
        return f"a {kind} path match ({value}) cannot be shown to stay within {', '.join(GUARDED_PREFIXES)}"
    if any(value == p or value.startswith(p + "/") for p in GUARDED_PREFIXES):
        return None
    return (
        f"matches {kind} {value}, which reaches paths vLLM's API key does not guard "
        "(/invocations runs a completion without a key; /tokenize, /metrics, /docs...)"
    )


def _rewrites(filters: Any) -> bool:
    return any(
        isinstance(f, Mapping) and f.get("type") == "URLRewrite" and (f.get("urlRewrite") or {}).get("path")
        for f in (filters or [])
    )


def route_rule_problems(rule: Mapping[str, Any]) -> list[str]:
    matches = rule.get("matches") or [{}]  # no matches: every path
    problems = [p for p in (path_problem(m) for m in matches if isinstance(m, Mapping)) if p]
    backends = [b for b in rule.get("backendRefs") or [] if isinstance(b, Mapping)]
    if _rewrites(rule.get("filters")) or any(_rewrites(b.get("filters")) for b in backends):
        problems.append("rewrites the path, which can turn a guarded path into an unguarded one")
    return problems


def _internal_gateways(resources: Sequence[PolicyResource]) -> set[tuple[str, str]]:
    """Gateways whose AWS load balancer is internal (scheme `internal`); every other Gateway
    counts as public, including one this stack cannot see."""
    internal_configs: set[tuple[str, str]] = set()
    gateways: dict[tuple[str, str], tuple[str, str] | None] = {}
    for r in resources:
        try:
            if r.resource_type == LOAD_BALANCER_CONFIGURATION:
                if (r.props.get("spec") or {}).get("scheme") == "internal":
                    internal_configs.add(_key(r.props))
            elif r.resource_type.startswith(GATEWAY_API) and r.resource_type.endswith(":Gateway"):
                ns, name = _key(r.props)
                ref = ((r.props.get("spec") or {}).get("infrastructure") or {}).get("parametersRef") or {}
                same_ns = ref.get("kind") == "LoadBalancerConfiguration" and ref.get("name")
                gateways[(ns, name)] = (ns, str(ref.get("name"))) if same_ns else None
        except UnknownValueError:
            continue
    return {g for g, config in gateways.items() if config is not None and config in internal_configs}


ENVOY_PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"
AI_GATEWAY_ROUTE = "kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute"


def _vllm_backends(
    resources: Sequence[PolicyResource],
) -> tuple[Callable[[Mapping[str, Any], str], bool], Callable[[Mapping[str, Any], str], bool]]:
    """Two tests of an HTTPRoute backendRef: does it reach vLLM's pods directly, and does it reach
    them at all (directly, or through the AI gateway's proxies, whose Service an EnvoyProxy names)."""
    services: dict[tuple[str, str], Mapping[str, Any]] = {}
    vllm_pods: list[tuple[str, Mapping[str, Any]]] = []
    proxies: set[tuple[str, str]] = set()
    for r in resources:
        try:
            if r.resource_type == SERVICE:
                services[_key(r.props)] = (r.props.get("spec") or {}).get("selector") or {}
            elif r.resource_type == ENVOY_PROXY:
                kube = ((r.props.get("spec") or {}).get("provider") or {}).get("kubernetes") or {}
                name = (kube.get("envoyService") or {}).get("name")
                if name:
                    proxies.add((_key(r.props)[0], str(name)))
            spec = pod_spec(r.resource_type, r.props)
            if spec is not None and any(_serves_vllm(c) for c in containers(spec)):
                vllm_pods.append((_key(r.props)[0], _pod_labels(r.resource_type, r.props)))
        except UnknownValueError:
            continue

    def service_of(backend: Mapping[str, Any], route_ns: str) -> tuple[str, str] | None:
        if (backend.get("kind") or "Service") != "Service" or backend.get("group") not in (None, ""):
            return None
        return (str(backend.get("namespace") or route_ns), str(backend.get("name")))

    def direct(backend: Mapping[str, Any], route_ns: str) -> bool:
        key = service_of(backend, route_ns)
        selector = services.get(key) if key is not None else None
        return (
            key is not None
            and selector is not None
            and any(pod_ns == key[0] and _selects(selector, labels) for pod_ns, labels in vllm_pods)
        )

    def reaches(backend: Mapping[str, Any], route_ns: str) -> bool:
        return direct(backend, route_ns) or service_of(backend, route_ns) in proxies

    return direct, reaches


def _public_routes(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, str, str, Any]]:
    """(resource, namespace, name, spec) of every HTTPRoute on a public load balancer."""
    internal = _internal_gateways(resources)
    for r in resources:
        if not (r.resource_type.startswith(GATEWAY_API) and r.resource_type.endswith(":HTTPRoute")):
            continue
        try:
            ns, name = _key(r.props)
            spec = r.props.get("spec") or {}
            parents = {
                (str(p.get("namespace") or ns), str(p.get("name"))) for p in spec.get("parentRefs") or []
            }
            if parents and parents <= internal:
                continue
            yield r, ns, name, spec
        except UnknownValueError:
            continue


def validate_vllm_routes_publish_guarded_paths(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    _direct, reaches_vllm = _vllm_backends(args.resources)
    for r, ns, name, spec in _public_routes(args.resources):
        try:
            for rule in spec.get("rules") or [{}]:
                backends = [b for b in rule.get("backendRefs") or [] if isinstance(b, Mapping)]
                if not any(reaches_vllm(b, ns) for b in backends):
                    continue
                for problem in route_rule_problems(rule):
                    report_violation(
                        f"HTTPRoute {ns}/{name} sends requests to vLLM but {problem}; match only "
                        f"PathPrefix {', '.join(GUARDED_PREFIXES)} (InferenceService publishes /v1 and /v2)",
                        r.urn,
                    )
        except UnknownValueError:
            continue


# --- Triton: on a GPU pool, and reachable only through an authenticating proxy ------------------

TRITON_IMAGE = re.compile(r"(^|/)tritonserver[:@]")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _serves_triton(c: Mapping[str, Any]) -> bool:
    words = [*_words(c, "command"), *_words(c, "args")]
    if words:
        return words[0].endswith("tritonserver")
    image = c.get("image")
    return isinstance(image, str) and bool(TRITON_IMAGE.search(image))


def _flag(words: list[str], name: str) -> str | None:
    """The value of `--name=value` or `--name value` (the last one wins, as in Triton), or None."""
    value = None
    for i, word in enumerate(words):
        if word.startswith(f"{name}="):
            value = word.split("=", 1)[1]
        elif word == name and i + 1 < len(words):
            value = words[i + 1]
    return value


def _triton_problems(c: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    """Triton has no API key: its HTTP API must listen on loopback only, with gRPC, SageMaker
    and Vertex AI (other listeners on the pod address) off, and another container of the pod
    (the authenticating proxy InferenceService puts there) must be the one that takes requests."""
    words = [*_words(c, "command"), *_words(c, "args")]
    problems = []
    if not requests_gpus(spec):
        problems.append(f"requests no {GPU_RESOURCE}: a Triton server runs on a GPU pool, under a GPU quota")
    if (_flag(words, "--http-address") or "0.0.0.0") not in LOOPBACK:
        problems.append(
            "listens for HTTP beyond loopback (--http-address); anyone reaching the pod skips authentication"
        )
    if (_flag(words, "--allow-grpc") or "true").lower() not in ("false", "0", "off"):
        problems.append("serves gRPC (set --allow-grpc=false); Triton asks no key on it")
    for listener in ("--allow-sagemaker", "--allow-vertex-ai"):
        if (_flag(words, listener) or "false").lower() in ("true", "1", "on"):
            problems.append(f"serves an unauthenticated endpoint ({listener})")
    name = c.get("name")
    proxies = [o for o in containers(spec) if o.get("name") != name and o.get("ports")]
    if not proxies:
        problems.append("has no authenticating proxy beside it: no other container of the pod takes requests")
    return problems


def validate_triton_behind_authentication(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for c in containers(spec):
        if _serves_triton(c):
            for problem in _triton_problems(c, spec):
                report_violation(f"Triton container {c.get('name')} {problem}", None)


def validate_models_only_through_the_ai_gateway(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    """With the AI gateway in the stack, no public route may reach vLLM around it: such a request
    has no caller identity, no token budget and no audit record."""
    if not any(r.resource_type == AI_GATEWAY_ROUTE for r in args.resources):
        return
    direct, _reaches = _vllm_backends(args.resources)
    for r, ns, name, spec in _public_routes(args.resources):
        try:
            for rule in spec.get("rules") or [{}]:
                for b in rule.get("backendRefs") or []:
                    if isinstance(b, Mapping) and direct(b, ns):
                        report_violation(
                            f"HTTPRoute {ns}/{name} sends requests straight to vLLM Service "
                            f"{b.get('namespace') or ns}/{b.get('name')}, around the AI gateway (no caller "
                            "identity, token budget or audit); route the load balancer to the gateway's "
                            "proxies and the model through its AIGatewayRoute",
                            r.urn,
                        )
        except UnknownValueError:
            continue


def _resource(name: str, description: str, validate: Callable[..., None]) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=skip_unknown(validate),
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _stack(name: str, description: str, validate: Callable[..., None]) -> StackValidationPolicy:
    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


POLICIES = [
    _resource(
        "no-latest-images",
        "Every container image and Helm image value is pinned to a tag other than latest, or to a digest.",
        validate_no_latest_images,
    ),
    _resource(
        "gpu-workloads-target-a-gpu-pool",
        "Pods that request nvidia.com/gpu select a GPU pool by its label and tolerate the GPU taint.",
        validate_gpu_workloads_target_a_pool,
    ),
    _stack(
        "gpu-namespaces-have-a-gpu-quota",
        "Every namespace running GPU workloads has a ResourceQuota on requests.nvidia.com/gpu.",
        validate_gpu_namespaces_have_quota,
    ),
    _stack(
        "storage-encrypted-and-private",
        "S3 buckets have KMS default encryption and a full public access block; EFS is KMS-encrypted.",
        validate_storage_encrypted_and_private,
    ),
    _resource(
        "launch-templates-require-imdsv2",
        "Launch templates and Karpenter EC2NodeClasses require IMDSv2 tokens with a hop limit of 1.",
        validate_imdsv2,
    ),
    _resource(
        "inference-services-have-an-api-key",
        "Every vLLM container takes its API key from VLLM_API_KEY set from a Secret, never from --api-key.",
        validate_inference_api_key,
    ),
    _stack(
        "vllm-routes-publish-only-guarded-paths",
        "A public HTTPRoute to vLLM matches only the path prefixes vLLM's API key guards "
        "(/v1, /v2, /inference, /cohere), and does not rewrite paths.",
        validate_vllm_routes_publish_guarded_paths,
    ),
    _resource(
        "triton-behind-authentication",
        "A Triton server requests GPUs (so it lands on a GPU pool under a GPU quota), listens on "
        "loopback only with gRPC, SageMaker and Vertex AI off, and a proxy beside it takes the requests.",
        validate_triton_behind_authentication,
    ),
    _stack(
        "models-only-through-the-ai-gateway",
        "In a stack with the AI gateway, no public HTTPRoute sends requests straight to a vLLM Service.",
        validate_models_only_through_the_ai_gateway,
    ),
]
