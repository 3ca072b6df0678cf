"""Typed stack config: the only place that knows the shape of Pulumi.<stack>.yaml."""

from infra.config.load import NAMESPACE, ConfigError, format_path, load_stack_config
from infra.config.problem import Problem
from infra.config.stack import SECTIONS, StackConfig

__all__ = [
    "NAMESPACE",
    "SECTIONS",
    "ConfigError",
    "Problem",
    "StackConfig",
    "format_path",
    "load_stack_config",
]
