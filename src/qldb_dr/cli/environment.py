"""What a command may touch besides its arguments, and how it ends: the CLI's two contracts,
apart from `main` so that the subcommands need not import it."""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass, field
from typing import TextIO


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILED = 1  # the command ran and found a problem (a check FAILED, a workflow failed)
    ERROR = 2  # usage error or unreadable input: nothing was decided
    INTERRUPTED = 130


@dataclass
class Environment:
    """What a command may touch besides its arguments; tests pass their own."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    @property
    def interactive(self) -> bool:
        return bool(getattr(self.stderr, "isatty", lambda: False)())
