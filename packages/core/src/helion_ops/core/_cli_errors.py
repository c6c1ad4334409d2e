"""Errors of the ``helion-ops`` command. Each is a HelionOpsError, so the
command's one error handler (``_cli.exit_code_for``) maps it to an exit code
and prints its message on one line."""

from __future__ import annotations

from ._errors import HelionOpsError


class CliUsageError(HelionOpsError, ValueError):
    """The command line is malformed (argparse's errors, conflicting options)."""


class NoGPUError(HelionOpsError, RuntimeError):
    """A subcommand that measures or tunes on a GPU was run where CUDA is unavailable."""


class OutputPathError(HelionOpsError, OSError):
    """An output path (--json, --plot, --out) cannot be written."""


class MissingDependencyError(HelionOpsError, ImportError):
    """An optional package that an option needs (matplotlib for --plot) is not installed."""


class ResultMismatchError(HelionOpsError, ValueError):
    """An op's results cannot be compared with its reference's (other count, shape or None-ness)."""


class AutotuneError(HelionOpsError, RuntimeError):
    """Autotuning cannot run as asked: a stand-in autotuner that cannot be imported, a picker
    naming a key no entry has, a worker process that sees no GPU, a worker's driver thread failing.
    (No GPU in the command's own process is a ``NoGPUError``, missing Ray a ``MissingDependencyError``.)"""


class ConfigMergeError(HelionOpsError, ValueError):
    """``merge`` refuses a source entry: its provenance names a GPU of another platform than its file."""
