"""The ppc64le gate's runtime guard: warns exactly when this CPU is an older POWER than the environment.

The CPU is always controlled: a real POWER sample (tests/data/cpuinfo-ppc64le)
mounted over /proc/cpuinfo, or no cpuinfo and a fake ppc64le loader of our
own at /lib64/ld64.so.2 printing glibc-style hwcaps.  This machine's own CPU
and its x86-64 loader never decide a verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA, load_samples, require_data
from guard_support import (
    STRICT, each_override, expect_alive, expect_warning_exactly_below, set_override, source, split_outputs
)
from shells import POSIX, SHELLS, base_env, run, shell

from microarch_level.catalog.families import PPC64LE
from microarch_level.catalog.power import load_power_catalog
from microarch_level.catalog.spelling import normalize_power, suggest
from microarch_level.diagnostics.cpuinfo import namespace

CATALOG = load_power_catalog()
GUARDED = CATALOG.levels[1:]
SAMPLES = load_samples(DATA / "cpuinfo-ppc64le")
X86_SAMPLES = load_samples(DATA / "cpuinfo")
WARNING = f"{PPC64LE.gate}: warning: this environment was built for ppc64le level"


@pytest.fixture
def power9() -> Path:
    """The real POWER9 sample's path."""
    found = next((s.path for s in SAMPLES if s.level == 9), None)
    if found is None:
        require_data(DATA / "cpuinfo-ppc64le" / "expected.tsv", "no POWER9 sample")
    return found


def guard(prefix: Path, suffix: str) -> Path:
    return prefix / "etc" / "conda" / "activate.d" / f"{PPC64LE.gate}_guard.{suffix}"


def activate(sh, prefix: Path) -> str:
    return f"{source(sh, guard(prefix, sh.suffix))}; false; echo next={sh.status}"


@pytest.fixture(scope="session")
def power_installed(channel, tmp_path_factory):
    """power_installed(level) -> a prefix holding the ppc64le gate and flag package of `level` (rattler)."""
    from microarch_level.tools.solve import archspec_package, base_virtual_packages, install, solve

    made: dict[int, Path] = {}

    def make(level: int) -> Path:
        if level not in made:
            newest = max(CATALOG.names, key=CATALOG.names.get)
            records = solve([channel], [f"{PPC64LE.gate}=={level}", f"{PPC64LE.flags}=={level}"],
                            base_virtual_packages() + [archspec_package(newest)],
                            platforms=("linux-ppc64le", "noarch"))
            made[level] = tmp_path_factory.mktemp(f"ppc{level}") / "env"
            install(records, made[level])
        return made[level]

    return make


def with_loader(tmp_path: Path, hwcaps: str | None) -> tuple[str, ...]:
    """An argv prefix: /proc/cpuinfo empty, and /lib64 holding the real x86-64 loader plus, when
    `hwcaps` is given, a fake ppc64le loader printing glibc's hwcaps lines."""
    prefix = namespace()
    if prefix is None:
        pytest.skip("unshare not found (util-linux)")
    lib = tmp_path / "lib64"
    lib.mkdir()
    x86 = Path("/lib64/ld-linux-x86-64.so.2")
    if x86.exists():
        (lib / x86.name).symlink_to(x86.resolve())
    if hwcaps is not None:
        fake = lib / Path(PPC64LE.loader).name
        body = "".join(f"  {line}\\n" for line in hwcaps.splitlines())
        fake.write_text(f"#!/bin/sh\nprintf 'Subdirectories of glibc-hwcaps directories, in priority order:\\n{body}'\n")
        fake.chmod(0o755)
    mount = 'mount --bind /dev/null /proc/cpuinfo && mount --bind "$1" /lib64 && shift && exec "$@"'
    return (*prefix, "sh", "-c", mount, "sh", str(lib))


def test_the_level_8_gate_ships_no_guard(power_installed):
    assert not list((power_installed(8) / "etc" / "conda" / "activate.d").glob(f"{PPC64LE.gate}_guard.*"))
    assert list((power_installed(9) / "etc" / "conda" / "activate.d").glob(f"{PPC64LE.gate}_guard.*"))


