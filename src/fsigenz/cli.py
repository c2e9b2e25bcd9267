"""The project's ``kedro run`` (also ``python -m fsigenz``): Kedro's own command, ending differently.

- A failure ends with one or two lines: the error's message (it names the file or parameter, the
  field, the row and what was expected), the node that raised and where the full traceback is. The
  traceback goes to ``logs/last_error.log``; ``FSIGENZ_VERBOSE=1`` prints it as Kedro does instead.
  When handling an error raised a second one, the first is the one reported.
- SIGTERM and SIGHUP (``timeout``, ``kill``, a closed terminal) stop the run as Ctrl-C does; a stopped
  run's MLflow run is closed KILLED with the signal as its reason, and nothing it wrote is published
  (:mod:`fsigenz.publication`). A stop whose exception Python dropped (raised inside a finalizer) is
  raised again at the next node boundary (:class:`fsigenz.hooks.RequestedStopHooks`).
- ``--namespaces`` naming an unknown dataset, or one whose data folder is empty, is refused before
  anything runs, listing the valid names and the folder to fill.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path

import click
from kedro.framework.cli.project import run as kedro_run

VERBOSE = "FSIGENZ_VERBOSE"
ERROR_LOG = Path("logs/last_error.log")
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
MAX_MESSAGE_LINES = 4


class RunStopped(BaseException):
    """Raised in the main thread when a stop signal arrives (like ``KeyboardInterrupt`` for SIGINT)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


_requested_stop: list[str] = []  # the stop signal received during this `kedro run`, if any


def _stop_error(signal_name: str) -> BaseException:
    return KeyboardInterrupt() if signal_name == "SIGINT" else RunStopped(signal_name)


def _raise_run_stopped(signum, frame) -> None:
    """The handler of SIGINT and the stop signals: remember the stop, then raise it where the run is.

    The raise can be lost: Python prints and drops an exception raised while a finalizer (``__del__``,
    a weakref callback) runs, and the run would go on as if no signal had come. The stop is remembered
    so that :func:`raise_requested_stop` raises it again at the next node boundary.
    """
    name = signal.Signals(signum).name
    _requested_stop[:] = [name]
    raise _stop_error(name)


def raise_requested_stop() -> None:
    """Raise the stop a signal requested during this run, if its first raise was lost (a no-op outside
    the project's ``kedro run``, and once the run has handled the stop)."""
    if _requested_stop:
        raise _stop_error(_requested_stop[0])


def first_error(error: BaseException) -> BaseException:
    """The error that started it all: follow errors raised while another was being handled (Python's
    "During handling of the above exception, another exception occurred") back to the first."""
    seen = {id(error)}
    while error.__cause__ is None and not error.__suppress_context__ and error.__context__ is not None:
        if id(error.__context__) in seen or not isinstance(error.__context__, Exception):
            break
        error = error.__context__
        seen.add(id(error))
    return error


def error_report(error: BaseException, node: str | None, log: Path | None) -> str:
    """The short report of ``error``: its message (prefixed by its type unless it is a plain input error),
    then one line with the node that raised and where the traceback is."""
    from fsigenz.run_records import INPUT_ERRORS

    reason = first_error(error)
    message = str(reason.args[0]) if isinstance(reason, KeyError) and reason.args else str(reason)
    lines = message.strip().splitlines() or [type(reason).__name__]
    if len(lines) > MAX_MESSAGE_LINES:
        lines = [*lines[:MAX_MESSAGE_LINES], f"… ({len(lines) - MAX_MESSAGE_LINES} more lines in the log)"]
    kind = "Error" if isinstance(reason, INPUT_ERRORS) else f"Error ({type(reason).__name__})"
    where = [f"in node {node}"] if node else []
    if reason is not error:
        where.append(f"then {type(error).__name__} while handling it")
    where.append(f"full traceback in {log}" if log else "full traceback not written")
    where.append(f"or rerun with {VERBOSE}=1")
    return "\n".join([f"{kind}: {lines[0]}", *lines[1:], "  (" + "; ".join(where) + ")"])


def _bookkeeping(action, *args):
    """Run a clean-up step after a failure or a stop; its own failure is noted, never raised over the
    first."""
    try:
        return action(*args)
    except Exception as error:  # noqa: BLE001 - the first error is the one to report
        click.echo(f"(while cleaning up: {type(error).__name__}: {error})", err=True)
        return None


def _write_log(error: BaseException) -> Path | None:
    try:
        ERROR_LOG.parent.mkdir(parents=True, exist_ok=True)
        ERROR_LOG.write_text("".join(traceback.format_exception(error)))
        return ERROR_LOG
    except OSError:
        return None


def check_namespaces(namespaces: list[str] | tuple[str, ...]) -> None:
    """Refuse ``--namespaces`` naming a dataset that is unknown or has no data, saying what is valid."""
    from fsigenz.pipeline_registry import (
        FILE_NAMESPACES,
        GENERATED_NAMESPACES,
        RAW_DATA,
        available_namespaces,
    )

    known = [*GENERATED_NAMESPACES, *FILE_NAMESPACES]
    present = available_namespaces()
    for name in namespaces:
        if name not in known:
            raise click.BadParameter(
                f"unknown dataset namespace '{name}'; expected one of {', '.join(known)} "
                f"(with data now: {', '.join(present)})",
                param_hint="'--namespaces'",
            )
        if name not in present:
            raise click.BadParameter(
                f"dataset '{name}' has no data: put its files in {RAW_DATA / name}/ (docs/data.md); "
                f"datasets with data now: {', '.join(present)}",
                param_hint="'--namespaces'",
            )


@click.group(name="fsigenz")
def cli() -> None:
    """fsigenz project commands."""


@cli.command(name="run", params=kedro_run.params, help=kedro_run.help, short_help=kedro_run.short_help)
@click.pass_context
def run(ctx: click.Context, **kwargs):
    from fsigenz.publication import discard_staged_outputs
    from fsigenz.run_records import close_failed_runs, close_stopped_runs, failed_node, record_command_line

    record_command_line(sys.argv)
    _requested_stop.clear()
    handled = list(STOP_SIGNALS)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored (a background job)
        handled.append(signal.SIGINT)
    previous = {number: signal.signal(number, _raise_run_stopped) for number in handled}
    try:
        if kwargs.get("namespaces"):
            check_namespaces(kwargs["namespaces"])
        return ctx.invoke(kedro_run, **kwargs)
    except (KeyboardInterrupt, RunStopped) as stop:
        for number in (signal.SIGINT, *STOP_SIGNALS):  # finish the bookkeeping before the next signal
            signal.signal(number, signal.SIG_IGN)
        _requested_stop.clear()
        name = stop.signal_name if isinstance(stop, RunStopped) else "SIGINT"
        _bookkeeping(discard_staged_outputs)
        closed = _bookkeeping(close_stopped_runs, name)
        runs = f"; MLflow run {', '.join(closed)} marked KILLED" if closed else ""
        click.echo(f"Run stopped by {name}: its outputs were not published{runs}", err=True)
        sys.exit(128 + getattr(signal, name))
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except Exception as error:
        _bookkeeping(discard_staged_outputs)
        _bookkeeping(
            close_failed_runs, error
        )  # one still open: the error came after the pipeline (model logging)
        if os.environ.get(VERBOSE, "").lower() in ("1", "true", "yes"):
            raise
        click.echo(error_report(error, failed_node(), _write_log(error)), err=True)
        sys.exit(1)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
