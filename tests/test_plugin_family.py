"""A family is a plug-in: a made-up one, registered by this test alone, is picked up by every command.

The family (`toy64le`, tests/data/made-up-family/README.md) is one Family row whose levels
follow the generation rule; nothing in the package names it.  generate writes its packages'
scripts and variants, build makes its packages with rattler-build, rattler installs its gate
by the CPU, and doctor, explain, matrix and snippet answer for it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from conftest import DATA, ROOT
from shells import run as run_shell
from shells import shell

from microarch_level import cli
from microarch_level.catalog.families import FAMILIES, GENERATION, OVERRIDE, X86_64, Family, registered
from microarch_level.catalog.power import load_power_catalog
from microarch_level.diagnostics import doctor
from microarch_level.diagnostics.cpuinfo import mount_problem
from microarch_level.feedstock.ci_support import CI_SUPPORT, FAMILY_KEY, LEVEL_KEY, MATCHER_KEY, ZIPPED
from microarch_level.feedstock.render import GENERATED_DIR, RECIPE, VARIANTS, header
from microarch_level.runtime.activation import feature_guards
from microarch_level.tools.solve import Unsatisfiable, archspec_package, base_virtual_packages, solve

MADE_UP = DATA / "made-up-family"
LEVELS = (1, 2, 3)


def _catalog(json_path: Path | None = None):
    """The made-up family's catalog: always of its own data (an archspec given for the others is not its)."""
    return load_power_catalog(MADE_UP / "microarchitectures.json", root="toy64le", levels=LEVELS)


# A real conda platform no other family uses, so rattler can solve for it.
# Its CPUs name their generation `TOYn` in /proc/cpuinfo's `cpu` line (the samples in cpuinfo/).
TOY = Family("toy64le", "toy64le", _catalog, "GOTOY", "toy{level}", "toy{level}", "riscv64-unknown-linux-gnu",
             "-mcpu=", "linux and riscv64", "linux and riscv64", "toyN", "toyNle", "/lib64/ld-toy.so.1", LEVELS,
             GENERATION, "linux-riscv64", cpu_word="TOY")


@pytest.fixture
def toy():
    with registered(TOY):
        yield TOY


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _feedstock(dest: Path) -> Path:
    """The repository's hand-written recipe files under `dest`; generate writes the rest."""
    (dest / RECIPE).parent.mkdir(parents=True)
    for path in (ROOT / RECIPE).parent.iterdir():
        if path.is_file() and path.name != Path(VARIANTS).name:
            (dest / RECIPE).parent.joinpath(path.name).write_bytes(path.read_bytes())
    return dest


