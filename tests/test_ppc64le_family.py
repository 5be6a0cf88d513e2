"""The ppc64le family: its names and levels come from archspec, and every tool reads them.

Levels are POWER generations as archspec records them (`generation`); the
generator, the drift check, normalize and snippet cover the family from the
same table as x86-64 (families.py).
"""

from __future__ import annotations

import json

import archspec.cpu
import pytest
import yaml
from conftest import DATA, ROOT, require_data, run_cli

from microarch_level.catalog.families import FAMILIES, FLAGS, GATE, OVERRIDE, PPC64LE, X86_64
from microarch_level.catalog.gate import gate_builds
from microarch_level.catalog.levels import CatalogError, installed_json_path, installed_version
from microarch_level.catalog.power import build_power_catalog, load_power_catalog
from microarch_level.catalog.spelling import UnknownName, normalize_any
from microarch_level.diagnostics.snippet import meta_yaml, parse_levels, recipe_v1
from microarch_level.feedstock.ci_support import job_of, read_jobs

CATALOG = load_power_catalog()


def archspec_ppc64le_names() -> set[str]:
    return {name for name, target in archspec.cpu.TARGETS.items() if target.family.name == "ppc64le"}


def test_the_catalog_holds_every_ppc64le_name_archspec_knows():
    assert set(CATALOG.names) == archspec_ppc64le_names()


@pytest.mark.parametrize("name", sorted(archspec_ppc64le_names()))
def test_each_level_is_the_generation_archspec_records(name):
    generation = archspec.cpu.TARGETS[name].generation
    assert CATALOG.names[name] == (generation or CATALOG.levels[0])


def test_the_levels_are_conda_forges_power8_baseline_to_power10():
    assert CATALOG.levels == (8, 9, 10)
    assert CATALOG.march == {8: "power8", 9: "power9", 10: "power10"}
    assert CATALOG.flag_template == "-mcpu={name} -mtune={name}"


def test_the_package_names_are_the_ones_conda_forge_publishes():
    """The one place the tests spell the names out: everything else imports GATE, FLAGS,
    OVERRIDE and Family.gate/.flags from the catalog (families.py)."""
    assert (GATE, FLAGS) == (X86_64.gate, X86_64.flags) == ("_x86_64-microarch-level", "x86_64-microarch-level")
    assert (PPC64LE.gate, PPC64LE.flags) == ("_ppc64le-microarch-level", "ppc64le-microarch-level")
    assert OVERRIDE == "CONDA_OVERRIDE_ARCHSPEC"


def test_the_families_share_no_level_number():
    """A bare level (`snippet 9`, `normalize 3`) names one family's level only while no two share it."""
    levels = [level for f in FAMILIES for level in f.catalog(None).levels]
    assert len(levels) == len(set(levels))


def test_gate_builds_need_exactly_the_names_at_or_above_each_level():
    builds = gate_builds(CATALOG)
    assert [(b.level, b.dependency) for b in builds] == [
        (8, None), (9, "__archspec * power9le"), (9, "__archspec * power10le"), (10, "__archspec * power10le")]


@pytest.fixture
def json_with_power11(tmp_path):
    data = json.loads(installed_json_path().read_text())
    entry = dict(data["microarchitectures"]["power10le"])
    data["microarchitectures"]["power11le"] = {**entry, "from": ["power10le"], "generation": 11}
    path = tmp_path / "microarchitectures.json"
    path.write_text(json.dumps(data))
    return path


def test_a_newer_power_archspec_adds_joins_every_gate_level(json_with_power11):
    catalog = build_power_catalog(json.loads(json_with_power11.read_text()), installed_version())
    assert catalog.names["power11le"] == 11
    assert {b.level for b in gate_builds(catalog) if b.tag == "power11le"} == {9, 10}


def test_the_check_names_each_ci_job_lacking_a_newer_power(tmp_path, json_with_power11):
    import shutil

    for part in ("recipe", ".ci_support"):
        shutil.copytree(ROOT / part, tmp_path / part)
    result = run_cli("generate", "--check", "--root", str(tmp_path), "--archspec-json", str(json_with_power11))
    assert result.returncode == 1
    assert "archspec adds power11le" in result.stderr
    jobs = read_jobs(tmp_path)
    for level in (9, 10):
        assert (f"{job_of(jobs, 'ppc64le', level)} (lacks the ppc64le level-{level} build "
                f"power11le (__archspec power11le)") in result.stderr
    assert job_of(jobs, "ppc64le", 8) not in result.stderr


def test_power_data_without_generations_is_refused():
    data = json.loads(installed_json_path().read_text())
    for entry in data["microarchitectures"].values():
        entry.pop("generation", None)
    with pytest.raises(CatalogError, match="no ppc64le CPU of generation 9"):
        build_power_catalog(data, installed_version())


