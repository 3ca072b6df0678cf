"""The pieces of an InferenceService, along the seams a reader names.

- args: the typed inputs (InferenceServiceArgs and its parts), shared by every piece.
- track: what every track has whatever serves in it: the Deployment (placement, rollout,
  hardening, volumes), Service, ALB target group, PodDisruptionBudget and KEDA ScaledObject.
- route: how requests reach the tracks (the HTTPRoute on the shared Gateway); the one place a
  gateway in front of the models (issue 14) changes.
- monitor: how Prometheus scrapes the tracks (PodMonitor).
- runtimes: what each serving runtime puts in the pod (container args, env, probes, ports,
  caches, metrics). A new runtime is a new module there and one line in its registry.
"""
