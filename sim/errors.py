"""Errors shared by the command-line tools."""


class UsageError(Exception):
    """Bad command-line input: printed without a traceback, exit code 2."""
