"""How every Hydra entry point ends: a user's mistake is one clear line and exit 2, Ctrl-C prints the resume command.

Wrap the task function under ``@hydra.main``::

    @hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="enhance")
    @cli_entry()
    def main(cfg): ...

Before the task runs, every mandatory value (``???``) it needs is checked, and all missing ones are named at once.
An expected user error (a missing file or key, a bad checkpoint, a bad audio file, an unwritable folder, a
``UsageError``) prints ``<prog>: error: <message>`` on stderr and exits with status 2, like argparse; anything
else is a bug and keeps Hydra's report. ``HYDRA_FULL_ERROR=1`` shows the full traceback for user errors too.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

from voipdns.audio import AudioFileError
from voipdns.checkpoint_formats.errors import CheckpointError
from voipdns.truncated_audio import LOG_ENV as TRUNCATED_LOG_ENV
from voipdns.truncated_audio import forget_recorded
from voipdns.truncated_audio import summary_line as truncated_summary_line

USAGE_EXIT_CODE = 2  # argparse's status for a command-line mistake
INTERRUPTED_EXIT_CODE = 130  # the shell's status for a process stopped by SIGINT


class UsageError(ValueError):
    """A mistake in the command line or in the files it names; the message says what to change."""


#: Errors a user causes and can fix; their message is enough, a traceback only hides it.
USER_ERRORS: tuple[type[BaseException], ...] = (
    UsageError,
    MissingMandatoryValue,
    InterpolationToMissingValueError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    CheckpointError,
    AudioFileError,
)

#: ``cfg -> extra overrides`` that make a rerun continue an interrupted run (None: no resume command).
ResumeOverrides = Callable[[DictConfig], list[str]]


def _config_keys(cfg: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted key, kind)`` for every ``???`` (kind "missing") and interpolation, without resolving any."""
    if isinstance(cfg, DictConfig):
        keys: Iterable[Any] = cfg.keys()
    elif isinstance(cfg, ListConfig):
        keys = range(len(cfg))
    else:
        return
    for key in keys:
        name = f"{prefix}.{key}" if prefix else str(key)
        if OmegaConf.is_missing(cfg, key):
            yield name, "missing"
        elif OmegaConf.is_interpolation(cfg, key):
            yield name, "interpolation"
        else:
            yield from _config_keys(cfg[key], name)


def missing_mandatory_keys(cfg: Any) -> list[str]:
    """Dotted keys whose value is ``???``, without resolving interpolations (which would stop at the first)."""
    return [name for name, kind in _config_keys(cfg) if kind == "missing"]


def _missing_key_of(error: Exception, fallback: str) -> str:
    """The ``???`` key an OmegaConf error names on its first line (``...: Missing mandatory value: <key>``)."""
    return str(error).splitlines()[0].rsplit(":", 1)[-1].strip() or fallback


def _missing_behind(cfg: DictConfig, key: str) -> str | None:
    """The ``???`` key that interpolation ``key`` leads to, or None when it resolves (or fails otherwise)."""
    try:
        OmegaConf.select(cfg, key, throw_on_missing=True)
    except InterpolationToMissingValueError as error:
        return _missing_key_of(error, key)
    except Exception:  # any other problem surfaces, with its own message, when the run reads the key
        return None
    return None


def check_mandatory(cfg: DictConfig, needed: Iterable[str] | None = None) -> None:
    """Raise ``UsageError`` naming every missing mandatory key under ``needed`` (dotted prefixes; None: all).

    A needed key that interpolates a ``???`` elsewhere (``data.test.root: ${..train.root}``) names that key.
    """
    roots = None if needed is None else tuple(needed)
    missing: dict[str, None] = {}  # ordered set
    for key, kind in _config_keys(cfg):
        if roots is not None and not any(key == root or key.startswith(f"{root}.") for root in roots):
            continue
        source = key if kind == "missing" else _missing_behind(cfg, key)
        if source:
            missing[source] = None
    if missing:
        example = " ".join(f"{key}=..." for key in missing)
        raise UsageError(f"missing mandatory value(s): {', '.join(missing)}; set them on the command line: {example}")


#: OS errors about the place a run writes to (read-only file system, full disk, a file where a folder should be).
USER_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EEXIST, errno.ENOTDIR, errno.EISDIR}
)