def test_the_variants_file_lists_both_families():
    data = yaml.safe_load((ROOT / "recipe" / "variants.yaml").read_text())
    assert set(data["microarch_family"]) == {f.name for f in FAMILIES}
    rows = list(zip(data["microarch_family"], data["microarch_level"], data["archspec_build"]))
    assert [r for r in rows if r[0] == "ppc64le"] == [("ppc64le", str(b.level), b.archspec_build)
                                                      for b in gate_builds(CATALOG)]


# --- normalize ---------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("power9le", "power9le 9"), ("POWER9LE", "power9le 9"), ("Power-10-LE", "power10le 10"),
    ("ppc64le", "ppc64le 8"), ("POWER9", "power9le 9"), ("pwr10", "power10le 10"), ("9", "power9le 9"),
])
def test_normalize_reads_ppc64le_names_and_levels(text, expected):
    result = run_cli("normalize", text)
    assert (result.returncode, result.stdout.strip()) == (0, expected), result.stderr


def test_as_a_cpu_name_power9_is_refused_pointing_at_power9le():
    result = run_cli("normalize", "--cpu", "POWER9")
    assert result.returncode == 2
    assert "did you mean 'power9le'" in result.stderr and result.stderr.count("\n") == 1


def test_a_generation_without_a_level_is_refused_with_the_nearest():
    with pytest.raises(UnknownName, match="levels are 8 to 10; did you mean '10'"):
        normalize_any("power11", "ppc64le", allow_level=True)


def test_x86_names_stay_x86_and_unknown_levels_keep_the_x86_message():
    assert str(normalize_any("haswell")) == "haswell 3"
    with pytest.raises(UnknownName, match="no x86-64 level 7"):
        normalize_any("7", allow_level=True)


def test_the_family_option_reads_in_that_family_only():
    result = run_cli("normalize", "--family", "ppc64le", "haswell")
    assert result.returncode == 2 and "unknown ppc64le CPU name 'haswell'" in result.stderr


# --- snippet ---------------------------------------------------------------------

def test_snippet_levels_read_ppc64le_spellings():
    assert parse_levels("8, POWER9,pwr10,9", CATALOG) == [8, 9, 10]


def test_snippet_refuses_a_ppc64le_cpu_name_as_a_level():
    with pytest.raises(ValueError, match="'power9le' is a CPU, not a level; did you mean '9'"):
        parse_levels("power9le", CATALOG)


def test_snippet_prints_the_ppc64le_flag_package_and_offsets():
    result = run_cli("snippet", "--family", "ppc64le", "--levels", "8,9,10")
    assert result.returncode == 0, result.stderr
    assert "then: ppc64le-microarch-level ==${{ microarch_level }}" in result.stdout
    assert "level 8 -> 800, level 9 -> 900, level 10 -> 1000" in result.stdout
    assert "-mcpu=powerN -mtune=powerN" in result.stdout
    assert "CONDA_OVERRIDE_ARCHSPEC=power10le" not in result.stdout  # rattler-build: --test skip only


@pytest.mark.parametrize("platform,expected", [("linux-ppc64le", [8, 9, 10]), ("linux-64", None),
                                               ("linux-aarch64", None)])
def test_the_ppc64le_variant_key_exists_on_linux_ppc64le_only(platform, expected):
    from rattler_build import JinjaConfig, PlatformConfig, VariantConfig

    variants = recipe_v1(CATALOG, [8, 9, 10], PPC64LE).split("\n---\n")[0]
    config = VariantConfig.from_yaml_with_context(variants, JinjaConfig(platform=PlatformConfig(target_platform=platform)))
    values = config.to_dict().get("microarch_level")
    assert (None if values is None else [int(v) for v in values]) == expected


@pytest.mark.parametrize("platform,expected", [("linux-ppc64le", [8, 10]), ("linux-64", None)])
def test_the_ppc64le_conda_build_config_has_the_levels_on_linux_ppc64le_only(tmp_path, platform, expected):
    from rattler_build import JinjaConfig, PlatformConfig, VariantConfig

    cbc = tmp_path / "conda_build_config.yaml"
    cbc.write_text(meta_yaml(CATALOG, [8, 10], PPC64LE).split("# ---- recipe/meta.yaml")[0])
    config = VariantConfig.from_conda_build_config(cbc, JinjaConfig(platform=PlatformConfig(target_platform=platform)))
    values = config.to_dict().get("microarch_level")
    assert (None if values is None else [int(v) for v in values]) == expected


