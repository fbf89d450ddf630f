"""Errors shared by the command-line tools."""


class UsageError(Exception):
    """Bad command-line input: printed without a traceback, exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so a run ends like a Ctrl-C: cleanly, exit 130."""


class RunInterrupted(KeyboardInterrupt):
    """A run ended by Ctrl-C or a signal after it was kept in the run store as "interrupted".

    The message is the one line to print: when, why, and which run keeps what was done.
    """
