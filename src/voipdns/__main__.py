"""``python -m voipdns <app> [args...]``: the console scripts without their ``voipdns-`` prefix.

``python -m voipdns train net=demucs`` is ``voipdns-train net=demucs``; useful where the scripts are not on PATH
(a cluster job calling one Python, a notebook's ``!python -m``). ``python -m voipdns`` alone lists the apps.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

#: app name -> "module:function", the same targets as [project.scripts] (a test keeps the two equal)
APPS = {
    "train": "voipdns.cli.train:main",
    "eval": "voipdns.cli.evaluate:main",
    "enhance": "voipdns.cli.enhance:main",
    "report": "voipdns.cli.report:main",
    "simulate": "voipdns.cli.simulate:main",
    "export": "voipdns.cli.export:main",
    "live": "voipdns.cli.live:main",
    "aggregate": "voipdns.cli.aggregate:main",
    "train-tap": "voipdns.cli.train_tap_estimator:main",
    "train-speaker": "voipdns.cli.train_speaker:main",
}


def summary(target: str) -> str:
    """First line of the app module's docstring, read without importing it (no torch start-up for a listing)."""
    spec = importlib.util.find_spec(target.split(":")[0])
    docstring = ast.get_docstring(ast.parse(Path(spec.origin).read_text())) if spec and spec.origin else None
    first_line = (docstring or "").splitlines()[0] if docstring else ""
    return first_line.split(": ", 1)[-1]


def usage() -> str:
    width = max(map(len, APPS))
    lines = [f"  {name:<{width}}  {summary(target)}" for name, target in APPS.items()]
    return "\n".join(
        [
            "usage: python -m voipdns <app> [overrides or options...]",
            "",
            "apps (each is also a console script voipdns-<app>; `python -m voipdns <app> --help` for its help):",
            *lines,
        ]
    )


def main(argv: list[str] | None = None) -> int | None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in APPS:
        print(f"python -m voipdns: unknown app '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, function_name = APPS[name].split(":")
    # the apps read sys.argv themselves (Hydra, argparse): present them exactly as their console script would
    sys.argv = [f"voipdns-{name}", *rest]
    return getattr(importlib.import_module(module_name), function_name)()


if __name__ == "__main__":
    sys.exit(main())