@pytest.mark.parametrize("level", GUARDED)
@pytest.mark.parametrize("shell_name", list(SHELLS))
@pytest.mark.parametrize("power", SAMPLES, ids=lambda s: s.id)
def test_guard_warns_exactly_when_the_power_sample_is_below_the_level(power_installed, power, level, shell_name):
    sh = shell(shell_name)
    result = run(sh, activate(sh, power_installed(level)), cpuinfo=power.path)
    expect_warning_exactly_below(result, WARNING, PPC64LE.gate, level, power.level)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_level_10_environment_on_a_power9_warns(power_installed, power9, shell_name):
    sh = shell(shell_name)
    result = run(sh, activate(sh, power_installed(10)), cpuinfo=power9)
    expect_alive(result)
    assert f"{WARNING} 10 but this CPU is level 9 (from /proc/cpuinfo)" in result.stderr


@pytest.mark.parametrize("shell_name", list(SHELLS))
@pytest.mark.parametrize("x86", X86_SAMPLES[:1], ids=lambda s: s.id)
def test_an_x86_64_cpu_tells_the_power_guard_nothing(power_installed, x86, shell_name):
    """No `cpu : POWERn` line and no ppc64le loader here: nothing is known, so silence."""
    sh = shell(shell_name)
    result = run(sh, activate(sh, power_installed(10)), cpuinfo=x86.path)
    expect_alive(result)
    assert result.stderr == ""


HWCAPS = {
    10: "power10 (supported, searched)\npower9 (supported, searched)",
    9: "power10\npower9 (supported, searched)",
    8: "power10\npower9",
}


@pytest.mark.parametrize("cpu", sorted(HWCAPS))
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_without_cpuinfo_glibcs_hwcaps_tell_the_generation(power_installed, tmp_path, shell_name, cpu):
    sh = shell(shell_name)
    result = run(sh, activate(sh, power_installed(10)), prefix_argv=with_loader(tmp_path, HWCAPS[cpu]))
    expect_alive(result)
    if cpu < 10:
        assert f"{WARNING} 10 but this CPU is level {cpu} (from glibc's ld.so --help)" in result.stderr
    else:
        assert result.stderr == ""


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_with_nothing_known_the_override_stands_for_the_cpu(power_installed, tmp_path, shell_name):
    sh = shell(shell_name)
    script = f"{set_override(sh, 'Power9LE')}; {activate(sh, power_installed(10))}"
    result = run(sh, script, prefix_argv=with_loader(tmp_path, None))
    expect_alive(result)
    assert f"{WARNING} 10 but this CPU is level 9 (from CONDA_OVERRIDE_ARCHSPEC=power9le)" in result.stderr


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_with_nothing_known_and_no_override_the_guard_is_silent(power_installed, tmp_path, shell_name):
    sh = shell(shell_name)
    result = run(sh, activate(sh, power_installed(10)), prefix_argv=with_loader(tmp_path, None))
    expect_alive(result)
    assert result.stderr == ""


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_an_override_never_silences_what_the_cpu_warrants_and_is_named(power_installed, power9, shell_name):
    sh = shell(shell_name)
    script = f"{set_override(sh, 'power10le')}; {activate(sh, power_installed(10))}"
    result = run(sh, script, cpuinfo=power9)
    expect_alive(result)
    assert f"{WARNING} 10 but this CPU is level 9 (from /proc/cpuinfo)" in result.stderr
    assert "CONDA_OVERRIDE_ARCHSPEC=power10le claims level 10; it only steers the solver" in result.stderr


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_an_unknown_override_is_named_in_the_warning_the_cpu_warrants(power_installed, power9, shell_name):
    sh = shell(shell_name)
    script = f"{set_override(sh, 'zen4')}; {activate(sh, power_installed(10))}"
    result = run(sh, script, cpuinfo=power9)
    assert f"CONDA_OVERRIDE_ARCHSPEC='zen4' is not a ppc64le CPU name known to archspec {CATALOG.archspec_version}" \
        in result.stderr
    assert result.stderr.count("warning:") == 1


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_microarch_level_guard_0_silences_it(power_installed, power9, shell_name):
    sh = shell(shell_name)
    env = base_env(MICROARCH_LEVEL_GUARD="0")
    result = run(sh, activate(sh, power_installed(10)), env=env, cpuinfo=power9)
    expect_alive(result)
    assert result.stderr == ""