def _ci_jobs(root: Path, family: str) -> list[Path]:
    """What a conda-smithy rerender writes for `family`: one job per level, zipping its rows of variants.yaml."""
    data = yaml.safe_load((root / VARIANTS).read_text())
    rows = [r for r in zip(*(data[k] for k in ZIPPED)) if r[1] == family]
    jobs = []
    for level in sorted({int(r[2]) for r in rows}):
        mine = sorted(r for r in rows if int(r[2]) == level)
        job = root / CI_SUPPORT / f"linux_64_microarch_family{family}microarch_level{level}.yaml"
        job.parent.mkdir(exist_ok=True)
        job.write_text(yaml.safe_dump({MATCHER_KEY: [r[0] for r in mine], FAMILY_KEY: [r[1] for r in mine],
                                       LEVEL_KEY: [str(r[2]) for r in mine], "zip_keys": [ZIPPED]}))
        jobs.append(job)
    return jobs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A feedstock generated with the made-up family registered, and a channel of its packages."""
    from microarch_level.feedstock.channel import build_channel

    root = _feedstock(tmp_path_factory.mktemp("feedstock"))
    with registered(TOY):
        assert cli.main(["generate", "--root", str(root)]) == 0
        report = build_channel(root, root / "channel", configs=_ci_jobs(root, TOY.name), run_tests=False)
    return root, root / "channel", report


def test_the_family_is_registered_only_meanwhile(toy):
    assert toy in FAMILIES
    assert FAMILIES.index(toy) == len(FAMILIES) - 1


def test_generate_writes_its_guards_and_flag_scripts_and_leaves_the_others_byte_identical(built):
    root, _, _ = built
    ours = {p.relative_to(root / GENERATED_DIR).as_posix(): p.read_bytes()
            for p in (root / GENERATED_DIR).rglob("*") if p.is_file()}
    theirs = {p.relative_to(ROOT / GENERATED_DIR).as_posix(): p.read_bytes()
              for p in (ROOT / GENERATED_DIR).rglob("*") if p.is_file()}
    added = {p for p in set(ours) - set(theirs)}
    assert {p.split("/")[0] for p in added} == {TOY.gate, TOY.flags}
    assert {f"{TOY.gate}/{lv}/etc/conda/activate.d/{TOY.gate}_guard.{s}" for lv in (2, 3) for s in ("sh", "fish", "csh")} \
        <= added
    assert {p: ours[p] for p in theirs if p != "README"} == {p: theirs[p] for p in theirs if p != "README"}
    guard = ours[f"{TOY.gate}/3/etc/conda/activate.d/{TOY.gate}_guard.sh"].decode()
    assert "toy3le" in guard and TOY.loader in guard
    assert "POWER" not in guard and "ppc64le" not in guard and "x86" not in guard
    flags = next(text for path, text in ours.items() if path.startswith(f"{TOY.flags}/3/") and b"-mcpu=toy3" in text)
    assert b"GOTOY" in flags


@pytest.mark.parametrize("shell_name", ["dash", "fish"])
@pytest.mark.parametrize(("cpu", "level"), [("toy1", 1), ("toy4", 4)])
def test_its_guard_reads_the_generation_its_cpus_name_in_proc_cpuinfo(built, shell_name, cpu, level):
    problem = mount_problem()
    if problem:
        pytest.skip(f"cannot mount a sample over /proc/cpuinfo: {problem}")
    root, _, _ = built
    sh = shell(shell_name)
    guard = root / GENERATED_DIR / TOY.gate / "3" / "etc/conda/activate.d" / f"{TOY.gate}_guard.{sh.suffix}"
    result = run_shell(sh, f"{'.' if sh.suffix == 'sh' else 'source'} '{guard}'; echo next={sh.status}",
                       cpuinfo=MADE_UP / "cpuinfo" / cpu)
    assert "next=0" in result.stdout, result.stderr
    warned = f"{TOY.gate}: warning: this environment was built for toy64le level 3 but this CPU is level 1 " \
             "(from /proc/cpuinfo)"
    assert (warned in result.stderr) == (level < 3), result.stderr
    assert level < 3 or result.stderr == ""


def test_a_second_family_of_features_gets_its_own_gate_loader_and_label_in_its_guards():
    """The feature guards take every family fact from the row: a copy of x86-64's under other names
    renders none of x86-64's (what remains of it is archspec's data: its CPU and hwcaps names)."""
    other = dataclasses.replace(X86_64, name="toy86", label="toy-86", loader="/lib64/ld-toy86.so.2")
    text = "\n".join(feature_guards(X86_64.catalog(None), other, header(X86_64.catalog(None))).values())
    assert X86_64.gate not in text and X86_64.loader not in text and "x86-64 level" not in text
    assert f"share/{other.gate}/guard-rare.fish" in text and other.loader in text and "toy-86 level 3" in text


def test_generate_lists_its_gate_builds_in_the_variants(built):
    root, _, _ = built
    data = yaml.safe_load((root / VARIANTS).read_text())
    rows = {(b, int(lv)) for b, f, lv in zip(data[MATCHER_KEY], data[FAMILY_KEY], data[LEVEL_KEY]) if f == TOY.name}
    assert rows == {("*", 1), ("toy2le", 2), ("toy3le", 2), ("toy4le", 2), ("toy3le", 3), ("toy4le", 3)}


def test_build_makes_its_gate_and_flag_packages(built):
    _, _, report = built
    names = {p.name.rsplit("-", 2)[0] for p in report.packages}
    assert names == {TOY.gate, TOY.flags}
    assert {p.name.rsplit("-", 2)[1] for p in report.packages if p.name.startswith(TOY.gate)} == {"1", "2", "3"}


@pytest.mark.parametrize(("cpu", "level"), [("toy1le", 1), ("toy2le", 2), ("toy3le", 3), ("toy4le", 3), ("toy64le", 1)])
def test_rattler_installs_the_gate_level_of_the_cpu(built, cpu, level):
    _, channel, _ = built
    vps = base_virtual_packages() + [archspec_package(cpu)]
    records = solve([channel], [TOY.gate], vps, platforms=(TOY.subdir, "noarch"))
    assert [int(str(r.version)) for r in records if r.name.normalized == TOY.gate] == [level]


def test_rattler_refuses_a_level_above_the_cpu(built):
    _, channel, _ = built
    with pytest.raises(Unsatisfiable):
        solve([channel], [f"{TOY.gate}==3"], base_virtual_packages() + [archspec_package("toy2le")],
              platforms=(TOY.subdir, "noarch"))


def test_doctor_knows_the_machine_and_what_each_tool_would_install(toy, monkeypatch):
    """This x86-64 host's /proc/cpuinfo tells no generation; the override names the made-up CPU."""
    monkeypatch.setenv(OVERRIDE, "toy3le")
    assert doctor.machine_family(toy.name) is toy
    report = doctor.gather(toy.catalog(None), family=toy)
    assert report["family"] == toy.name
    assert report["cpu"]["override"] == {"set": True, "value": "toy3le", "name": "toy3le", "level": 3,
                                         "problem": None}
    assert report["cpu"]["glibc"]["loader"] == toy.loader
    rows = {row["style"]: (row["reported"], row["installs"]) for row in report["styles"]}
    assert rows["conda"] == ("1=toy3le", 3)           # reads the override verbatim
    assert rows["mamba-old"] == ("1=toy64le", 1)      # ignores it, reports the bare machine


