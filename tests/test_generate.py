"""`microarch-level generate`: one generator, byte-identical, with a check mode that catches drift."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
from conftest import run_cli

from microarch_level.catalog.families import GATE, X86_64, catalogs
from microarch_level.catalog.levels import installed_version
from microarch_level.catalog.matching import matches
from microarch_level.feedstock.ci_support import CI_SUPPORT, job_of, read_jobs
from microarch_level.feedstock.render import GENERATED_DIR, OWNED_DIRS, RECIPE, VARIANTS, is_generated, render_all
from microarch_level.runtime.activation import RARE_SH, helper_path
from microarch_level.runtime.flag_scripts import cycle_scripts
from microarch_level.runtime.shell_template import DELIMITERS, TEMPLATES_URL, render


TEMPLATES = Path(__file__).resolve().parents[1] / "scripts" / "microarch_level" / "runtime" / "templates"


def feedstock(root: Path, dest: Path) -> Path:
    """An empty feedstock at `dest`: only this repository's recipe, by which generate recognises it."""
    (dest / RECIPE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / RECIPE, dest / RECIPE)
    return dest


def copy_generated(root: Path, dest: Path) -> Path:
    """The repository's recipe, generated files, and conda-smithy's CI jobs made from them, under `dest`."""
    for d in (*OWNED_DIRS, CI_SUPPORT):
        shutil.copytree(root / d, dest / d)
    shutil.copy2(root / VARIANTS, feedstock(root, dest) / VARIANTS)
    return dest


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every regular file's bytes (a FIFO is listed, never read)."""
    return {p.relative_to(directory).as_posix(): p.read_bytes() if p.is_file() else b"<not a file>"
            for p in sorted(directory.rglob("*")) if not p.is_dir()}


def test_the_committed_files_match_the_installed_archspec(root):
    result = run_cli("generate", "--check", "--root", str(root))
    assert result.returncode == 0, result.stderr
    assert f"match archspec {installed_version()}" in result.stdout


