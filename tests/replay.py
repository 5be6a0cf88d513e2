"""conda's activation protocol as a small model, and the shell scripts it replays.

What conda/activate.py (26.x `_build_activate_stack`, `build_deactivate`,
`build_reactivate`, `_get_activate_scripts`) and libmamba core/activation.cpp
(`build_activate`, `build_deactivate`, `build_reactivate`) do, for the parts that
reach activation scripts:

- `activate B` from A: A's deactivate.d, then B's activate.d; A stays below B
  (CONDA_PREFIX_<n>) and comes back on `deactivate`;
- `activate --stack B`: B's activate.d only;
- `deactivate` from B with A below (stacked or not): B's deactivate.d, then A's
  activate.d again; from the last environment: its deactivate.d only;
- `activate X` when X is active: reactivation (X's deactivate.d, then activate.d);
  when X is the environment just below: a deactivation;
- activate.d in sorted file-name order, deactivate.d reverse-sorted; scripts run
  after conda's own variables are exported (deactivate.d before they change).

`Replay.script(shell)` turns a sequence of user commands into one script for a
shell that dumps the environment after every command; `tool_script` runs the same
commands through a real conda or micromamba shell hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shells import Shell

DUMP_MARK = "\n@@step@@\n"


@dataclass(frozen=True)
class Step:
    """One command a user types: conda activate [--stack] ENV, conda deactivate, or a CFLAGS edit."""

    verb: str           # "activate", "stack", "deactivate", "append-cflags"
    env: str = ""
    text: str = ""      # for append-cflags: what the user appends

    @property
    def typed(self) -> str:
        return {"activate": f"conda activate {self.env}", "stack": f"conda activate --stack {self.env}",
                "deactivate": "conda deactivate",
                "append-cflags": f'export CFLAGS="$CFLAGS{self.text}"'}[self.verb]


def parse(sequence: str) -> list[Step]:
    """`conda activate a && conda activate --stack b && conda deactivate` -> Steps."""
    steps = []
    for command in (c.strip() for c in sequence.split(" && ")):
        words = command.split()
        if words[:2] == ["conda", "deactivate"]:
            steps.append(Step("deactivate"))
        elif words[:3] == ["conda", "activate", "--stack"]:
            steps.append(Step("stack", words[3]))
        elif words[:2] == ["conda", "activate"]:
            steps.append(Step("activate", words[2]))
        elif command.startswith('export CFLAGS="$CFLAGS') and command.endswith('"'):
            steps.append(Step("append-cflags", text=command[len('export CFLAGS="$CFLAGS'):-1]))
        else:
            raise ValueError(f"not a command the replay knows: {command!r}")
    return steps


def scripts(prefix: Path, kind: str, suffix: str) -> list[Path]:
    folder = prefix / "etc" / "conda" / f"{kind}.d"
    found = sorted(p for p in folder.iterdir() if p.name.endswith("." + suffix)) if folder.is_dir() else []
    return found if kind == "activate" else found[::-1]


@dataclass
class Conda:
    """The environment stack conda keeps in CONDA_PREFIX, CONDA_PREFIX_<n>, CONDA_STACKED_<n>."""

    suffix: str
    stack: list[tuple[Path, bool]] = field(default_factory=list)

    def run(self, step: Step, prefix: Path | None) -> list[tuple]:
        if step.verb == "deactivate":
            return self.deactivate()
        if step.verb == "append-cflags":
            return [("append", "CFLAGS", step.text)]
        assert prefix is not None
        if self.stack and self.stack[-1][0] == prefix:
            return self.reactivate()
        if len(self.stack) > 1 and self.stack[-2][0] == prefix:
            return self.deactivate()
        return self.activate(prefix, step.verb == "stack")

    def activate(self, prefix: Path, stacked: bool) -> list[tuple]:
        n = len(self.stack)
        actions: list[tuple] = []
        exports = [("export", "CONDA_PREFIX", str(prefix)), ("export", "CONDA_SHLVL", str(n + 1))]
        if n:
            exports.append(("export", f"CONDA_PREFIX_{n}", str(self.stack[-1][0])))
            if stacked:
                exports.append(("export", f"CONDA_STACKED_{n + 1}", "true"))
            else:
                actions += [("source", s) for s in scripts(self.stack[-1][0], "deactivate", self.suffix)]
        self.stack.append((prefix, stacked and n > 0))
        return actions + exports + [("source", s) for s in scripts(prefix, "activate", self.suffix)]

    def deactivate(self) -> list[tuple]:
        if not self.stack:
            return []
        n = len(self.stack)
        prefix, stacked = self.stack.pop()
        actions: list[tuple] = [("source", s) for s in scripts(prefix, "deactivate", self.suffix)]
        if n == 1:
            return actions + [("unset", "CONDA_PREFIX"), ("export", "CONDA_SHLVL", "0")]
        actions.append(("unset", f"CONDA_PREFIX_{n - 1}"))
        if stacked:
            actions.append(("unset", f"CONDA_STACKED_{n}"))
        lower = self.stack[-1][0]
        actions += [("export", "CONDA_PREFIX", str(lower)), ("export", "CONDA_SHLVL", str(n - 1))]
        return actions + [("source", s) for s in scripts(lower, "activate", self.suffix)]

    def reactivate(self) -> list[tuple]:
        prefix = self.stack[-1][0]
        return ([("source", s) for s in scripts(prefix, "deactivate", self.suffix)]
                + [("source", s) for s in scripts(prefix, "activate", self.suffix)])


# ----------------------------------------------------------------------------
# Rendering for each shell.

def _q(value: str) -> str:
    if "'" in value:
        raise ValueError(f"replay paths and values may not contain a quote: {value!r}")
    return f"'{value}'"


def render(sh: Shell, action: tuple) -> str:
    verb = action[0]
    if sh.suffix == "sh":
        return {"source": lambda: f". {_q(str(action[1]))}", "export": lambda: f"export {action[1]}={_q(action[2])}",
                "unset": lambda: f"unset {action[1]}",
                "append": lambda: f'export {action[1]}="${action[1]}{action[2]}"'}[verb]()
    if sh.suffix == "fish":
        return {"source": lambda: f"source {_q(str(action[1]))}", "export": lambda: f"set -gx {action[1]} {_q(action[2])}",
                "unset": lambda: f"set -e {action[1]}",
                "append": lambda: f'set -gx {action[1]} "${action[1]}{action[2]}"'}[verb]()
    return {"source": lambda: f"source {_q(str(action[1]))}", "export": lambda: f"setenv {action[1]} {_q(action[2])}",
            "unset": lambda: f"unsetenv {action[1]}",
            "append": lambda: f"setenv {action[1]} ${action[1]}:q{_q(action[2])}"}[verb]()


def dump(sh: Shell) -> str:
    return "env -0; printf '\\n@@step@@\\n'"


def replay_script(sh: Shell, steps: list[Step], envs: dict[str, Path]) -> str:
    """One script: dump, then each step's actions followed by a dump.

    conda runs activation scripts from inside a shell function; in zsh the
    replay does too, with warn_create_global on, so a global the scripts create
    by accident shows up on stderr.  POSIX shells run with `set -eu`.
    """
    conda = Conda(sh.suffix)
    lines = [dump(sh)]
    if sh.name == "zsh":
        lines.insert(0, "setopt warn_create_global")
    if sh.suffix == "sh":
        lines.insert(0, "set -eu")
    for step in steps:
        body = [render(sh, a) for a in conda.run(step, envs.get(step.env))]
        if sh.name == "zsh" and step.verb != "append-cflags":
            lines.append("() {\n" + "\n".join(body or [":"]) + "\n}")
        else:
            lines += body
        lines.append(dump(sh))
    return "\n".join(lines) + "\n"


def tool_script(command: str, hook: list[str], sh: Shell, steps: list[Step], envs: dict[str, Path]) -> str:
    """The same commands through a real tool's shell hook: `hook` is the argv printing it (tools.HOOK_FACTS),
    `command` the shell function it defines (`conda`, `micromamba`)."""
    hook_line = " ".join(_q(word) for word in hook)
    if sh.suffix == "fish":
        lines = [f"{hook_line} | source"]
    elif sh.suffix == "csh":
        lines = [f"eval `{hook_line}`"]
    else:
        lines = [f'eval "$({hook_line})"']
    lines.append(dump(sh))
    for step in steps:
        if step.verb == "deactivate":
            lines.append(f"{command} deactivate")
        elif step.verb == "append-cflags":
            lines.append(render(sh, ("append", "CFLAGS", step.text)))
        else:
            stack = " --stack" if step.verb == "stack" else ""
            lines.append(f"{command} activate{stack} {_q(str(envs[step.env]))}")
        lines.append(dump(sh))
    return "\n".join(lines) + "\n"


def environments(stdout: str) -> list[dict[str, str]]:
    """The `env -0` dumps of a replay, in order."""
    parsed = []
    for chunk in stdout.split(DUMP_MARK)[:-1]:
        entries = [e for e in chunk.split("\0") if e]
        parsed.append(dict(e.split("=", 1) for e in entries))
    return parsed
