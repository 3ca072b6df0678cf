"""TEST DOUBLE for the e2e only: a stand-in for the Pulumi AWS provider and the AWS CLI.

The e2e runs the stack program under the real Pulumi engine against a local
kube-apiserver, but the real AWS provider cannot be built or used there. These
stand-ins answer in its place, so the engine can run the whole graph:

- `pulumi-resource-aws` (launcher) -> `provider.py`: a resource provider plugin
  that "creates" AWS resources by computing the ids, ARNs and outputs the
  offline plan's mocks (infra/plan/mocks.py, `PlatformMocks`) already give, and
  whose EKS cluster points at the local API server.
- `aws` (launcher) -> `aws_cli.py`: answers `aws eks get-token` with the local
  API server's token, for the kubeconfig the program builds.

They prove the graph runs under the engine; they prove nothing about AWS.
Never put them on PATH outside the e2e.
"""
