"""The dispatcher's decisions as pluggable policies, in families named after RAWSim-O's controllers.

One module per family (its interface, the default and the alternatives), `registry` for names and
entry points. See docs/policies.md for how to write and register one.
"""

from fctwin.controller.policies.base import Policy
from fctwin.controller.policies.registry import (
    DEFAULTS,
    FAMILIES,
    GROUP,
    PolicyError,
    PolicySet,
    build_policies,
    make_policy,
    policy_class,
    policy_names,
)

__all__ = [
    "DEFAULTS",
    "FAMILIES",
    "GROUP",
    "Policy",
    "PolicyError",
    "PolicySet",
    "build_policies",
    "make_policy",
    "policy_class",
    "policy_names",
]