def test_generating_twice_is_byte_identical(root, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for target in (first, second):
        feedstock(root, target)
        assert run_cli("generate", "--root", str(target)).returncode == 0
    assert snapshot(first) == snapshot(second)
    assert snapshot(first)  # it wrote something


def test_generating_over_a_clean_tree_changes_nothing(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    before = snapshot(tree)
    result = run_cli("generate", "--root", str(tree))
    assert result.returncode == 0
    assert result.stdout.startswith("0 of ")
    assert snapshot(tree) == before


def test_every_generated_file_names_the_command_and_the_archspec_version():
    version = installed_version()
    for path, content in render_all([c for _, c in catalogs()]).items():
        assert "microarch-level generate" in content, path
        assert f"archspec {version}" in content, path
        assert is_generated(content.encode()), path  # what tells it from a file someone put there


@pytest.mark.parametrize("delimiter", sorted(DELIMITERS.values()))
def test_no_template_delimiter_survives_in_a_generated_file(delimiter):
    """Every Jinja tag was rendered: none is left in a script (nor shell text that looks like one)."""
    for path, content in render_all([c for _, c in catalogs()]).items():
        assert delimiter not in content, path


def test_a_template_given_too_little_data_is_refused_naming_the_value():
    with pytest.raises(jinja2.UndefinedError, match="'gate' is undefined"):
        render("guard.csh.in", header="# a header", level=2)


def test_check_fails_and_names_the_files_when_archspec_gains_a_cpu(root, tmp_path, json_with_new_cpu):
    tree = copy_generated(root, tmp_path / "tree")
    before = snapshot(tree)
    result = run_cli("generate", "--check", "--root", str(tree), "--archspec-json", str(json_with_new_cpu))
    assert result.returncode == 1
    assert f"stale: {VARIANTS} (archspec adds zen7)" in result.stderr
    level4 = job_of(read_jobs(tree), "x86_64", 4)
    assert f"stale: {level4} (lacks the level-4 build zen7" in result.stderr
    assert f"{GATE}/4/{helper_path(X86_64, RARE_SH)}" in result.stderr  # the sh guard's table of CPU names
    assert snapshot(tree) == before  # --check changes nothing


def test_generating_from_new_data_adds_the_cpu_at_every_level_it_reaches(root, tmp_path, json_with_new_cpu):
    import yaml

    tree = copy_generated(root, tmp_path / "tree")
    assert run_cli("generate", "--root", str(tree), "--archspec-json", str(json_with_new_cpu)).returncode == 0
    data = yaml.safe_load((tree / VARIANTS).read_text())
    levels = {lv for lv, m in zip(data["microarch_level"], data["archspec_build"])
              if m != "*" and matches("libmamba", m, "zen7")}
    assert levels == {"2", "3", "4"}
    assert (tree / GENERATED_DIR / GATE / "4").is_dir()


def test_check_fails_on_a_hand_edited_file(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    edited = tree / VARIANTS
    edited.write_text(edited.read_text().replace("- haswell\n", "", 1))
    result = run_cli("generate", "--check", "--root", str(tree))
    assert result.returncode == 1
    assert f"stale: {VARIANTS}" in result.stderr


def test_a_file_the_generator_wrote_and_no_longer_produces_is_drift_and_removed(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    old = tree / GENERATED_DIR / GATE / "5" / "etc" / "conda" / "activate.d" / "guard.sh"
    old.parent.mkdir(parents=True)
    old.write_text((tree / GENERATED_DIR / GATE / "4" / "etc" / "conda" / "activate.d" / f"{GATE}_guard.sh").read_text())
    result = run_cli("generate", "--check", "--root", str(tree))
    assert result.returncode == 1
    assert f"unexpected: {old.relative_to(tree).as_posix()}" in result.stderr
    assert run_cli("generate", "--root", str(tree)).returncode == 0
    assert not old.exists() and not (tree / GENERATED_DIR / GATE / "5").exists()


def test_a_file_someone_put_in_the_generated_tree_is_named_and_never_touched(root, tmp_path):
    """Not the generator's (no signature): --check names it; generate refuses, exit 2, and
    changes nothing (install-activation.sh would ship the file in a package)."""
    tree = copy_generated(root, tmp_path / "tree")
    mine = tree / GENERATED_DIR / GATE / "4" / "etc" / "conda" / "activate.d" / "my-notes.sh"
    mine.write_text("echo my own\n")
    replaced = tree / GENERATED_DIR / GATE / "4" / helper_path(X86_64, RARE_SH)  # a path the generator writes, someone's content
    replaced.write_text("echo replaced by hand\n")
    fifo = tree / GENERATED_DIR / "a-fifo"
    os.mkfifo(fifo)
    (tree / VARIANTS).write_text((tree / VARIANTS).read_text() + "# edited\n")  # real drift beside it
    before = snapshot(tree)
    check = run_cli("generate", "--check", "--root", str(tree))
    assert check.returncode == 1
    for path in (mine, replaced, fifo):
        assert f"foreign: {path.relative_to(tree).as_posix()} (not" in check.stderr, check.stderr
    result = run_cli("generate", "--root", str(tree))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert mine.relative_to(tree).as_posix() in result.stderr and "nothing was changed" in result.stderr
    assert snapshot(tree) == before and fifo.exists()


FOREIGN_RECIPE = """\
schema_version: 1
context:
  version: "2.1.0"
recipe:
  name: numpy
  version: ${{ version }}
"""


@pytest.mark.parametrize("mode", [[], ["--check"]], ids=["generate", "check"])
@pytest.mark.parametrize("kind", ["another feedstock", "an empty directory", "a recipe that is a FIFO"])
def test_generate_refuses_a_root_that_is_not_this_feedstock_and_writes_nothing(tmp_path, kind, mode):
    tree = tmp_path / "tree"
    tree.mkdir()
    if kind == "another feedstock":
        (tree / "recipe").mkdir()
        (tree / RECIPE).write_text(FOREIGN_RECIPE)
        (tree / VARIANTS).write_text("python:\n  - 3.12\n")
        (tree / GENERATED_DIR).mkdir()
        (tree / GENERATED_DIR / "theirs.sh").write_text("echo theirs\n")
    elif kind == "a recipe that is a FIFO":
        (tree / "recipe").mkdir()
        os.mkfifo(tree / RECIPE)
    before = snapshot(tree)
    listing = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*"))
    result = run_cli("generate", *mode, "--root", str(tree))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "is not the microarch-level feedstock" in result.stderr
    assert "nothing was written" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*")) == listing
    assert snapshot(tree) == before


# A file of each type the generator writes, and the generator-written files that have it.
def _one_of_each_type(files: dict[str, str]) -> dict[str, str]:
    picked: dict[str, str] = {}
    for path in files:
        picked.setdefault(Path(path).suffix or Path(path).name, path)
    return picked


CORRUPTIONS = {
    "CRLF line endings": lambda b: b.replace(b"\n", b"\r\n"),
    "byte-order mark": lambda b: b"\xef\xbb\xbf" + b,
    "trailing whitespace": lambda b: b.replace(b"\n", b" \n", 1),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_check_compares_bytes_and_generate_repairs_them_in_every_file_type(root, tmp_path, corruption):
    tree = copy_generated(root, tmp_path / "tree")
    picked = _one_of_each_type(render_all([c for _, c in catalogs()]))
    assert {".sh", ".csh", ".fish", ".zsh", ".yaml", "README"} <= set(picked), picked
    original = snapshot(tree)
    for path in picked.values():
        (tree / path).write_bytes(CORRUPTIONS[corruption]((tree / path).read_bytes()))
    check = run_cli("generate", "--check", "--root", str(tree))
    assert check.returncode == 1
    for path in picked.values():
        assert f"stale: {path} ({corruption})" in check.stderr, (path, check.stderr)
    assert check.stderr.count("stale:") == len(picked), check.stderr
    result = run_cli("generate", "--root", str(tree))
    assert result.returncode == 0 and result.stdout.startswith(f"{len(picked)} of "), result.stdout
    assert snapshot(tree) == original


def test_unreadable_archspec_data_fails_in_one_line_and_writes_nothing(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    before = snapshot(tree)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run_cli("generate", "--root", str(tree), "--archspec-json", str(broken))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot read archspec data" in result.stderr
    assert snapshot(tree) == before


def test_git_checks_out_every_generated_file_and_template_with_lf(root):
    """A checkout with core.autocrlf (Windows) must not turn them into drift or break the shells."""
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    templates = [p.relative_to(root).as_posix() for p in (root / "scripts/microarch_level/runtime/templates").iterdir()]
    paths = [*render_all([c for _, c in catalogs()]), *templates, "recipe/install-activation.sh"]
    out = subprocess.run(["git", "-C", str(root), "check-attr", "-z", "eol", "--", *paths], capture_output=True,
                         text=True, check=True).stdout.split("\0")
    values = dict(zip(out[0::3], out[2::3]))
    assert {p for p in paths if values.get(p) != "lf"} == set()


@functools.lru_cache(maxsize=1)
def generated() -> dict[str, str]:
    return render_all([c for _, c in catalogs()])


SCRIPT_PATHS = [p for p in generated() if p.startswith(GENERATED_DIR + "/") and not p.endswith("/README")]
HEADER = re.compile(r"# GENERATED by `microarch-level generate` from archspec \S+ and (\S+\.in); do not edit\.")


def is_cycle_script(path: str) -> bool:
    """Whether `path` (under recipe/generated/<package>/<level>/) is one of the flag cycle's scripts."""
    package, _, installed = path.split("/", 4)[2:]
    return installed in cycle_scripts(package)


# The flag cycle's scripts open with one short line and keep the rest of their header after
# their code, but csh's: tcsh, sourcing them in a loop, pays about twice as much for a comment
# byte after the last command as before the first (benchmarks/RESULTS.md), so they keep the
# whole header at the top like every other script.
# The sh guards from guard.sh.in, read at every activation of the gate, open like the POSIX
# ones (guard-power.sh.in's keep the whole header).
CYCLE_PATHS = [p for p in SCRIPT_PATHS if is_cycle_script(p) and not p.endswith(".csh")
               or "# GENERATED by `microarch-level generate` from archspec " in generated()[p]
               and " and guard.sh.in; do not edit." in generated()[p]]
OTHER_PATHS = [p for p in SCRIPT_PATHS if p not in CYCLE_PATHS]


def test_the_flag_cycle_scripts_of_every_dialect_and_the_sh_guards_are_found():
    cycle = [p for p in SCRIPT_PATHS if is_cycle_script(p)]
    assert {p.rsplit(".", 1)[1] for p in cycle} == {"sh", "fish", "csh"}
    assert len(cycle) == 9 * sum(len(c.levels) for _, c in catalogs())
    assert any(p.endswith("_guard.sh") for p in CYCLE_PATHS)


@pytest.mark.parametrize("path", OTHER_PATHS)
def test_every_generated_script_opens_with_what_it_does_and_its_template(path):
    """What the file is for, who writes it from which template, and where that template is:
    in the first lines, before any code, for a reviewer of the installed file."""
    lines = generated()[path].splitlines()
    head = lines[:lines.index(f"# {TEMPLATES_URL}") + 1] if f"# {TEMPLATES_URL}" in lines else []
    assert 3 <= len(head) <= 7, lines[:8]
    assert all(line.startswith("#") for line in head), head
    found = [m.group(1) for m in map(HEADER.fullmatch, head) if m]
    assert len(found) == 1 and (TEMPLATES / found[0]).is_file(), head
    package, level = path.split("/")[2:4]
    assert any(f"{package} {level}" in line for line in head[:3]), head


# The fish scripts of the flag cycle: one line saying what the file does, who wrote it
# from which template.  The POSIX ones and the sh guard: the shellcheck directive and a
# pointer, nothing more (bash, dash, zsh and mksh pay for every byte before their `return 0`;
# benchmarks/RESULTS.md).
CYCLE_HEAD = re.compile(r"# (\S+ \d+): [^;]+; generated by `microarch-level generate` from (\S+\.in)")
POINTER_HEAD = re.compile(r"# shellcheck shell=sh[^#]* # GENERATED; see below return")
POINTER_BYTES = 36  # what the pointer adds to the directive, at most


@pytest.mark.parametrize("path", CYCLE_PATHS)
def test_every_flag_cycle_script_opens_with_one_short_line(path):
    """The scripts every activation and deactivation reads open with one line: fish's says what
    the file does and its template; the POSIX scripts' only point below `return 0`."""
    first = generated()[path].splitlines()[0]
    package, level = path.split("/")[2:4]
    if path.endswith(".sh"):
        assert POINTER_HEAD.fullmatch(first) and len(first.split(" # ", 1)[1]) + 3 <= POINTER_BYTES, first
    else:
        found = CYCLE_HEAD.fullmatch(first)
        assert found and found.group(1) == f"{package} {level}" and (TEMPLATES / found.group(2)).is_file(), first


@pytest.mark.parametrize("path", CYCLE_PATHS)
def test_every_flag_cycle_script_keeps_its_header_after_its_code(path):
    """After the last `return 0` (POSIX), where the shells stop, or after the last command (fish),
    under a line saying people alone read it: what the file does (POSIX), who wrote it from
    which template and the archspec version, and where the templates are."""
    lines = generated()[path].splitlines()
    code_ends = max(i for i, line in enumerate(lines) if line == "return 0") if path.endswith(".sh") else \
        max(i for i, line in enumerate(lines) if not line.lstrip().startswith("#"))
    package, level = path.split("/")[2:4]
    after = lines[code_ends + 1:]
    assert after[0].startswith("# Read only by people: "), after[:1]
    what = after[1:2] if path.endswith(".sh") else []
    assert all(line.startswith(f"# {package} {level}: ") for line in what), after[:2]
    generated_line, url = after[1 + len(what):3 + len(what)]
    assert url == f"# {TEMPLATES_URL}", after[:4]
    found = HEADER.fullmatch(generated_line)
    assert found and (TEMPLATES / found.group(1)).is_file(), after[:4]
    if not path.endswith(".sh"):
        assert found.group(1) == CYCLE_HEAD.fullmatch(lines[0]).group(2), (lines[0], generated_line)
    header_lines = [i for i, line in enumerate(lines) if HEADER.fullmatch(line) or line == f"# {TEMPLATES_URL}"]
    assert header_lines == [code_ends + 2 + len(what), code_ends + 3 + len(what)], header_lines


# Lines zsh reads on the common path stay few, whatever their length (two system calls a line,
# benchmarks/RESULTS.md): the flag scripts of activate.d and deactivate.d up to their
# `return 0`, the sh guard's first two commands (bash's check, zsh's dispatch), the zsh check;
# and the csh guard's one command (over three lines it cost tcsh 0.4% more instructions).
def long_lines_allowed(path: str, lines: list[str]) -> int:
    """How many lines from the top of `path` may be longer than 120 characters."""
    name = path.rsplit("/", 1)[1]
    if "/etc/conda/" in path and name.endswith(".sh") and "microarch-level." in name and name[0] in "+~":
        return lines.index("return 0")
    if name.endswith("_guard.sh"):
        return next(i for i, line in enumerate(lines) if "typeset -g" in line)
    if name == "guard-quick.zsh":
        return lines.index("return")
    if name.endswith("_guard.csh"):
        return len(lines)
    return 0


@pytest.mark.parametrize("path", SCRIPT_PATHS)
def test_no_generated_line_is_longer_than_120_characters_but_the_measured_common_paths(path):
    lines = generated()[path].splitlines()
    allowed = long_lines_allowed(path, lines)
    long = [f"{i + 1}: {line[:60]}..." for i, line in enumerate(lines) if len(line) > 120 and i >= allowed]
    assert not long, long


def test_no_generated_script_sends_its_reader_to_a_docstring():
    """The packages ship the scripts, not the generator's Python: no script points into it."""
    for path in SCRIPT_PATHS:
        content = generated()[path]
        assert "docstring" not in content and ".py" not in content, path
