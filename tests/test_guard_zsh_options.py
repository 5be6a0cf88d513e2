"""The guard under every zsh option and emulation that changes quoting, globbing or word
splitting: the same warning on a CPU below the level, silence on one at it.

zsh parses a sourced file with the caller's options (conda sources activation scripts
from a function in the user's shell), so an option such as csh_junkie_quotes, which
rejects a newline inside quotes, applies to every line of the guard.  Each option runs
in a subshell of one zsh process per CPU; the guard is sourced from a function, as
conda's hook does, with its environment exported as CONDA_PREFIX.
"""

from __future__ import annotations

from guard_support import WARNING, cpuinfo_at, guard  # noqa: F401
from shells import base_env, run, shell

SEPARATOR = "@@ next option @@"
OPTIONS = [
    "",  # the reference: zsh's defaults
    "setopt csh_junkie_quotes", "emulate csh", "emulate ksh", "emulate sh", "setopt sh_word_split",
    "setopt no_glob", "setopt rc_quotes", "setopt extended_glob", "setopt ksh_arrays", "setopt glob_subst",
    "setopt rc_expand_param", "setopt no_multibyte", "setopt ksh_glob", "setopt sh_glob", "setopt null_glob",
    "setopt csh_null_glob", "setopt no_nomatch", "setopt no_equals", "setopt magic_equal_subst",
    "setopt brace_ccl", "setopt ignore_braces", "setopt ignore_close_braces", "setopt posix_builtins",
    "setopt posix_identifiers", "setopt posix_strings", "setopt posix_argzero", "setopt no_function_argzero",
    "setopt octal_zeroes", "setopt c_bases", "setopt no_short_loops", "setopt sh_file_expansion",
    "setopt no_bare_glob_qual", "setopt ksh_typeset", "setopt no_multi_func_def", "setopt typeset_silent",
    "setopt all_export", "setopt no_bad_pattern", "setopt hist_subst_pattern", "setopt sh_option_letters",
    "setopt err_exit err_return no_unset pipe_fail warn_create_global",
    "setopt csh_junkie_quotes rc_quotes sh_word_split ksh_arrays no_glob glob_subst extended_glob",
]


def outputs(installed, cpuinfo) -> list[str]:
    prefix = installed(3)
    script = "".join(f'( {opt}{";" if opt else ""} activate() {{ . "$MAL_GUARD"; }}; activate; echo "next=$?" ) 2>&1; '
                     f"echo '{SEPARATOR}'\n" for opt in OPTIONS)
    result = run(shell("zsh"), script, env=base_env(CONDA_PREFIX=str(prefix), MAL_GUARD=str(guard(prefix, "sh"))),
                 cpuinfo=cpuinfo)
    assert result.stderr == "", result.stderr
    found = result.stdout.split(f"{SEPARATOR}\n")[:-1]
    assert len(found) == len(OPTIONS), result.stdout[-2000:]
    return found


def test_every_zsh_option_gets_the_same_warning_on_a_cpu_below_the_level(installed, cpuinfo_at):
    found = outputs(installed, cpuinfo_at(2))
    assert f"{WARNING} 3 but this CPU is level 2 (from /proc/cpuinfo)" in found[0]
    assert found[0].endswith("next=0\n")
    assert {opt: out for opt, out in zip(OPTIONS, found) if out != found[0]} == {}


def test_every_zsh_option_keeps_the_guard_silent_on_a_cpu_at_the_level(installed, cpuinfo_at):
    found = outputs(installed, cpuinfo_at(4))
    assert {opt: out for opt, out in zip(OPTIONS, found) if out != "next=0\n"} == {}
