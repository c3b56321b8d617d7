"""How CLI commands fail: a clear message on stderr and an exit code, never a traceback."""

from __future__ import annotations

import typer


class CliError(Exception):
    """Bad input or an unreachable dependency; ``code`` 2 for usage errors, 1 for failures."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def exit_with(error: CliError) -> typer.Exit:
    typer.echo(f"hookgate: {error}", err=True)
    return typer.Exit(error.code)
