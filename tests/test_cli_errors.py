"""Every command, given what a careless user gives it: one line, the right status, no traceback.

Status 2 is a usage error (the command line asked for something wrong), 1 a
failure (a well-formed request this machine could not carry out: stdout
closed or full, nothing to explain).  A reader that goes away ends the process
by SIGPIPE, silently, as it ends any Unix tool.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, ROOT, require_data
from mounts import private_mounts

from microarch_level.catalog.levels import installed_json_path

SOLVER_ERROR = ROOT / "tests" / "data" / "solver-errors" / "conda-libmamba-below.txt"
SAMPLES = DATA / "cpuinfo"
HUGE_NAME = "x" * 100_000  # near the kernel's limit for one argument (128 kB)


@pytest.fixture(scope="module")
def paths(tmp_path_factory, channel) -> dict[str, str]:
    """The files the cases point at, by placeholder name."""
    d = tmp_path_factory.mktemp("inputs")
    (d / "garbage.txt").write_text("this is not what the option wants\n")
    (d / "huge.txt").write_text("lorem ipsum dolor sit amet __archspec maybe\n" * 100_000)
    (d / "five.json").write_text(json.dumps({"microarchitectures": 5}))
    data = json.loads(installed_json_path().read_text())
    archs = data["microarchitectures"]
    archs["x86_64_hv3"] = {**archs["x86_64_v3"], "from": ["x86_64_v3"]}  # a new generic-looking name
    (d / "hv3.json").write_text(json.dumps(data))
    (d / "empty").mkdir()
    (d / "binaries").mkdir()
    shutil.copy(sys.executable, d / "binaries" / "python")
    (d / "bad-channel" / "noarch").mkdir(parents=True)
    shutil.copy(sys.executable, d / "bad-channel" / "noarch" / "repodata.json")
    (d / "one-sample").mkdir()
    sample = next((p for p in sorted(SAMPLES.glob("linux-*")) if p.is_file()), None)
    if sample is not None:
        shutil.copy(sample, d / "one-sample" / sample.name)
    return {"tmp": str(d), "bin": str(Path(sys.executable).resolve()), "garbage": str(d / "garbage.txt"),
            "huge": str(d / "huge.txt"), "five": str(d / "five.json"), "hv3": str(d / "hv3.json"),
            "missing": str(d / "absent"), "empty": str(d / "empty"), "binaries": str(d / "binaries"),
            "bad_channel": str(d / "bad-channel"), "channel": str(channel), "one_sample": str(d / "one-sample"),
            "root": str(ROOT), "solver_error": str(SOLVER_ERROR)}


def run(argv: list[str], *, stdin: str | bytes | None = None, stdout: str = "pipe") -> subprocess.CompletedProcess:
    """The CLI as a real process; stdin "closed" or bytes, stdout "pipe", "closed" or "full"."""
    cmd = [sys.executable, "-m", "microarch_level", *argv]
    if stdout == "closed":
        cmd = ["sh", "-c", 'exec "$@" >&-', "sh", *cmd]
    if stdin == "closed":
        cmd = ["sh", "-c", 'exec "$@" <&-', "sh", *cmd]
    with open("/dev/full", "wb") as full:
        return subprocess.run(cmd, input=stdin if isinstance(stdin, bytes) else None,
                              stdin=None if isinstance(stdin, bytes) else subprocess.DEVNULL,
                              stdout=full if stdout == "full" else subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=600, cwd=ROOT)


# id, argv (with {placeholders} from `paths`), io, exit status, words the one line must contain
CASES = [
    ("no-command", [], {}, 2, "required: COMMAND"),
    ("unknown-command", ["frobnicate"], {}, 2, "invalid choice: 'frobnicate'"),
    ("unknown-option", ["normalize", "--frob", "zen"], {}, 2, "unrecognized arguments: --frob"),
    ("help-closed-stdout", ["--help"], {"stdout": "closed"}, 1, "stdout is closed"),

    ("normalize-missing", ["normalize"], {}, 2, "required: NAME"),
    ("normalize-garbage", ["normalize", "not-a-cpu"], {}, 2, "unknown x86-64 CPU name"),
    ("normalize-binary-name", ["normalize", "\udcff\udcfe\x01"], {}, 2, "is not a CPU name"),
    ("normalize-newline-inside", ["normalize", "has\nwell"], {}, 2, "a name holds no whitespace or control"),
    ("normalize-blank-inside", ["normalize", "has well"], {}, 2, "a name holds no whitespace or control"),
    ("normalize-level-0", ["normalize", "x86_64_v0"], {}, 2, "no x86-64 level 0 in 'x86_64_v0': levels are 1 to 4; "
     "did you mean 'x86_64'?"),
    ("normalize-huge-name", ["normalize", HUGE_NAME], {}, 2, "unknown x86-64 CPU name"),
    ("normalize-binary-json", ["normalize", "--archspec-json", "{bin}", "zen"], {}, 2, "not UTF-8 text"),
    ("normalize-garbage-json", ["normalize", "--archspec-json", "{garbage}", "zen"], {}, 2, "not JSON"),
    ("normalize-wrong-shape-json", ["normalize", "--archspec-json", "{five}", "zen"], {}, 2,
     "no 'microarchitectures' table"),
    ("normalize-missing-json", ["normalize", "--archspec-json", "{missing}", "zen"], {}, 2, "No such file"),
    ("normalize-empty-json", ["normalize", "--archspec-json", "", "zen"], {}, 2, "--archspec-json is empty"),
    ("normalize-level-1-as-a-cpu", ["normalize", "--cpu", "x86-64-v1"], {}, 2, "did you mean 'x86_64'?"),
    ("normalize-closed-stdout", ["normalize", "zen"], {"stdout": "closed"}, 1, "stdout is closed"),
    ("normalize-full-stdout", ["normalize", "zen"], {"stdout": "full"}, 1, "No space left on device"),

    ("generate-root-missing", ["generate", "--root", "{missing}"], {}, 2, "no such directory"),
    ("generate-root-file", ["generate", "--root", "{garbage}"], {}, 2, "not a directory"),
    ("generate-root-empty", ["generate", "--root", ""], {}, 2, "--root is empty"),
    ("generate-new-generic-name", ["generate", "--check", "--root", "{root}", "--archspec-json", "{hv3}"], {}, 2,
     "matcher 'x86*64*v3' selects x86_64_v3, x86_64_hv3"),
    ("generate-binary-json", ["generate", "--root", "{empty}", "--archspec-json", "{bin}"], {}, 2, "not UTF-8"),
    ("generate-closed-stdout", ["generate", "--check", "--root", "{root}"], {"stdout": "closed"}, 1,
     "stdout is closed"),
    ("generate-full-stdout", ["generate", "--check", "--root", "{root}"], {"stdout": "full"}, 1,
     "No space left on device"),

    ("build-root-missing", ["build", "--root", "{missing}"], {}, 2, "no such directory"),
    ("build-root-file", ["build", "--root", "{garbage}"], {}, 2, "not a directory"),
    ("build-root-not-a-feedstock", ["build", "--root", "{empty}"], {}, 2, "no recipe/recipe.yaml"),
    ("build-output-empty", ["build", "--output", ""], {}, 2, "--output is empty"),
    ("build-output-without-value", ["build", "--output"], {}, 2, "expected one argument"),
    ("build-output-file", ["build", "--output", "{garbage}"], {}, 2, "is a file, not a directory"),
    ("build-output-checkout", ["build", "--output", "."], {}, 2, "did not write"),
    ("build-closed-stdout", ["build", "--root", "{missing}"], {"stdout": "closed"}, 1, "stdout is closed"),

    ("matrix-channel-missing", ["matrix", "--channel", "{missing}"], {}, 2, "build the channel first"),
    ("matrix-channel-binary-repodata", ["matrix", "--channel", "{bad_channel}"], {}, 2, "not readable repodata"),
    ("matrix-cpuinfo-missing", ["matrix", "--channel", "{channel}", "--cpuinfo-dir", "{missing}"], {}, 2,
     "no such cpuinfo directory"),
    ("matrix-cpuinfo-binary", ["matrix", "--channel", "{channel}", "--cpuinfo-dir", "{binaries}"], {}, 2,
     "no /proc/cpuinfo samples"),
    ("matrix-cpuinfo-empty", ["matrix", "--channel", "{channel}", "--cpuinfo-dir", ""], {}, 2,
     "--cpuinfo-dir is empty"),
    ("matrix-styles-garbage", ["matrix", "--channel", "{channel}", "--styles", "frob"], {}, 2, "unknown column"),
    ("matrix-format-garbage", ["matrix", "--format", "frob"], {}, 2, "invalid choice: 'frob'"),
    ("matrix-closed-stdout", ["matrix", "--channel", "{channel}", "--cpuinfo-dir", "{one_sample}"],
     {"stdout": "closed"}, 1, "stdout is closed"),
    ("matrix-full-stdout", ["matrix", "--channel", "{channel}", "--cpuinfo-dir", "{one_sample}"],
     {"stdout": "full"}, 1, "No space left on device"),

    ("doctor-prefix-empty", ["doctor", "--prefix", ""], {}, 2, "--prefix is empty"),
    ("doctor-prefix-missing", ["doctor", "--prefix", "{missing}"], {}, 2, "is not a directory"),
    ("doctor-prefix-binary-file", ["doctor", "--prefix", "{bin}"], {}, 2, "is not a directory"),
    ("doctor-prefix-not-an-environment", ["doctor", "--prefix", "{empty}"], {}, 2, "no conda-meta/"),
    ("doctor-format-garbage", ["doctor", "--format", "frob"], {}, 2, "invalid choice: 'frob'"),
    ("doctor-closed-stdout", ["doctor"], {"stdout": "closed"}, 1, "stdout is closed"),
    ("doctor-full-stdout", ["doctor"], {"stdout": "full"}, 1, "No space left on device"),

    ("explain-file-missing", ["explain", "{missing}"], {}, 2, "cannot read"),
    ("explain-file-empty-argument", ["explain", ""], {}, 2, "FILE is empty"),
    ("explain-file-directory", ["explain", "{empty}"], {}, 2, "is a directory"),
    ("explain-file-endless", ["explain", "/dev/zero"], {}, 2, "cannot read /dev/zero: is larger than"),
    ("explain-file-binary", ["explain", "--no-detect", "{bin}"], {}, 1, "nothing about __archspec"),
    ("explain-file-huge", ["explain", "--no-detect", "{huge}"], {}, 1, "nothing about __archspec"),
    ("explain-stdin-closed", ["explain"], {"stdin": "closed"}, 2, "stdin is closed"),
    ("explain-stdin-binary", ["explain", "--no-detect"], {"stdin": b"\xff\xfe\x00binary\x80" * 1000}, 1,
     "nothing about __archspec"),
    ("explain-cpu-empty", ["explain", "--cpu", " ", "{solver_error}"], {}, 2, "empty CPU name"),
    ("explain-closed-stdout", ["explain", "{solver_error}"], {"stdout": "closed"}, 1, "stdout is closed"),
    ("explain-full-stdout", ["explain", "{solver_error}"], {"stdout": "full"}, 1, "No space left on device"),

    ("snippet-missing", ["snippet"], {}, 2, "required: --levels"),
    ("snippet-negative-level", ["snippet", "--levels=-1"], {}, 2, "'-1' is not an x86-64 level"),
    ("snippet-garbage", ["snippet", "--levels", "frob"], {}, 2, "unknown x86-64 CPU name"),
    ("snippet-huge", ["snippet", "--levels", "9" * 100_000], {}, 2, "levels are 1 to 4"),
    ("snippet-format-garbage", ["snippet", "--levels", "1", "--format", "frob"], {}, 2, "invalid choice"),
    ("snippet-closed-stdout", ["snippet", "--levels", "1,3"], {"stdout": "closed"}, 1, "stdout is closed"),
    ("snippet-full-stdout", ["snippet", "--levels", "1,3"], {"stdout": "full"}, 1, "No space left on device"),
]


@pytest.mark.parametrize("argv, io, status, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line_and_the_right_status(paths, argv, io, status, words):
    if "{one_sample}" in argv and not any(Path(paths["one_sample"]).iterdir()):
        require_data(SAMPLES / "expected.tsv", "no CPU sample in it")
    result = run([a.format(**paths) for a in argv], **io)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == status, stderr
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert stderr.startswith("microarch-level")
    assert len(stderr) < 2000
    assert words in stderr
    if result.stdout is not None:
        assert result.stdout == b"", "nothing half-written on stdout"


def test_generate_never_creates_the_root_it_is_pointed_at(paths):
    assert run(["generate", "--root", paths["missing"]]).returncode == 2
    assert not Path(paths["missing"]).exists()


def test_generate_on_a_read_only_tree_fails_in_one_line_and_changes_nothing(root, tmp_path):
    tree = tmp_path / "tree"
    (tree / "recipe").mkdir(parents=True)
    shutil.copy2(root / "recipe" / "recipe.yaml", tree / "recipe" / "recipe.yaml")
    prefix = private_mounts(f"mount --bind -o ro '{tree}' '{tree}'")
    result = subprocess.run([*prefix, sys.executable, "-m", "microarch_level", "generate", "--root", str(tree)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "read-only file system; nothing was changed" in result.stderr
    assert [p.name for p in tree.rglob("*")] == ["recipe", "recipe.yaml"]


def test_generate_on_a_read_only_tree_that_is_up_to_date_succeeds(root):
    prefix = private_mounts(f"mount --bind -o ro '{root}' '{root}'")
    result = subprocess.run([*prefix, sys.executable, "-m", "microarch_level", "generate", "--root", str(root)],
                            capture_output=True, text=True, timeout=600)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("0 of ")


def test_a_closed_stderr_never_sends_the_message_to_stdout():
    result = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "microarch_level",
                             "normalize", "not-a-cpu"], capture_output=True, timeout=600)
    assert (result.returncode, result.stdout) == (2, b"")


def test_a_closed_stdin_does_not_matter_to_a_command_that_does_not_read_it():
    result = run(["normalize", "x86-64-v1"], stdin="closed")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"x86_64 1\n", b"")


# Each command's ordinary success, read by a reader that has already gone (`| head -1` at its worst).
SUCCESSES = {
    "normalize": ["normalize", "zen"],
    "generate": ["generate", "--check", "--root", "{root}"],
    "matrix": ["matrix", "--channel", "{channel}", "--cpuinfo-dir", "{one_sample}"],
    "doctor": ["doctor"],
    "explain": ["explain", "{solver_error}"],
    "snippet": ["snippet", "--levels", "1,3,4"],
    "help": ["--help"],
}


@pytest.mark.parametrize("argv", SUCCESSES.values(), ids=SUCCESSES.keys())
def test_a_closed_pipe_ends_the_command_by_sigpipe_silently(paths, argv):
    if "{one_sample}" in argv and not any(Path(paths["one_sample"]).iterdir()):
        require_data(SAMPLES / "expected.tsv", "no CPU sample in it")
    proc = subprocess.Popen([sys.executable, "-m", "microarch_level", *(a.format(**paths) for a in argv)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # the reader is gone before the first byte is written
    stderr = proc.stderr.read().decode(errors="replace")
    assert proc.wait(timeout=600) == -signal.SIGPIPE, stderr
    assert stderr == ""


def test_matrix_piped_into_head_prints_its_first_line_and_nothing_else(paths):
    if not any(Path(paths["one_sample"]).iterdir()):
        require_data(SAMPLES / "expected.tsv", "no CPU sample in it")
    script = 'python -m microarch_level matrix --channel "$1" --cpuinfo-dir "$2" | head -1'
    result = subprocess.run(["bash", "-o", "pipefail", "-c", script, "sh", paths["channel"], paths["one_sample"]],
                            capture_output=True, text=True, cwd=ROOT, timeout=600,
                            env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert result.stdout.startswith("CPU sample") and result.stdout.count("\n") == 1
    assert result.stderr == ""
    assert result.returncode in (0, 128 + signal.SIGPIPE)  # 0 when head read after the whole table was written


@pytest.mark.parametrize("how, words", [
    ("stdin /dev/zero", "cannot read stdin: is larger than"),
    ("a FIFO without a writer", "nothing about __archspec"),  # an empty input, at once
])
def test_explain_never_blocks_on_an_endless_or_writerless_input(tmp_path, how, words):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "microarch_level", "explain", "--no-detect"]
    if how == "stdin /dev/zero":
        with open("/dev/zero", "rb") as zero:
            result = subprocess.run(command, stdin=zero, capture_output=True, text=True, timeout=120, cwd=ROOT)
    else:
        result = subprocess.run([*command, str(fifo)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode in (1, 2) and result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
