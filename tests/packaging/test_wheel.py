"""The built wheel works where users put it: installed in a clean virtualenv and
used from a folder outside the repository (on Python 3.12 and 3.13, and on 3.12 with every
dependency at its declared lower bound), its console script, a demo job, its pytest plugin and
its mypy plugin work. The source distribution holds steprail's own files only, and builds.

uv builds the wheel and makes the virtualenv; with uv's cache warm (``./scripts/test`` has
synced the same packages) the whole test takes well under a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]


def find_uv() -> str:
    """The uv that ./scripts/test uses (it exports STEPRAIL_UV), else one on PATH or in
    .bootstrap/."""
    for candidate in (os.environ.get("STEPRAIL_UV"), shutil.which("uv"), str(ROOT / ".bootstrap" / "bin" / "uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("uv not found: run the tests through ./scripts/test, which installs it")


def find_python(uv: str, version: str) -> str | None:
    """An interpreter of that version: as uv finds it (from the repository, which pins 3.12),
    else one installed by pyenv, whose shims answer only for the selected version."""
    found = subprocess.run([uv, "python", "find", version], cwd=ROOT, capture_output=True, text=True, check=False)
    if found.returncode == 0:
        return found.stdout.strip()
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
    candidates = sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}"))
    return str(candidates[-1]) if candidates else None


def run(command: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def clean_env(home: Path) -> dict[str, str]:
    """The user's environment without anything that points back into this repository."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV", "MYPYPATH")}
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if not part.startswith(str(ROOT)))
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["HOME_FOR_TEST"] = str(home)
    return env


