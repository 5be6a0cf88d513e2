"""The `microarch-level` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def _root(args) -> Path:
    return Path(args.root).resolve()


def cmd_normalize(args) -> int:
    from .spelling import UnknownName, normalize

    try:
        print(normalize(args.name, _catalog(args), allow_level=not args.cpu))
    except UnknownName as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_generate(args) -> int:
    from .render import COMMAND, check, render_all, write

    catalog = _catalog(args)
    files = render_all(catalog)
    root = _root(args)
    if args.check:
        problems = check(root, files)
        if problems:
            print(f"{COMMAND} --check: {len(problems)} file(s) differ from archspec "
                  f"{catalog.archspec_version}:", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            print(f"run `{COMMAND}` (or `make generate`) and commit the result", file=sys.stderr)
            return 1
        print(f"{len(files)} generated files and the .ci_support jobs match archspec {catalog.archspec_version}")
        return 0
    changed = write(root, files)
    print(f"{len(changed)} of {len(files)} generated files changed (archspec {catalog.archspec_version})")
    for path in changed:
        print(f"  {path}")
    return 0


def cmd_build(args) -> int:
    from .channel import BuildFailed, build_channel

    root = _root(args)
    output = Path(args.output) if Path(args.output).is_absolute() else root / args.output
    try:
        report = build_channel(root, output, run_tests=not args.no_tests)
    except BuildFailed as exc:
        print(f"microarch-level build: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


# Commands implemented in their own modules, imported only when chosen: each module
# exposes HELP, add_arguments(parser) and run(args) -> exit status, and raises
# cli.UsageError for bad input.
MODULE_COMMANDS = {
    "matrix": ("microarch_level.matrix", "which gate level each CPU sample installs under each tool"),
    "doctor": ("microarch_level.doctor", "explain this machine's CPU and what each tool would install"),
    "explain": ("microarch_level.explain", "explain a solver error about __archspec in plain words"),
    "snippet": ("microarch_level.snippet", "print the recipe lines a downstream package needs"),
}


def _catalog(args):
    from .levels import CatalogError, load_catalog

    path = getattr(args, "archspec_json", None)
    try:
        return load_catalog(Path(path).resolve() if path else None)
    except CatalogError as exc:
        raise UsageError(str(exc)) from None


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="microarch-level", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=func)
        return sp

    def archspec_option(sp):
        sp.add_argument("--archspec-json", metavar="PATH",
                        help="read this microarchitectures.json instead of the installed archspec's")

    sp = add("normalize", cmd_normalize, "print the canonical archspec name and level of NAME")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("--cpu", action="store_true",
                    help="accept CPU names only, as CONDA_OVERRIDE_ARCHSPEC does (no bare levels such as v3)")
    archspec_option(sp)

    sp = add("generate", cmd_generate, "write every file derived from archspec's data")
    sp.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 and list the files that differ from what archspec says")
    sp.add_argument("--root", default=".", help="feedstock root (default: .)")
    archspec_option(sp)

    sp = add("build", cmd_build, "build every output into a local channel with rattler-build")
    sp.add_argument("--root", default=".", help="feedstock root (default: .)")
    sp.add_argument("--output", default="build_artifacts", help="channel directory (default: build_artifacts)")
    sp.add_argument("--no-tests", action="store_true", help="skip the recipe's own tests")

    chosen = next((a for a in (argv or []) if not a.startswith("-")), None)
    for name, (module_name, summary) in MODULE_COMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=summary, description=summary)
            continue
        import importlib

        module = importlib.import_module(module_name)
        sp = add(name, module.run, module.HELP)
        module.add_arguments(sp)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = parser(argv)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"microarch-level {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The console script: run, then exit without the finalization py-rattler can crash."""
    from .process import exit_now

    exit_now(main())


if __name__ == "__main__":
    entry()
