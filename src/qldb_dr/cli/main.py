"""`qldb-dr`: the operator CLI. This module is the one place errors become messages and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

from qldb_dr import __version__, logs
from qldb_dr.cli import backup, console, drill, executions, local, restore, strategies, verify
from qldb_dr.cli.environment import Environment, ExitStatus
from qldb_dr.errors import QldbDrError

__all__ = ["Environment", "ExitStatus", "build_parser", "entry", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qldb-dr",
        description="Disaster recovery for Amazon QLDB ledgers: verified journal backups and restores.",
    )
    parser.add_argument("--version", action="version", version=f"qldb-dr {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors and the debug log")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    drill.register(commands)
    verify.register(commands)
    local.register(commands)
    executions.register(commands)
    backup.register(commands)
    restore.register(commands)
    strategies.register_standby(commands)
    console.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug is taken wherever it stands (`qldb-dr restore status X --debug` too), up to a `--`.
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end]
    argv = [a for i, a in enumerate(argv) if i >= end or a != "--debug"]
    try:
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args = parser.parse_args(argv)
        args.debug = debug
        logs.configure("DEBUG" if debug else "WARNING")
    except SystemExit as exc:  # usage errors (status 2), --help and --version (status 0)
        return int(exc.code or 0)
    try:
        status: int = args.run(args, env)
        return status
    except QldbDrError as exc:
        if args.debug:
            traceback.print_exc(file=env.stderr)
        env.stderr.write(f"qldb-dr: error: {exc}\n")
        if exc.hint:
            env.stderr.write(f"qldb-dr: hint: {exc.hint}\n")
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        env.stderr.write("qldb-dr: interrupted\n")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        if env.stdout is sys.stdout:  # nor at exit, when Python flushes stdout again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.OK
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if args.debug:
            traceback.print_exc(file=env.stderr)
        env.stderr.write(f"qldb-dr: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)\n")
        return ExitStatus.ERROR


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