def lower_bounds(wheel: Path) -> list[Requirement]:
    """steprail's own requirements (core and every extra) as its wheel declares them, without
    their markers: each names its lower bound with ``>=``."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = (name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    requirements = [Requirement(line.removeprefix("Requires-Dist:").strip()) for line in lines if line.startswith("Requires-Dist:")]
    own = [requirement for requirement in requirements if requirement.name != "steprail"]
    for requirement in own:
        requirement.marker = None
        assert [spec.operator for spec in requirement.specifier] == [">="], requirement
    return own


@pytest.fixture(scope="module", params=["3.12", "3.13", "3.12-lowest"])
def installed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, dict[str, str]]:
    """(the clean virtualenv's bin/, a work folder outside the repository, the environment), for
    each supported Python. 3.12, the oldest, must be there (./scripts/test pins it); a machine
    without 3.13 skips that half. "3.12-lowest" installs every dependency of steprail[all] at
    the lower bound pyproject.toml declares (uv's lowest-direct resolution, with each of them
    named as a direct requirement), so a bound that is too low fails here."""
    variant: str = request.param
    version = variant.removesuffix("-lowest")
    uv = find_uv()
    python = find_python(uv, version)
    if python is None:
        if version == "3.12":
            pytest.fail("no Python 3.12 found by uv: the wheel must be tried on the oldest supported Python")
        pytest.skip(f"no Python {version} on this machine")
    base = tmp_path_factory.mktemp(f"wheel-{variant}")
    env = clean_env(base)
    dist = base / "dist"
    built = run([uv, "build", "--wheel", "--python", python, "--out-dir", dist, ROOT], base, env)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("steprail-*.whl")
    venv = base / "venv"
    made = run([uv, "venv", "--quiet", "--python", python, venv], base, env)
    assert made.returncode == 0, made.stderr
    venv_python = venv / "bin" / "python"
    if variant.endswith("-lowest"):
        bounds = lower_bounds(wheel)
        added = run(
            [uv, "pip", "install", "--quiet", "--python", venv_python, "--resolution", "lowest-direct", f"{wheel}[all]",
             *(str(requirement) for requirement in bounds)],
            base,
            env,
        )
        assert added.returncode == 0, added.stderr
        listed = run([venv_python, "-c", "import importlib.metadata as m, sys\nfor name in sys.argv[1:]: print(name, m.version(name))",
                      *(requirement.name for requirement in bounds)], base, env)
        assert listed.returncode == 0, listed.stderr
        got = dict(line.split() for line in listed.stdout.splitlines())
        for requirement in bounds:
            (spec,) = requirement.specifier
            # The bound's own release series (typing-extensions 4.12 resolves to 4.12.2, the
            # oldest that pydantic 2.11 accepts).
            bound = Version(spec.version).release
            assert Version(got[requirement.name]).release[: len(bound)] == bound, (requirement, got)
        # pytest is not steprail's dependency: the newest, for the plugin test.
        added = run([uv, "pip", "install", "--quiet", "--python", venv_python, "pytest"], base, env)
    else:
        added = run([uv, "pip", "install", "--quiet", "--python", venv_python, f"{wheel}[all]", "pytest"], base, env)
    assert added.returncode == 0, added.stderr
    work = base / "work"
    work.mkdir()
    return venv / "bin", work, env


def test_the_package_comes_from_the_wheel_with_its_version(installed: tuple[Path, Path, dict[str, str]]) -> None:
    bin_dir, work, env = installed
    result = run(
        [bin_dir / "python", "-c", "import steprail, importlib.metadata as m; "
         "print(steprail.__file__); print(steprail.__version__ == m.version('steprail'))"],
        work,
        env,
    )
    assert result.returncode == 0, result.stderr
    where, same_version = result.stdout.splitlines()
    assert Path(where).is_relative_to(bin_dir.parent) and "site-packages" in where
    assert same_version == "True"


def test_the_console_script_runs(installed: tuple[Path, Path, dict[str, str]]) -> None:
    bin_dir, work, env = installed
    result = run([bin_dir / "steprail", "--help"], work, env)
    assert result.returncode == 0, result.stderr
    for command in ("run", "plan", "jobs", "demo"):
        assert command in result.stdout
        # Each command's own --help too: typer 0.15.x failed there with click 8.2+.
        sub = run([bin_dir / "steprail", command, "--help"], work, env)
        assert sub.returncode == 0, sub.stderr
        assert "Usage" in sub.stdout


def test_the_demo_job_runs(installed: tuple[Path, Path, dict[str, str]]) -> None:
    # A whole recorded job through the console script: the CLI, the datasets (Pillow, PyYAML),
    # pydantic and the job store, at the versions this virtualenv holds.
    bin_dir, work, env = installed
    result = run([bin_dir / "steprail", "demo"], work, {**env, "STEPRAIL_HOME": str(work / "demo-home")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (work / "demo-home" / "jobs.sqlite3").is_file()


def test_the_sdist_holds_steprail_s_own_files_only_and_builds(tmp_path: Path) -> None:
    uv = find_uv()
    python = find_python(uv, "3.12")
    assert python is not None
    env = clean_env(tmp_path)
    built = run([uv, "build", "--sdist", "--python", python, "--out-dir", tmp_path / "dist", ROOT], tmp_path, env)
    assert built.returncode == 0, built.stderr
    (sdist,) = (tmp_path / "dist").glob("steprail-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    tops = {member.split("/")[0] for member in members}
    # No tests (tests/data/real holds third-party data under GPL-3.0 and research-only terms),
    # no lock file, CI, interpreter pin or helper scripts.
    assert tops <= {"src", "docs", "README.md", "LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "mkdocs.yml",
                    "pyproject.toml", "PKG-INFO", ".gitignore"}, tops
    assert {"LICENSE", "README.md", "pyproject.toml", "src/steprail/__init__.py", "src/steprail/py.typed"} <= members
    # A wheel built from the sdist alone has the whole package.
    wheel_built = run([uv, "build", "--wheel", "--python", python, "--out-dir", tmp_path / "dist", sdist], tmp_path, env)
    assert wheel_built.returncode == 0, wheel_built.stderr
    (wheel,) = (tmp_path / "dist").glob("steprail-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    # The licence as PEP 639 states it (hatchling >= 1.27), and the only licence file.
    assert "License-Expression: MIT" in metadata.splitlines()
    assert [line for line in metadata.splitlines() if line.startswith("License-File:")] == ["License-File: LICENSE"]
    expected = {f"steprail/{path.relative_to(ROOT / 'src' / 'steprail')}" for path in (ROOT / "src" / "steprail").rglob("*")
                if path.is_file() and "__pycache__" not in path.parts}
    assert expected <= names


def test_the_pytest_plugin_is_loaded_and_its_fixtures_work(installed: tuple[Path, Path, dict[str, str]]) -> None:
    bin_dir, work, env = installed
    (work / "test_flow.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import field

            from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult
            from steprail.testing import RecordingRuntime, WorkflowRunner


            class Ctx(BaseStepContext):
                seen: list[str] = field(default_factory=list)


            class Note(BaseStep[Ctx]):
                @property
                def name(self) -> str:
                    return "note"

                @property
                def progress_weight(self) -> float:
                    return 1.0

                def execute(self, context: Ctx) -> StepResult:
                    context.seen.append("note")
                    return StepResult()


            def test_run(run_workflow: WorkflowRunner, recording_runtime: RecordingRuntime) -> None:
                registry = StepRegistry[Ctx]()
                registry.register(Note())
                context = Ctx(runtime_ctx=recording_runtime)
                record = run_workflow(registry, context)
                assert record.succeeded and context.seen == ["note"]
                assert recording_runtime.overall_progress()[-1] == 100
            """
        )
    )
    result = run([bin_dir / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_flow.py"], work, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_mypy_plugin_catches_a_planted_error(installed: tuple[Path, Path, dict[str, str]]) -> None:
    bin_dir, work, env = installed
    (work / "mypy.ini").write_text("[mypy]\nplugins = steprail.mypy\nstrict = True\n")
    (work / "flow.py").write_text(
        textwrap.dedent(
            """
            from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult


            class Ctx(BaseStepContext):
                pass


            class Big(BaseStep[Ctx]):
                @property
                def name(self) -> str:
                    return "big"

                @property
                def progress_weight(self) -> float:
                    return 15  # line 16: a percentage where a fraction is due

                def execute(self, context: Ctx) -> StepResult:
                    return StepResult()


            registry = StepRegistry[Ctx]()
            registry.register(Big())
            """
        )
    )
    result = run([bin_dir / "mypy", "--no-incremental", "flow.py"], work, env)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, result.stdout
    assert errors[0].startswith("flow.py:16:") and errors[0].endswith("[steprail-weight]")