def test_the_meta_yaml_conda_build_override_names_a_ppc64le_cpu():
    text = meta_yaml(CATALOG, [8, 10], PPC64LE)
    assert "CONDA_OVERRIDE_ARCHSPEC=power10le for them" in text
    assert "ppc64le-microarch-level {{ microarch_level }}  # [linux and ppc64le]" in text


# --- explain ---------------------------------------------------------------------

REAL_CONDA = DATA / "solver-errors-real" / "conda-26.7.1-classic-override-x86_64_v2-pin3.txt"


def as_power(text: str, reported: str) -> str:
    """conda's real refusal of an x86-64 pin, with the gate, the pin and the host moved to POWER
    (the same words conda prints for any package and __archspec)."""
    return (text.replace("_x86_64-microarch-level", PPC64LE.gate).replace("==3", "==10")
            .replace("x86_64_v2", reported).replace("linux-64", "linux-ppc64le"))


@pytest.fixture
def conda_text():
    return require_data(REAL_CONDA, "a real solver output").read_text()


def test_explain_reads_a_power9_refusing_level_10(conda_text, tmp_path):
    (tmp_path / "err.txt").write_text(as_power(conda_text, "power9le"))
    result = run_cli("explain", str(tmp_path / "err.txt"))
    assert result.returncode == 0, result.stderr
    assert "What happened (cpu-below)" in result.stdout
    assert "needs ppc64le level 10 (POWER10), but this CPU (power9le) is level 9" in result.stdout
    assert f"pin '{PPC64LE.gate}<=9'" in result.stdout
    assert "x86" not in result.stdout


def test_explain_names_mambas_bare_machine_report(conda_text, tmp_path):
    (tmp_path / "err.txt").write_text(as_power(conda_text, "ppc64le"))
    result = run_cli("explain", str(tmp_path / "err.txt"))
    assert "What happened (tool-report)" in result.stdout
    assert "bare machine name that mamba and micromamba report" in result.stdout
    assert "CONDA_OVERRIDE_ARCHSPEC=power10le" in result.stdout


REAL_FLAG_SOLVE = DATA / "solver-errors-real-2026-12" / "conda-26.7.1-d-flag4-v2-classic-human.txt"


def flag_solve_as_power(level: int) -> str:
    """conda's real plan installing the x86-64 flag package at level 4, moved to the POWER flag package
    at `level` (conda prints the same plan for any package)."""
    text = require_data(REAL_FLAG_SOLVE, "a real solver output").read_text()
    return (text.replace(f"{FLAGS}-4-5_level4", f"{PPC64LE.flags}-{level}-5_level{level}")
            .replace(f"{FLAGS}==4", f"{PPC64LE.flags}=={level}").replace(FLAGS, PPC64LE.flags)
            .replace("x86_64-microarch-~", "ppc64le-microarch~"))


def test_explain_reads_a_solve_of_the_power_flag_package_as_solved(tmp_path):
    (tmp_path / "plan.txt").write_text(flag_solve_as_power(9))
    result = run_cli("explain", "--no-detect", "--json", str(tmp_path / "plan.txt"))
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    assert (d["kind"], d["requested"], d["writer"]) == ("solved", [9], "conda")
    assert f"it chose {PPC64LE.flags} 9 (build 5_level9)" in d["summary"]
    assert f"emit ppc64le level 9 code ({CATALOG.flag_template.format(name=CATALOG.march[9])})" in d["summary"]


def test_explain_reads_a_solve_of_the_power_gate_as_solved(tmp_path):
    text = flag_solve_as_power(10).replace(PPC64LE.flags, PPC64LE.gate).replace("5_level10", "1_power10le")
    (tmp_path / "plan.txt").write_text(text)
    result = run_cli("explain", "--no-detect", "--cpu", "power9le", str(tmp_path / "plan.txt"))
    assert "What happened (solved)" in result.stdout, result.stdout
    assert f"it chose {PPC64LE.gate} 10 (build 1_power10le)" in result.stdout
    assert f"this CPU (power9le, level 9) does NOT run it" in result.stdout
    assert f"pin '{PPC64LE.gate}<=9'" in result.stdout


def test_explain_uses_the_cpu_option_when_the_text_shows_none(tmp_path):
    (tmp_path / "err.txt").write_text(
        f"Cannot solve the request because of: {PPC64LE.gate} ==10 cannot be installed because there are no "
        f"viable options:\n└─ {PPC64LE.gate} 10 would require\n   └─ __archspec * power10le, for which no "
        "candidates were found.\n")
    bare = run_cli("explain", "--no-detect", str(tmp_path / "err.txt"))
    assert "What happened (cpu-not-shown)" in bare.stdout
    given = run_cli("explain", "--cpu", "power9le", str(tmp_path / "err.txt"))
    assert "What happened (cpu-below)" in given.stdout and "from --cpu" in given.stdout
