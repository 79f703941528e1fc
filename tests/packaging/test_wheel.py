"""The built wheel works where users put it: installed in a clean virtualenv and
used from a folder outside the repository (on Python 3.12 and 3.13), its console script, pytest plugin and mypy plugin
work.

uv builds the wheel and makes the virtualenv; with uv's cache warm (``./scripts/test`` has
synced the same packages) the whole test takes well under a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

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


@pytest.fixture(scope="module", params=["3.12", "3.13"])
def installed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, dict[str, str]]:
    """(the clean virtualenv's bin/, a work folder outside the repository, the environment), for
    each supported Python. 3.12, the oldest, must be there (./scripts/test pins it); a machine
    without 3.13 skips that half."""
    version: str = request.param
    uv = find_uv()
    python = find_python(uv, version)
    if python is None:
        if version == "3.12":
            pytest.fail("no Python 3.12 found by uv: the wheel must be tried on the oldest supported Python")
        pytest.skip(f"no Python {version} on this machine")
    base = tmp_path_factory.mktemp(f"wheel-{version}")
    env = clean_env(base)
    dist = base / "dist"
    built = run([uv, "build", "--wheel", "--python", python, "--out-dir", dist, ROOT], base, env)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("steprail-*.whl")
    venv = base / "venv"
    made = run([uv, "venv", "--quiet", "--python", python, venv], base, env)
    assert made.returncode == 0, made.stderr
    added = run([uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", f"{wheel}[all]", "pytest"], base, env)
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
