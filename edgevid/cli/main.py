"""``edgevid`` command line: one small module per command, errors mapped to exit codes in one place."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import EdgevidError

#: command name -> module under edgevid.cli that defines ``add_parser(sub)`` and ``run(args) -> int``
COMMANDS = {
    "list": "list_cmd",
    "devices": "devices_cmd",
    "explain": "explain_cmd",
    "run": "run_cmd",
    "bench": "bench_cmd",
    "fetch": "fetch_cmd",
    "build": "build_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (imports each command module, which is cheap)."""
    from .. import __version__

    parser = argparse.ArgumentParser(prog="edgevid", description="Video AI on edge devices.")
    parser.add_argument("--version", action="version", version=f"edgevid {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        importlib.import_module(f"{__package__}.{module}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn every ``EdgevidError`` into one line and its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EdgevidError as exc:
        print(f"edgevid: error: {exc}", file=sys.stderr)
        if os.environ.get("EDGEVID_DEBUG"):
            raise
        return exc.exit_code
    except KeyboardInterrupt:
        print("edgevid: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `edgevid list | head` closes our stdout early; that is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
