"""Imports every built-in unit module so that their ``@register`` decorators run."""

import importlib

BUILTIN_MODULES = (
    "fctwin.robots.titan",
    "fctwin.robots.human",
    "fctwin.robots.vulcan",
    "fctwin.robots.bluejay",
    "fctwin.robots.sequoia",
)

for _name in BUILTIN_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a unit module not written yet must not hide the others
        if exc.name != _name:
            raise
