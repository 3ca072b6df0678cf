"""The pure core: plain functions and data with no Pulumi import, testable in microseconds."""