@pytest.mark.parametrize("power", SAMPLES, ids=lambda s: s.id)
@pytest.mark.parametrize("shell_name", list(STRICT))
def test_guard_survives_the_strictest_shell_options(power_installed, power, shell_name):
    sample = power
    sh = shell(shell_name)
    script = f"{STRICT[shell_name]}; {source(sh, guard(power_installed(9), sh.suffix))}; true; echo next=$?"
    result = run(sh, script, cpuinfo=sample.path)
    assert "next=0" in result.stdout, result.stderr
    assert (WARNING in result.stderr) == (sample.level < 9)
    assert "parameter not set" not in result.stderr and "unbound" not in result.stderr


@pytest.mark.parametrize("power", SAMPLES, ids=lambda s: s.id)
@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_guard_leaves_no_variables_behind(power_installed, power, shell_name):
    sh = shell(shell_name)
    sample = power
    listing = "set -n" if shell_name == "fish" else "set"
    result = run(sh, f"{source(sh, guard(power_installed(9), sh.suffix))}; {listing}", cpuinfo=sample.path)
    assert "_mal_" not in result.stdout


@pytest.mark.parametrize("shell_name", POSIX)
def test_a_closed_stderr_never_fails_activation(power_installed, power9, shell_name):
    sh = shell(shell_name)
    script = f"set -e; {source(sh, guard(power_installed(10), sh.suffix))} 2>&-; echo alive"
    result = run(sh, script, cpuinfo=power9)
    assert "alive" in result.stdout, result.stderr


# --- hostile /proc/cpuinfo and overrides ----------------------------------------------

def sample_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return path


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_cpu_line_without_a_final_newline_is_read(power_installed, tmp_path, shell_name):
    sh = shell(shell_name)
    cpuinfo = sample_text(tmp_path, "processor\t: 0\ncpu\t\t: POWER9, altivec supported")
    result = run(sh, activate(sh, power_installed(10)), cpuinfo=cpuinfo)
    assert f"{WARNING} 10 but this CPU is level 9 (from /proc/cpuinfo)" in result.stderr


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_only_the_first_processors_cpu_line_counts(power_installed, tmp_path, shell_name):
    """A first block without a `cpu` line tells nothing, whatever the second says: silence."""
    sh = shell(shell_name)
    cpuinfo = sample_text(tmp_path, "processor\t: 0\nclock\t\t: 3000MHz\n\nprocessor\t: 1\ncpu\t\t: POWER8\n")
    result = run(sh, activate(sh, power_installed(10)), cpuinfo=cpuinfo)
    expect_alive(result)
    assert result.stderr == ""


@pytest.mark.parametrize("line", ["cpu\t\t: POWER100", "cpu\t\t: PowerPC 970", "cpu\t\t: POWER", "cpus\t: POWER8"])
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_cpu_line_naming_no_generation_tells_nothing(power_installed, tmp_path, shell_name, line):
    sh = shell(shell_name)
    result = run(sh, activate(sh, power_installed(10)), cpuinfo=sample_text(tmp_path, f"processor\t: 0\n{line}\n"))
    expect_alive(result)
    assert result.stderr == ""


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_cpu_line_is_found_after_lines_that_only_begin_like_one(power_installed, tmp_path, shell_name):
    sh = shell(shell_name)
    cpuinfo = sample_text(tmp_path, "processor\t: 0\ncpus\t: 8\ncpu\t\t: POWER9, altivec supported\n")
    result = run(sh, activate(sh, power_installed(10)), cpuinfo=cpuinfo)
    assert f"{WARNING} 10 but this CPU is level 9 (from /proc/cpuinfo)" in result.stderr


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_an_override_with_control_characters_is_never_echoed(power_installed, power9, shell_name):
    sh = shell(shell_name)
    env = base_env(CONDA_OVERRIDE_ARCHSPEC="zen\x1b[31m4")
    result = run(sh, activate(sh, power_installed(10)), env=env, cpuinfo=power9)
    assert "\x1b" not in result.stderr
    assert "a value with characters no CPU name has, not shown" in result.stderr


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_long_override_is_not_shown(power_installed, power9, shell_name):
    sh = shell(shell_name)
    env = base_env(CONDA_OVERRIDE_ARCHSPEC="p" * 500)
    result = run(sh, activate(sh, power_installed(10)), env=env, cpuinfo=power9)
    assert "a value of 500 characters, not shown" in result.stderr and "ppppp" not in result.stderr


