"""The `sernet-edge` command. Each subcommand lives in its own module; this one wires them
together and turns every error into one line and an exit code (2: your input, 1: ours)."""

from __future__ import annotations

import os
import sys

import click

from sernet_edge import __version__
from sernet_edge.errors import SernetError

EXIT_OUTPUT_CLOSED = 141   # 128 + SIGPIPE (13): what a shell reports for `yes | head -1`


class _Group(click.Group):
    """Runs commands so that errors print one line, unless --debug asks for the traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SernetError as e:
            _fail(ctx, str(e), e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            _output_closed()
        except MemoryError:
            _fail(ctx, "out of memory", 1)
        except ImportError as e:
            from sernet_edge import extras
            if extras.extra_for(e.name) is None:   # not an extra's module: ours, code 1
                _fail(ctx, f"internal error: {type(e).__name__}: {e}", 1)
            _fail(ctx, extras.message(e.name, ctx.invoked_subcommand), 2)
        except Exception as e:  # an internal error: still one line, code 1
            _fail(ctx, f"internal error: {type(e).__name__}: {e}", 1)


def _output_closed():
    """The reader of standard output went away (`sernet-edge listen --json | head -1`): end
    quietly, as Unix tools do when SIGPIPE ends them, with the shell's code for that (141).
    Standard output now points at /dev/null so that Python's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # stdout replaced (tests, notebooks)
        pass
    sys.exit(EXIT_OUTPUT_CLOSED)


def _fail(ctx, message: str, code: int):
    if ctx.find_root().params.get("debug"):
        raise
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sernet-edge")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
def main(debug):
    """Speech emotion recognition on small devices (Light-SERNet).

    \b
    Device side (no TensorFlow):  classify, evaluate, listen, bench, data, export-c
    Training side (the [train] extra):  train, convert
    """


def _register():
    from sernet_edge.cli import data, train
    main.add_command(data.data)
    main.add_command(train.train)
    for name in ("classify", "evaluate", "convert", "bench", "listen", "export_c"):
        try:
            module = __import__(f"sernet_edge.cli.{name}", fromlist=[name])
        except ImportError as e:
            if e.name and e.name.startswith("sernet_edge.cli"):
                continue  # that command has not been built yet
            raise
        main.add_command(getattr(module, name))


_register()
