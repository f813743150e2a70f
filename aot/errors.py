"""Errors a user can act on, each with the CLI exit code it maps to.

Messages are one summary line (naming the node or file and what to do),
optionally followed by detail lines. Anything else that escapes is a bug.
"""

from __future__ import annotations


class AotError(Exception):
    exit_code = 2

    def __init__(self, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.details = list(details or [])

    def render(self) -> str:
        return "\n".join([str(self), *("  " + d for d in self.details)])


class ModelError(AotError):
    """The model is unreadable, invalid, unsupported or has dynamic shapes (exit 2)."""


class UsageError(AotError):
    """Bad arguments or an output directory we must not touch (exit 2)."""


class CheckFailed(AotError):
    """A requested check failed: a limit not met, outputs that do not match (exit 1)."""

    exit_code = 1


class ToolchainError(AotError):
    """Building or running the generated code failed (exit 3)."""

    exit_code = 3
