"""The real-engine e2e (scripts/e2e.sh): the program under the real Pulumi engine against a
real Kubernetes control plane, with AWS answered by a stand-in provider. Not shipped in the
distribution: it is how this repository tests itself."""