def user_error_in(error: BaseException) -> BaseException | None:
    """The user error that caused ``error`` (Hydra wraps constructor errors), or None if it is not one."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, USER_ERRORS) or (isinstance(error, OSError) and error.errno in USER_ERRNOS):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def one_line(error: BaseException) -> str:
    if isinstance(error, (MissingMandatoryValue, InterpolationToMissingValueError)):  # multi-line internals
        key = _missing_key_of(error, getattr(error, "full_key", None) or "")
        return f"missing mandatory value: {key}; set it on the command line: {key}=..."
    if isinstance(error, OSError) and error.errno in USER_ERRNOS and error.filename:
        return f"{error.filename}: cannot write ({error.strerror}); choose another folder, or fix it and rerun"
    text = " ".join(str(error).split()) or type(error).__name__
    return text


def program_name(task: Callable) -> str:
    """``voipdns-train`` when started as the console script, else ``python -m voipdns.cli.train``."""
    name = Path(sys.argv[0]).name
    if name.startswith("voipdns-"):
        return name
    module = task.__module__
    if module == "__main__":  # started with python -m: the module's real name is in its spec
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else Path(sys.argv[0]).stem
    return f"python -m {module}"


def needs_one_split(cfg: DictConfig) -> list[str]:
    """For ``needs=``: every key except the data splits other than ``cfg.split`` (only that one is built)."""
    return [str(key) for key in cfg if key != "data"] + [f"data.{cfg.split}"]


def rerun_command(task: Callable, cfg: DictConfig, extra: list[str]) -> str:
    """The command line of this run, pinned to its output folder, with ``extra`` overrides replacing any of theirs."""
    hydra_cfg = HydraConfig.get()
    replaced = {override.split("=", 1)[0].lstrip("+~") for override in extra} | {"hydra.run.dir"}
    kept = [override for override in hydra_cfg.overrides.task if override.split("=", 1)[0].lstrip("+~") not in replaced]
    pinned = [f"hydra.run.dir={hydra_cfg.runtime.output_dir}", *extra]
    return " ".join([program_name(task), *map(shlex.quote, [*kept, *pinned])])


def _report_interrupt(task: Callable, cfg: DictConfig, resume: ResumeOverrides | None) -> None:
    if resume is None or not HydraConfig.initialized():
        print(f"\n{program_name(task)}: interrupted", file=sys.stderr)
        return
    command = rerun_command(task, cfg, resume(cfg))
    print(f"\n{program_name(task)}: interrupted. Continue where it stopped with:\n  {command}", file=sys.stderr)


@contextlib.contextmanager
def _truncated_audio_report(program: str):
    """Count truncated WAV files read by the run and its worker processes; one closing line names them."""
    forget_recorded()
    shared = None
    if not os.environ.get(TRUNCATED_LOG_ENV):  # workers inherit the variable and append to the file
        handle, shared = tempfile.mkstemp(prefix="voipdns-truncated-audio-", suffix=".tsv")
        os.close(handle)
        os.environ[TRUNCATED_LOG_ENV] = shared
    try:
        yield
    finally:
        line = truncated_summary_line()
        if line:
            print(f"{program}: warning: {line}", file=sys.stderr)
        if shared:
            os.environ.pop(TRUNCATED_LOG_ENV, None)
            Path(shared).unlink(missing_ok=True)


def _full_error_wanted() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


def cli_entry(
    *, needs: Callable[[DictConfig], Iterable[str]] | None = None, resume: ResumeOverrides | None = lambda cfg: []
) -> Callable:
    """Decorator for a Hydra task function (see the module doc).

    ``needs(cfg)``: the config keys (dotted prefixes) this run reads, so mandatory values elsewhere (another
    split's paths) are not demanded; None checks the whole config. ``resume(cfg)``: the overrides that make a
    rerun continue after Ctrl-C (default: the same command, which picks up what is done); None: not resumable.
    """

    def decorate(task: Callable) -> Callable:
        @functools.wraps(task)
        def run(cfg: DictConfig):
            try:
                check_mandatory(cfg, needs(cfg) if needs else None)
                with _truncated_audio_report(program_name(task)):
                    return task(cfg)
            except KeyboardInterrupt:
                _report_interrupt(task, cfg, resume)
                raise SystemExit(INTERRUPTED_EXIT_CODE) from None
            except SystemExit as stop:  # Lightning turns Ctrl-C into sys.exit(1) after its graceful shutdown
                if isinstance(stop.__context__, KeyboardInterrupt):
                    _report_interrupt(task, cfg, resume)
                    raise SystemExit(INTERRUPTED_EXIT_CODE) from None
                raise
            except Exception as error:
                cause = user_error_in(error)
                if cause is None or _full_error_wanted():
                    raise
                print(f"{program_name(task)}: error: {one_line(cause)}", file=sys.stderr)
                raise SystemExit(USAGE_EXIT_CODE) from None

        return run

    return decorate