def test_explain_says_the_cpu_is_below_the_level_asked(toy, tmp_path, capsys):
    text = tmp_path / "failure.txt"
    text.write_text(f"Could not solve: {toy.gate} ==3 would require __archspec * toy3le, "
                    "which is not installable\nvirtual packages: __archspec=1=toy2le\n")
    status, out, _ = run(capsys, "explain", str(text), "--no-detect", "--json")
    d = json.loads(out)
    assert status == 0
    assert (d["kind"], d["requested"], d["host"]["name"], d["host"]["level"]) == ("cpu-below", [3], "toy2le", 2)
    assert f"{toy.gate}<=2" in " ".join(d["actions"])
    assert "needs toy64le level 3 (TOY3), but this CPU (toy2le) is level 2 (TOY2)" in d["summary"]


def test_explain_reads_a_solve_of_its_flag_package(toy, tmp_path, capsys):
    text = tmp_path / "plan.txt"
    text.write_text(f"## Package Plan ##\n\nThe following NEW packages will be INSTALLED:\n\n"
                    f"  {toy.flags}  local/noarch::{toy.flags}-2-0_level2\n\nExecuting transaction: done\n")
    status, out, _ = run(capsys, "explain", str(text), "--no-detect", "--cpu", "toy1le", "--json")
    d = json.loads(out)
    assert status == 0
    assert (d["kind"], d["requested"], d["host"]["level"]) == ("solved", [2], 1)
    assert "emit toy64le level 2 code (-mcpu=toy2 -mtune=toy2); this CPU (toy1le, level 1) does NOT run it" \
        in d["summary"]


def test_matrix_gives_each_sample_its_level(built, capsys):
    _, channel, _ = built
    with registered(TOY):
        status, out, err = run(capsys, "matrix", "--channel", str(channel), "--cpuinfo-dir",
                               str(MADE_UP / "cpuinfo"), "--family", TOY.name, "--format", "json")
    assert status == 0, err
    rows = {r["sample"]: (r["archspec"], r["level"], {c["level"] for c in r["cells"] if c["style"] == "conda"})
            for r in json.loads(out)}
    assert rows == {"toy1": ("toy1le", 1, {1}), "toy2": ("toy2le", 2, {2}), "toy3": ("toy3le", 3, {3}),
                    "toy4": ("toy4le", 4, {3})}  # newer than every level: the highest installs


def test_matrix_tells_its_samples_by_the_word_in_their_cpu_line(built, capsys):
    _, channel, _ = built
    with registered(TOY):
        status, out, err = run(capsys, "matrix", "--channel", str(channel), "--cpuinfo-dir",
                               str(MADE_UP / "cpuinfo"), "--format", "json")
    assert status == 0, err
    assert {r["sample"]: r["level"] for r in json.loads(out)} == {"toy1": 1, "toy2": 2, "toy3": 3, "toy4": 4}


def test_snippet_prints_its_recipe_lines(toy, capsys):
    status, out, _ = run(capsys, "snippet", "--family", toy.name, "--levels", "1,level3")
    assert status == 0
    assert "toy64le microarchitecture builds for levels 1, 3 (toy1, toy3)" in out
    assert f"then: {toy.flags} ==${{{{ microarch_level }}}}" in out
    assert "- if: linux and riscv64" in out


def test_snippet_reads_its_levels_in_its_own_words(toy, capsys):
    """Its cpu word (`TOY2`, /proc/cpuinfo's), gcc's and rustc's (`toy3`), their first letter (`t1`)."""
    status, out, err = run(capsys, "snippet", "--family", toy.name, "--levels", "t1,TOY2,toy3")
    assert status == 0, err
    assert "toy64le microarchitecture builds for levels 1, 2, 3 (toy1, toy2, toy3)" in out


def test_snippet_refuses_a_cpu_name_as_a_level(toy, capsys):
    status, _, err = run(capsys, "snippet", "--family", toy.name, "--levels", "toy2le")
    assert status == 2 and "'toy2le' is a CPU, not a level; did you mean '2'" in err
