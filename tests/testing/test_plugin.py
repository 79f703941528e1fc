"""The pytest plugin: loaded through its entry point, usable without hypothesis, fixtures work."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

USER_TESTS = textwrap.dedent(
    '''
    from pathlib import Path

    import pytest

    from steprail import BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
    from steprail.testing import snapshot_tree


    class Write(BaseStep[BaseStepContext]):
        progress_weight = 0.5

        def __init__(self, folder, name, leaky=False):
            self.folder, self._name, self.leaky = folder, name, leaky

        @property
        def name(self):
            return self._name

        def execute(self, context):
            path = Path(self.folder, self._name)
            path.write_text("x")
            context.set_progress(1, 2)
            context.set_metrics({"bytes": 1})
            context.log("wrote", {"step": self._name}, file=str(path))
            return StepResult(rollback_data={"path": str(path)})

        def rollback(self, context, result):
            if not self.leaky:
                Path(result.rollback_data["path"]).unlink()


    def workflow(folder, leaky=""):
        registry = StepRegistry()
        for name in ("a", "b", "c", "d", "e"):
            registry.register(Write(folder, name, leaky=name == leaky))
        return registry


    def new_context():
        return BaseStepContext(runtime_ctx=RuntimeContext())


    def test_run_and_query(tmp_path, recording_runtime, run_workflow):
        context = BaseStepContext(runtime_ctx=recording_runtime)
        record = run_workflow(workflow(tmp_path), context)
        assert record.succeeded
        assert recording_runtime.overall_progress() == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
        assert recording_runtime.progress_of("c") == [(1, 2)]
        assert recording_runtime.metrics_of("a") == [{"bytes": 1}]
        assert recording_runtime.last_metrics("e") == {"bytes": 1}
        assert recording_runtime.last_metrics("zz") is None
        assert recording_runtime.event_names() == ["wrote"] * 5
        assert recording_runtime.events_for("b") == [{"step": "b"}]
        assert len(recording_runtime.files_logged()) == 5
        recording_runtime.clear()
        assert recording_runtime.logs == []


    def test_limit_comes_from_the_command_line(tmp_path, rollback_restores, fault_points_limit):
        assert fault_points_limit == 2
        explored = rollback_restores(lambda: workflow(tmp_path), new_context, lambda: snapshot_tree(tmp_path))
        assert 1 <= len(explored) <= 2


    def test_broken_rollback(tmp_path, rollback_restores):
        rollback_restores(lambda: workflow(tmp_path, leaky="a"), new_context, lambda: snapshot_tree(tmp_path))
    '''
)


# Makes every hypothesis import fail, as it would where hypothesis is not installed.
_BLOCK_HYPOTHESIS = """
class _NoHypothesis:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "hypothesis":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, _NoHypothesis())
"""


def _pytest(tmp_path: Path, *args: str, block_hypothesis: bool = False) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    code = "import sys\n" + (_BLOCK_HYPOTHESIS if block_hypothesis else "")
    code += "import pytest\nsys.exit(pytest.main(sys.argv[1:]))\n"
    return subprocess.run(
        [sys.executable, "-c", code, "-q", "-p", "no:cacheprovider", *args, str(tmp_path / "test_user.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fixtures_option_and_a_caught_leak(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "--steprail-fault-points=2")
    output = run.stdout + run.stderr
    assert "2 passed, 1 failed" in output or "1 failed, 2 passed" in output, output
    assert "FAILED test_user.py::test_broken_rollback" in output
    assert "RollbackLeak: rollback of step 'a' left state behind" in output
    assert re.search(r"fault point: step '[b-e]' fails before it runs", output)
    assert "steprail.testing: fault point " in output  # the sampling note


def test_the_plugin_works_without_hypothesis(tmp_path: Path) -> None:
    # The user's tests here use no strategies: everything must run with hypothesis unimportable,
    # except sampling fault points, which says how to get hypothesis.
    run = _pytest(tmp_path, "-p", "no:hypothesispytest", block_hypothesis=True)
    output = run.stdout + run.stderr
    assert "FAILED test_user.py::test_limit_comes_from_the_command_line" in output, output
    assert "test_user.py::test_run_and_query" not in output.split("short test summary")[-1]
    assert "RollbackLeak: rollback of step 'a' left state behind" in output
    run = _pytest(tmp_path, "-p", "no:hypothesispytest", "--steprail-fault-points=2", block_hypothesis=True)
    assert (
        "exploring a sample of fault points needs the [testing] extra (missing: hypothesis): "
        "pip install '<your steprail checkout or wheel>[testing]'"
    ) in (run.stdout + run.stderr)


def test_importing_the_plugin_does_not_import_hypothesis() -> None:
    code = (
        "import sys\n"
        "import steprail.testing.pytest_plugin, steprail.testing\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'hypothesis'], 'hypothesis imported'\n"
        "steprail.testing.workflows\n"
        "assert 'hypothesis' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_entry_point_is_installed() -> None:
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="pytest11") if ep.name == "steprail"]
    assert [ep.value for ep in found] == ["steprail.testing.pytest_plugin"]
