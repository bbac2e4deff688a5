"""The ``irtrouter`` command: one group, one module per job.

Library errors become one line on stderr (``irtrouter: error: ...``) and exit status 1; usage
errors exit 2 (click's convention). Progress bars go to stderr; results to stdout.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from irtrouter import __version__
from irtrouter.errors import IRTRouterError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IRTRouterError as exc:
            _fail(str(exc))
        except BrokenPipeError:  # `irtrouter route ... | head`: the reader has all it wanted
            _quiet_stdout()
            sys.exit(0)
        except OSError as exc:  # unreadable or unwritable paths
            _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        except KeyboardInterrupt:
            click.echo("irtrouter: interrupted", err=True)
            sys.exit(130)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail on the closed pipe."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _fail(message: str) -> None:
    click.echo(f"irtrouter: error: {' '.join(message.split())}", err=True)
    sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="irtrouter")
@click.option("-v", "--verbose", count=True, help="Log more (-v: info, -vv: debug).")
def cli(verbose: int) -> None:
    """Route each LLM query to the model that answers it well at the lowest cost.

    irtrouter learns, from results of LLMs on queries, how able each LLM is and how hard each
    query is (Item Response Theory), then sends every new query to the LLM with the best
    alpha * P - beta * cost.

    \b
    Typical session:
      irtrouter data check results.csv --llms llms.json
      irtrouter train results.csv --llms llms.json --out my-router
      irtrouter route my-router "Prove that there are infinitely many primes" --alpha 0.8
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    cli(prog_name="irtrouter")


# One module per job; each defines ``command`` (a click command or group). Add yours here.
COMMAND_MODULES: tuple[str, ...] = ("train", "route", "data", "serve", "explain", "onboard", "evaluate", "batch")
COMMAND_MODULES += ("learn", "shadow", "drift", "report")


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        cli.add_command(importlib.import_module(f"irtrouter.cli.{name}").command)


_register()
