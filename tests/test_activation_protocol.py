"""The flag package under conda's real activation protocol, in every shell.

Each sequence is named after the commands a user types.  The flag packages are
installed with rattler from the built channel; some environments also hold a
compiler-style package whose scripts (sorting before `~x86_64-microarch-level`,
like `activate-gcc_linux-64.sh`) rewrite CFLAGS to `-march=nocona ... -isystem
<prefix>/include`, keep the value they replaced and put it back on deactivation.
Every sequence runs for each family: levels 1, 2, 3 of the sequences are x86-64
levels 1-3 and ppc64le levels 8-10 (whose compilers set `-mcpu=power8 ...`).
tests/replay.py replays conda's protocol; with MICROARCH_LEVEL_CONDA or
MICROARCH_LEVEL_MICROMAMBA naming a real executable, the real shell hook runs
the same commands.  After every command each variable the package touches is
checked byte for byte, and after the last one the whole environment equals the
one before the first.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import install_support
import pytest
import tool_runs
from replay import environments, parse, replay_script, tool_script
from shells import SHELLS, base_env, shell

from microarch_level.catalog.families import FAMILIES, Family
from microarch_level.catalog.levels import Catalog
from microarch_level.runtime.flag_scripts import FlagVar, flag_vars
from microarch_level.tools.facts import hook_facts


@dataclass(frozen=True)
class Profile:
    """One family as the sequences see it: rank 1, 2, 3 are its three lowest levels."""

    family: Family
    catalog: Catalog
    compiler_flags: str  # what that family's conda-forge compiler activation puts in CFLAGS

    def level(self, rank: int | None) -> int | None:
        return None if rank is None else self.catalog.levels[rank - 1]

    @property
    def vars(self) -> tuple[FlagVar, ...]:
        return flag_vars(self.family)


COMPILER_FLAGS = {"x86_64": "-march=nocona -mtune=haswell", "ppc64le": "-mcpu=power8 -mtune=power8"}
PROFILES = {f.name: Profile(f, f.catalog(None), COMPILER_FLAGS[f.name]) for f in FAMILIES}

# name -> (flag package level or None, has the compiler-style package)
ENVS = {
    "flags1": (1, False), "flags2": (2, False), "flags3": (3, False),
    "gcc2": (2, True), "gcc3": (3, True), "gcc1": (1, True),
    "gcc": (None, True), "plain": (None, False),
}

START = {
    "unset": None,
    "empty": "",
    "plain": "-O2 -pipe",
    "awkward": "-I'/a b' -DX=\"y z\" $HOME `x` * ? [x] \\ end! #%/\nsecond line",
}


def nocona(prefix: Path, profile: Profile) -> str:
    return f"{profile.compiler_flags} -isystem {prefix}/include"


@dataclass(frozen=True)
class Expect:
    """After one command: the flag level (rank) in effect, and CFLAGS written out.

    `cflags` parts: "start", "cc:<env>" (that env's compiler value), an int
    rank (that level's token), and a trailing literal such as " -g".
    `level` governs every other variable (no compiler script touches them).
    """

    level: int | None
    cflags: tuple


SEQUENCES = {
    "conda activate flags2 && conda activate --stack flags3 && conda deactivate && conda deactivate": [
        Expect(2, ("start", 2)), Expect(3, ("start", 3)), Expect(2, ("start", 2)), Expect(None, ("start",))],
    "conda activate flags3 && conda activate --stack plain && conda deactivate && conda deactivate": [
        Expect(3, ("start", 3)), Expect(3, ("start", 3)), Expect(3, ("start", 3)), Expect(None, ("start",))],
    "conda activate plain && conda activate --stack flags3 && conda deactivate && conda deactivate": [
        Expect(None, ("start",)), Expect(3, ("start", 3)), Expect(None, ("start",)), Expect(None, ("start",))],
    "conda activate flags2 && conda activate flags3 && conda deactivate && conda deactivate": [
        Expect(2, ("start", 2)), Expect(3, ("start", 3)), Expect(2, ("start", 2)), Expect(None, ("start",))],
    "conda activate flags3 && conda activate plain && conda activate flags2 && conda deactivate "
    "&& conda deactivate && conda deactivate": [
        Expect(3, ("start", 3)), Expect(None, ("start",)), Expect(2, ("start", 2)), Expect(None, ("start",)),
        Expect(3, ("start", 3)), Expect(None, ("start",))],
    "conda activate flags3 && conda activate flags3 && conda deactivate": [
        Expect(3, ("start", 3)), Expect(3, ("start", 3)), Expect(None, ("start",))],
    "conda activate flags3 && conda activate --stack flags1 && conda deactivate && conda deactivate": [
        Expect(3, ("start", 3)), Expect(1, ("start", 1)), Expect(3, ("start", 3)), Expect(None, ("start",))],
    "conda activate gcc3 && conda activate --stack gcc2 && conda deactivate && conda deactivate": [
        Expect(3, ("cc:gcc3", 3)), Expect(2, ("cc:gcc2", 2)), Expect(3, ("cc:gcc3", 3)), Expect(None, ("start",))],
    "conda activate flags3 && conda activate --stack gcc2 && conda deactivate && conda deactivate": [
        Expect(3, ("start", 3)), Expect(2, ("cc:gcc2", 2)), Expect(3, ("start", 3)), Expect(None, ("start",))],
    "conda activate flags3 && conda activate --stack gcc && conda deactivate && conda deactivate": [
        Expect(3, ("start", 3)), Expect(3, ("cc:gcc",)), Expect(3, ("start", 3)), Expect(None, ("start",))],
    "conda activate gcc3 && conda activate gcc2 && conda activate gcc3 && conda deactivate": [
        Expect(3, ("cc:gcc3", 3)), Expect(2, ("cc:gcc2", 2)), Expect(3, ("cc:gcc3", 3)), Expect(None, ("start",))],
    "conda activate gcc1 && conda activate --stack flags3 && conda deactivate && conda deactivate": [
        Expect(1, ("cc:gcc1", 1)), Expect(3, ("cc:gcc1", 3)), Expect(1, ("cc:gcc1", 1)), Expect(None, ("start",))],
    'conda activate flags3 && export CFLAGS="$CFLAGS -g" && conda activate --stack flags2 '
    "&& conda deactivate && conda deactivate": [
        Expect(3, ("start", 3)), Expect(3, ("start", 3, " -g")), Expect(2, ("start", " -g", 2)),
        Expect(3, ("start", " -g", 3)), Expect(None, ("start", " -g"))],
}


# ----------------------------------------------------------------------------
# What each variable must hold.

def token(var: FlagVar, level: int, profile: Profile) -> str | None:
    return var.token(level, profile.catalog, profile.family)


def with_token(var: FlagVar, value: str | None, rank: int | None, profile: Profile) -> str | None:
    """`value` (None: unset) plus the token of `rank`'s level, by the package's documented rules."""
    level = profile.level(rank)
    if level is None:
        return value
    baseline = profile.catalog.levels[0]
    tok = token(var, level, profile)
    if tok is None or (var.only_if_set and value is None):
        return value
    if var.kind == "go":
        return tok if (level > baseline or not value) else value
    if var.kind == "march" and level == baseline and value is not None and profile.family.cpu_flag in value:
        return value
    return tok if not value else f"{value} {tok}"


def expected_cflags(parts: tuple, start: str | None, envs: dict[str, Path], profile: Profile) -> str | None:
    cflags = next(v for v in profile.vars if v.name == "CFLAGS")
    value: str | None = None
    for part in parts:
        if part == "start":
            value = start
        elif isinstance(part, str) and part.startswith("cc:"):
            value = nocona(envs[part[3:]], profile)
        elif isinstance(part, int):
            value = with_token(cflags, value, part, profile)
        else:
            value = (value or "") + part
    return value


# ----------------------------------------------------------------------------
# Environments: the flag packages installed with rattler, plus compiler-style scripts.

COMPILER = {
    "sh": ("""# compiler-style test script: rewrites CFLAGS, keeps the first value it replaced
if [ -z "${CONDA_BACKUP_CFLAGS_HELD:-}" ]; then
  export CONDA_BACKUP_CFLAGS_HELD=1
  if [ -n "${CFLAGS+x}" ]; then export CONDA_BACKUP_CFLAGS="$CFLAGS"; fi
fi
export CFLAGS='@NOCONA@'
""", """if [ -n "${CONDA_BACKUP_CFLAGS_HELD:-}" ]; then
  if [ -n "${CONDA_BACKUP_CFLAGS+x}" ]; then export CFLAGS="$CONDA_BACKUP_CFLAGS"; else unset CFLAGS; fi
  unset CONDA_BACKUP_CFLAGS CONDA_BACKUP_CFLAGS_HELD
fi
"""),
    "fish": ("""if not set -q CONDA_BACKUP_CFLAGS_HELD
    set -gx CONDA_BACKUP_CFLAGS_HELD 1
    if set -q CFLAGS; set -gx CONDA_BACKUP_CFLAGS "$CFLAGS"; end
end
set -gx CFLAGS '@NOCONA@'
""", """if set -q CONDA_BACKUP_CFLAGS_HELD
    if set -q CONDA_BACKUP_CFLAGS; set -gx CFLAGS "$CONDA_BACKUP_CFLAGS"; else; set -e CFLAGS; end
    set -e CONDA_BACKUP_CFLAGS CONDA_BACKUP_CFLAGS_HELD
end
"""),
    "csh": ("""if ( ! $?CONDA_BACKUP_CFLAGS_HELD ) then
    setenv CONDA_BACKUP_CFLAGS_HELD 1
    if ( $?CFLAGS ) then
        setenv CONDA_BACKUP_CFLAGS $CFLAGS:q
    endif
endif
setenv CFLAGS '@NOCONA@'
""", """if ( $?CONDA_BACKUP_CFLAGS_HELD ) then
    if ( $?CONDA_BACKUP_CFLAGS ) then
        setenv CFLAGS $CONDA_BACKUP_CFLAGS:q
    else
        unsetenv CFLAGS
    endif
    unsetenv CONDA_BACKUP_CFLAGS CONDA_BACKUP_CFLAGS_HELD
endif
"""),
}


def add_compiler(prefix: Path, profile: Profile) -> None:
    """The scripts a compiler package would install, named to sort like conda-forge's."""
    for suffix, (activate, deactivate) in COMPILER.items():
        for kind, text in (("activate", activate), ("deactivate", deactivate)):
            folder = prefix / "etc" / "conda" / f"{kind}.d"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{kind}-gcc_linux-64.{suffix}").write_text(text.replace("@NOCONA@", nocona(prefix, profile)))


@pytest.fixture(scope="module", params=list(PROFILES))
def profile(request) -> Profile:
    return PROFILES[request.param]


@pytest.fixture(scope="module")
def envs(channel, tmp_path_factory, profile) -> dict[str, Path]:
    from microarch_level.tools.solve import base_virtual_packages, install, solve

    root = tmp_path_factory.mktemp(f"envs-{profile.family.name}")
    made = {}
    for name, (rank, compiler) in ENVS.items():
        prefix = root / name
        if rank is None:
            (prefix / "conda-meta").mkdir(parents=True)
            (prefix / "conda-meta" / "history").write_text("")
        else:
            install(solve([channel], [f"{profile.family.flags}=={profile.level(rank)}"], base_virtual_packages()),
                    prefix)
        if compiler:
            add_compiler(prefix, profile)
        made[name] = prefix
    return made


# ----------------------------------------------------------------------------

# conda's own bookkeeping, which the replay and the real tools set; not the package's business
CONDA_VARS = ("CONDA_", "_CONDA_", "_CE_", "MAMBA_", "PS1", "prompt", "PATH", "_", "SHLVL", "PWD", "OLDPWD", "fish_")


def touched(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(CONDA_VARS) or k.startswith("CONDA_BACKUP")}


def start_env(start: str, profile: Profile) -> dict[str, str]:
    value = START[start]
    if value is None:
        return base_env()
    return base_env(**{v.name: value for v in profile.vars})


def check(sequence: str, start: str, dumps: list[dict[str, str]], envs: dict[str, Path], profile: Profile) -> None:
    expects = SEQUENCES[sequence]
    steps = parse(sequence)
    assert len(dumps) == len(steps) + 1
    before = dumps[0]
    for step, expect, env in zip(steps, expects, dumps[1:]):
        for var in profile.vars:
            if var.name == "CFLAGS":
                want = expected_cflags(expect.cflags, START[start], envs, profile)
            else:
                want = with_token(var, START[start], expect.level, profile)
            assert env.get(var.name) == want, f"after `{step.typed}`: {var.name}"
    edited = {"CFLAGS"} if expects[-1].cflags != ("start",) else set()  # a user's edit stays
    assert ({k: v for k, v in touched(dumps[-1]).items() if k not in edited}
            == {k: v for k, v in touched(before).items() if k not in edited}), "after the last command"
    assert not [k for k in dumps[-1] if k.startswith(profile.family.state_prefix)]


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("start", list(START))
@pytest.mark.parametrize("shell_name", list(SHELLS))
@pytest.mark.parametrize("sequence", list(SEQUENCES))
def test_replayed_sequence_leaves_exactly_the_active_levels_flags(profile, envs, sequence, shell_name, start):
    sh = shell(shell_name)
    result = run([*sh.argv, "-c", replay_script(sh, parse(sequence), envs)], start_env(start, profile))
    assert (result.returncode, result.stderr) == (0, ""), result.stdout[-2000:]
    check(sequence, start, environments(result.stdout), envs, profile)


# ----------------------------------------------------------------------------
# The real tools' hooks.  Where a tool's hook cannot run in a shell (tools.HOOK_FACTS), the
# case is skipped -- only when the run shows the tool's or the shell's own message for it.

REAL_TOOLS = ("conda", "micromamba")
FOUND = {tool: install_support.locate(tool) for tool in REAL_TOOLS}


def tool_id(tool: str) -> str:
    found = FOUND[tool]
    return f"{tool}-{found.version}" if isinstance(found, tool_runs.Tool) else f"{tool}-missing"


def run_hooked(found: tool_runs.Tool, sh, steps, envs: dict[str, Path], env: dict[str, str]):
    """The steps typed in `sh` after sourcing `found`'s hook, as tools.HOOK_FACTS says to ask for it, with
    the tool cut off from the user's configuration and caches as the install tests' runs are."""
    hook = hook_facts(found.name, found.version)
    script = tool_script(found.name, [str(found.exe), *hook.argv(sh.name)], sh, steps, envs)
    with tempfile.TemporaryDirectory(prefix="microarch-hook-") as scratch:
        private = tool_runs.isolated_env(found.name, Path(scratch), env)
        return run([*sh.argv, "-c", script], {**private, "PATH": f"{found.exe.parent}:{env['PATH']}"})


def cannot_run(found: tool_runs.Tool, shell_name: str, output: str) -> str | None:
    """Why `found`'s hook cannot run in `shell_name`, when `output` shows the known message; else None."""
    hook = hook_facts(found.name, found.version)
    limit = hook.limit(shell_name)
    if limit is None:
        return None
    said = next((m for m in limit.messages if m in output), None)
    if said is None:
        return None
    return (f"{found.name} {found.version}'s {hook.hook_name(shell_name)} hook cannot run in {shell_name}: "
            f"{limit.why} (it printed '{said}'; seen: {limit.seen})")


def expected_prefixes(steps, envs: dict[str, Path], first: str | None = None,
                      lower_deactivates: bool = True) -> list[str | None]:
    """CONDA_PREFIX after each step, as the tool's activate/deactivate stack keeps it from `first` (the
    environment the hook itself activated, e.g. conda's base with auto_activate_base).
    `lower_deactivates`: activating the environment just below the top pops the top (HOOK_FACTS)."""
    stack: list[str] = [first] if first else []
    after = []
    for step in steps:
        prefix = str(envs[step.env]) if step.verb in ("activate", "stack") else None
        if step.verb == "deactivate" or (lower_deactivates and len(stack) > 1 and stack[-2] == prefix):
            stack = stack[:-1]
        elif prefix is not None and (not stack or stack[-1] != prefix):
            stack.append(prefix)
        after.append(stack[-1] if stack else None)
    return after


def replay_differs(found: tool_runs.Tool, steps, envs: dict[str, Path]) -> str | None:
    """Why the replayed expectations (which pop on activating the environment below the top) are not
    `found`'s for these steps; None when its stack rule is the replay's or the steps never hit it."""
    hook = hook_facts(found.name, found.version)
    if hook.lower_deactivates or expected_prefixes(steps, envs) == expected_prefixes(steps, envs,
                                                                                     lower_deactivates=False):
        return None
    return (f"{found.name} {found.version} pushes an environment already just below the top instead of "
            f"deactivating to it, so the replay's expectations are not its own (seen: {hook.seen})")


def check_the_tool_ran(found: tool_runs.Tool, steps, result, envs: dict[str, Path]) -> list[dict[str, str]]:
    """The tool's own success: its hook was sourced and every activate/deactivate moved CONDA_PREFIX."""
    dumps = environments(result.stdout)
    assert len(dumps) == len(steps) + 1, (
        f"{found}: the hooked shell stopped after {max(len(dumps) - 1, 0)} of {len(steps)} commands\n"
        f"{result.stderr[-2000:]}")
    got = [env.get("CONDA_PREFIX") for env in dumps[1:]]
    rule = hook_facts(found.name, found.version).lower_deactivates
    assert got == expected_prefixes(steps, envs, dumps[0].get("CONDA_PREFIX"), rule), (
        f"{found}: its activate/deactivate did not run as typed (CONDA_PREFIX after each command)\n"
        f"{result.stderr[-2000:]}")
    return dumps


@pytest.mark.parametrize("start", ["unset", "awkward"])
@pytest.mark.parametrize("shell_name", list(SHELLS))
@pytest.mark.parametrize("sequence", list(SEQUENCES))
@pytest.mark.parametrize("tool", REAL_TOOLS, ids=[tool_id(t) for t in REAL_TOOLS])
def test_the_real_tool_runs_the_sequence_the_same_way(profile, envs, tool, sequence, shell_name, start):
    found = install_support.require(tool, FOUND[tool])
    sh = shell(shell_name)
    steps = parse(sequence)
    result = run_hooked(found, sh, steps, envs, start_env(start, profile))
    reason = cannot_run(found, shell_name, result.stdout + result.stderr)
    if reason:
        install_support.does_not_apply(reason)
    dumps = check_the_tool_ran(found, steps, result, envs)
    assert result.returncode == 0, result.stderr[-2000:]
    differs = replay_differs(found, steps, envs)
    if differs:
        install_support.does_not_apply(differs)
    check(sequence, start, dumps, envs, profile)


# --- the skip rule, with stand-ins whose hooks fail in the real shells as the real tools' do -----

STAND_IN = {
    "sh": "micromamba() {\n  \\local ask_mamba\n  ask_mamba=\"$(printf x)\"\n}\n",
    "csh": "set ask_conda=\"x\n",
}


def stand_in(tmp_path: Path, hooks: dict[str, str]) -> tool_runs.Tool:
    """An executable called micromamba: `--version` says 2.0.5; `shell hook -s NAME` prints hooks[NAME]."""
    folder = tmp_path / "stand-in"
    folder.mkdir()
    for name, text in hooks.items():
        (folder / f"hook.{name}").write_text(text)
    exe = folder / "micromamba"
    exe.write_text(f"""#!/bin/sh
case "$1" in
  --version) echo 2.0.5 ;;
  shell) [ -f '{folder}/hook.'"$4" ] && cat '{folder}/hook.'"$4" ;;
esac
""")
    exe.chmod(0o755)
    return tool_runs.Tool("micromamba", exe, "2.0.5")


@pytest.mark.parametrize("shell_name", ["ksh93", "mksh"])
def test_a_hook_using_local_is_skipped_in_shells_without_local_naming_the_message(tmp_path, shell_name):
    found = stand_in(tmp_path, {"posix": STAND_IN["sh"]})
    sh = shell(shell_name)
    steps = parse("conda activate flags3")
    result = run_hooked(found, sh, steps, {"flags3": tmp_path}, base_env())
    reason = cannot_run(found, shell_name, result.stdout + result.stderr)
    assert reason is not None, result.stderr
    assert "local: " in reason and "libmamba/data/mamba.sh" in reason


def test_the_same_hook_in_a_shell_with_local_is_not_skipped(tmp_path):
    found = stand_in(tmp_path, {"bash": STAND_IN["sh"]})
    steps = parse("conda activate flags3")
    result = run_hooked(found, shell("bash"), steps, {"flags3": tmp_path}, base_env())
    assert cannot_run(found, "bash", result.stdout + result.stderr) is None
    with pytest.raises(AssertionError, match="did not run as typed"):
        check_the_tool_ran(found, steps, result, {"flags3": tmp_path})


def test_a_csh_hook_tcsh_cannot_read_is_skipped_naming_the_message(tmp_path):
    found = stand_in(tmp_path, {"tcsh": STAND_IN["csh"]})
    steps = parse("conda activate flags3")
    result = run_hooked(found, shell("tcsh"), steps, {"flags3": tmp_path}, base_env())
    reason = cannot_run(found, "tcsh", result.stdout + result.stderr)
    assert reason is not None and "Unmatched" in reason, result.stderr


def test_the_tools_hook_never_sees_the_users_home_condarc_or_package_cache(tmp_path):
    said = 'echo "seen: HOME=$HOME CONDARC=$CONDARC MAMBARC=$MAMBARC PKGS=$CONDA_PKGS_DIRS SOLVER=${CONDA_SOLVER-}"\n'
    found = stand_in(tmp_path, {"bash": said})
    user = {"HOME": "/home/user", "CONDARC": "/home/user/.condarc", "MAMBARC": "/home/user/.mambarc",
            "CONDA_PKGS_DIRS": "/home/user/pkgs", "CONDA_SOLVER": "classic"}
    result = run_hooked(found, shell("bash"), parse("conda activate flags3"), {"flags3": tmp_path},
                        base_env(**user))
    seen = dict(word.split("=", 1) for line in result.stdout.splitlines() if line.startswith("seen: ")
                for word in line.removeprefix("seen: ").split(" "))
    assert seen["SOLVER"] == "" and not [v for v in seen.values() if v.startswith("/home/user")], seen
    scratch = Path(seen["HOME"]).parent
    assert (seen["CONDARC"], seen["PKGS"]) == (str(scratch / "condarc"), str(scratch / "pkgs"))


def test_another_failure_in_a_limited_shell_is_not_skipped(tmp_path):
    found = stand_in(tmp_path, {"posix": "micromamba() {\n  if then\n}\n"})
    steps = parse("conda activate flags3")
    result = run_hooked(found, shell("ksh93"), steps, {"flags3": tmp_path}, base_env())
    assert result.stderr and cannot_run(found, "ksh93", result.stdout + result.stderr) is None
    with pytest.raises(AssertionError):
        check_the_tool_ran(found, steps, result, {"flags3": tmp_path})


def test_a_broken_activation_script_still_fails_under_the_real_tool(envs, profile, tmp_path):
    """The real tool's hook in bash, with the flag package's activation script broken in a copy of its env."""
    found = next((f for f in FOUND.values() if isinstance(f, tool_runs.Tool)), None)
    if found is None:
        pytest.skip("neither conda nor micromamba found (set MICROARCH_LEVEL_CONDA or MICROARCH_LEVEL_MICROMAMBA)")
    broken = tmp_path / "flags3"
    shutil.copytree(envs["flags3"], broken, symlinks=True)
    scripts = sorted((broken / "etc" / "conda" / "activate.d").glob("*.sh"))
    assert scripts, "the flag package installs no sh activation script"
    for script in scripts:
        script.write_text("export CFLAGS=broken\n" + script.read_text())
    sequence = "conda activate flags3 && conda activate flags3 && conda deactivate"
    steps = parse(sequence)
    copies = {**envs, "flags3": broken}
    result = run_hooked(found, shell("bash"), steps, copies, start_env("unset", profile))
    assert cannot_run(found, "bash", result.stdout + result.stderr) is None
    dumps = check_the_tool_ran(found, steps, result, copies)
    with pytest.raises(AssertionError, match="CFLAGS"):
        check(sequence, "unset", dumps, copies, profile)