# --- CONDA_OVERRIDE_ARCHSPEC in every spelling (the x86-64 guard's reading, same code) ---------

def respellings(name: str) -> list[str]:
    return sorted({name, name.upper(), name.replace("power", "power-"), name.upper().replace("LE", "_LE"),
                   f"  {name}\t", name.replace("power", "Power_")})


OVERRIDES = [(text, name) for name in CATALOG.names for text in respellings(name)]
# Unknown names and the known name the guard suggests (longest shared prefix, at least
# spelling.MIN_PREFIX characters), or None; `power9` is archspec's big-endian POWER9.
UNKNOWN = {"power9": "power9le", "POWER_11LE": "power10le", "ppc64": "ppc64le", "zen4": None}


def sample_at(level: int) -> Path:
    found = next((s.path for s in SAMPLES if s.level == level), None)
    if found is None:
        require_data(DATA / "cpuinfo-ppc64le" / "expected.tsv", f"no POWER{level} sample")
    return found


def test_every_respelling_reads_as_its_name_in_python():
    """The table's own premise: Python's reading (what the solver would see) of each spelling."""
    for text, name in OVERRIDES:
        assert normalize_power(text, CATALOG).name == name, text


def test_the_guards_suggestions_are_pythons():
    for text, hint in UNKNOWN.items():
        if hint is not None:
            assert suggest(text, CATALOG) == hint, text


@pytest.mark.parametrize(("env_level", "cpu_level"), [(10, 9), (9, 8), (9, 9)],
                         ids=["power9-below-10", "power8-below-9", "power9-equal-9"])
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_the_real_cpu_decides_whatever_the_spelling_of_the_override(power_installed, shell_name, env_level,
                                                                   cpu_level):
    """One shell process walks every spelling of every name and the unknown names: the verdict never
    moves, a disagreeing override is named by its archspec name, an unknown one gets a suggestion."""
    sh = shell(shell_name)
    values = [t for t, _ in OVERRIDES] + list(UNKNOWN)
    result = run(sh, each_override(sh, guard(power_installed(env_level), sh.suffix), values),
                 cpuinfo=sample_at(cpu_level), timeout=600)
    outputs = split_outputs(result.stdout, len(values))
    for (text, name), out in zip(OVERRIDES, outputs):
        if cpu_level >= env_level:
            assert out == "", (text, out)
            continue
        assert f"{WARNING} {env_level} but this CPU is level {cpu_level} (from /proc/cpuinfo)" in out, (text, out)
        assert out.count("warning:") == 1, (text, out)
        claim = f"CONDA_OVERRIDE_ARCHSPEC={name} claims level {CATALOG.names[name]}"
        assert (claim in out) == (CATALOG.names[name] != cpu_level), (text, out)
        assert "is not a ppc64le CPU name" not in out, (text, out)
    for (text, hint), out in zip(UNKNOWN.items(), outputs[len(OVERRIDES):]):
        if cpu_level >= env_level:
            assert out == "", (text, out)
            continue
        said = f"CONDA_OVERRIDE_ARCHSPEC='{text}' is not a ppc64le CPU name known to archspec {CATALOG.archspec_version}"
        assert said in out, (text, out)
        assert (f"; did you mean '{hint}'?" in out) if hint else ("did you mean" not in out), (text, out)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_with_nothing_known_every_spelling_stands_for_the_cpu(power_installed, tmp_path, shell_name):
    """No /proc/cpuinfo line and no ppc64le loader: each spelling is the CPU's identity; unknown is silent."""
    sh = shell(shell_name)
    values = [t for t, _ in OVERRIDES] + list(UNKNOWN)
    result = run(sh, each_override(sh, guard(power_installed(10), sh.suffix), values),
                 prefix_argv=with_loader(tmp_path, None), timeout=600)
    outputs = split_outputs(result.stdout, len(values))
    for (text, name), out in zip(OVERRIDES, outputs):
        level = CATALOG.names[name]
        if level < 10:
            assert f"{WARNING} 10 but this CPU is level {level} (from CONDA_OVERRIDE_ARCHSPEC={name})" in out, \
                (text, out)
            assert "claims level" not in out
        else:
            assert out == "", (text, out)
    for text, out in zip(UNKNOWN, outputs[len(OVERRIDES):]):
        assert out == "", (text, out)
