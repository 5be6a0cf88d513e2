"""The `microarch-level` command line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from . import __version__, process
from .errors import Failure, Interrupted, UsageError, UserError, describe_os_error, one_line

PROG = "microarch-level"


def _root(args) -> Path:
    """--root as an existing directory: a command never creates the tree it is pointed at."""
    if not args.root:
        raise UsageError("--root is empty; give the feedstock's directory (default: .)")
    root = Path(args.root).resolve()
    if not root.exists():
        raise UsageError(f"--root {args.root}: no such directory; give the feedstock's directory")
    if not root.is_dir():
        raise UsageError(f"--root {args.root} is not a directory; give the feedstock's directory")
    return root


def cmd_normalize(args) -> int:
    from .catalog.spelling import normalize_any

    print(normalize_any(args.name, args.family, catalog_path(args), allow_level=not args.cpu))
    return 0


def cmd_generate(args) -> int:
    from .catalog.families import catalogs
    from .feedstock.render import COMMAND, check, drift, feedstock_root, refuse_foreign, render_all, write

    catalog = _catalog(args)
    files = render_all([c for _, c in catalogs(catalog_path(args))])
    root = feedstock_root(_root(args))
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
    problems = drift(root, files)
    refuse_foreign(problems)
    _check_writable(root, [d.path for d in problems])
    try:
        changed = write(root, files)
    except OSError as exc:
        raise Failure(f"cannot write the generated files: {describe_os_error(exc)}") from None
    print(f"{len(changed)} of {len(files)} generated files changed (archspec {catalog.archspec_version})")
    for path in changed:
        print(f"  {path}")
    return 0


def _check_writable(root: Path, paths: list[str]) -> None:
    """Refuse before writing anything when a directory generate writes into is read-only.

    Each file is replaced atomically, but a tree where the first files were
    written and the rest refused would be half-generated.
    """
    for relative in sorted({Path(path).parent for path in paths}):
        directory = root / relative
        while not directory.exists():  # generate creates missing directories in the nearest existing one
            directory = directory.parent
        if not os.access(directory, os.W_OK | os.X_OK):
            raise Failure(f"cannot write into {directory}: permission denied or a read-only file system; "
                          "nothing was changed")


def cmd_build(args) -> int:
    from .feedstock.channel import build_channel

    if not args.output:
        raise UsageError("--output is empty; give the channel's directory (default: build_artifacts)")
    root = _root(args)
    output = Path(args.output) if Path(args.output).is_absolute() else root / args.output
    report = build_channel(root, output, run_tests=not args.no_tests)
    print(report.summary())
    return 0


# Commands implemented in their own modules, imported only when chosen: each module
# exposes HELP, add_arguments(parser) and run(args) -> exit status, and raises
# errors.UsageError (or another errors.UserError) for bad input.
MODULE_COMMANDS = {
    "matrix": ("microarch_level.diagnostics.matrix", "which gate level each CPU sample installs under each tool"),
    "doctor": ("microarch_level.diagnostics.doctor", "explain this machine's CPU and what each tool would install"),
    "explain": ("microarch_level.diagnostics.explain", "explain a solver error about __archspec in plain words"),
    "snippet": ("microarch_level.diagnostics.snippet", "print the recipe lines a downstream package needs"),
    "check": ("microarch_level.diagnostics.check", "say whether environments and lock files will run on these CPUs"),
}


def catalog_path(args) -> Path | None:
    """The microarchitectures.json given by --archspec-json, or None for the data archspec.cpu reads."""
    path = getattr(args, "archspec_json", None)
    if path == "":
        raise UsageError("--archspec-json is empty; give the path of a microarchitectures.json")
    return Path(path).resolve() if path else None


def _catalog(args):
    from .catalog.levels import load_catalog

    return load_catalog(catalog_path(args))


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line (no usage block), raised as a UsageError."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    from .catalog.families import FAMILIES

    p = ArgumentParser(prog=PROG, description=__doc__)
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
    sp.add_argument("--family", choices=[f.name for f in FAMILIES],
                    help=f"the CPU family to read NAME in (default: {FAMILIES[0].name}, or the family whose name NAME is)")
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


def _command(argv: list[str]) -> str:
    chosen = next((a for a in argv if not a.startswith("-")), None)
    return f"{PROG} {chosen}" if chosen in COMMANDS else PROG


COMMANDS = ("normalize", "generate", "build", *MODULE_COMMANDS)


def main(argv: list[str] | None = None) -> int:
    """Run one command; every UserError, OSError and output problem ends here as one line.

    Exit status: 0 success, 1 failure, 2 usage error; a closed pipe or a
    termination signal ends the process killed by that signal (process.die_of).
    """
    argv = sys.argv[1:] if argv is None else argv
    stdout_ok = process.guard_streams()
    who = _command(argv)
    try:
        try:
            args = parser(argv).parse_args(argv)
            if not stdout_ok:
                raise process.OutputFailed(process.CLOSED_STDOUT)
            status = args.func(args)
            sys.stdout.flush()
            return status
        except SystemExit as exc:  # --help and --version end here after printing
            sys.stdout.flush()
            return exc.code if isinstance(exc.code, int) else 0
    except UserError as exc:
        print(f"{who}: {one_line(str(exc))}", file=sys.stderr)
        return exc.status
    except BrokenPipeError:
        process.die_of(signal.SIGPIPE)
    except OSError as exc:
        print(f"{who}: {one_line(describe_os_error(exc))}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        process.die_of(exc.signum)
    except KeyboardInterrupt:
        process.die_of(signal.SIGINT)
    return 1  # not reached: die_of does not return


def entry() -> None:
    """The console script: run, then exit without the finalization py-rattler can crash."""
    process.exit_now(main())


if __name__ == "__main__":
    entry()
