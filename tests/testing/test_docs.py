"""docs/testing.md: its examples are the files in examples/, and they run when pasted elsewhere."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"
BLOCK = re.compile(r"<!-- file: (examples/[\w.]+\.py) -->\n```python\n(.*?)\n```", re.DOTALL)


def _blocks() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text()))


def test_every_code_example_in_the_page_is_a_file_in_examples() -> None:
    blocks = _blocks()
    assert sorted(blocks) == [
        "examples/property_testing.py",
        "examples/property_testing_plugin.py",
        "examples/property_testing_strategies.py",
    ]
    for path, code in blocks.items():
        assert code + "\n" == (ROOT / path).read_text(), f"{path} and its block in docs/testing.md differ"


def test_the_pasted_examples_pass_in_a_fresh_project(tmp_path: Path) -> None:
    # A user's project: the three files alone, no conftest, the plugin found through its entry point.
    names = []
    for path, code in _blocks().items():
        name = Path(path).name
        (tmp_path / name).write_text(code + "\n")
        names.append(name)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *names],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"\b5 passed\b", run.stdout), run.stdout


def test_the_documented_failure_is_what_a_broken_example_prints(tmp_path: Path) -> None:
    # The "Reading a failure" section: undo registered only for new files.
    code = (ROOT / "examples" / "property_testing.py").read_text()
    broken = code.replace(
        '        context.on_rollback(restore, label=f"restore {self.relative}")\n',
        '        if old is None:\n            context.on_rollback(path.unlink, label=f"remove {self.relative}")\n',
    )
    assert broken != code
    (tmp_path / "property_testing.py").write_text(broken)
    shutil.copy(ROOT / "examples" / "property_testing_plugin.py", tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "property_testing.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    doc = DOC.read_text()
    headline = (
        "steprail.testing.RollbackLeak: step 'write_labels.txt' failed after its own work and did not "
        "undo it: a failed step's rollback() is not called, so its undo must be registered with "
        "context.on_rollback()"
    )
    assert headline in doc
    assert headline in run.stdout, run.stdout
    for line in (
        "fault point: step 'write_labels.txt' fails after its own work",
        "   13. raised          'write_labels.txt'  from execute: InjectedFault: injected fault in step "
        "'write_labels.txt' (after)",
        "outcome: raised StepFailedError: Step 'write_labels.txt' failed: InjectedFault: injected fault in step "
        "'write_labels.txt' (after)",
    ):
        assert line in doc and line in run.stdout, line


def test_the_documented_invariant_violation_is_what_the_check_prints() -> None:
    import pytest

    from steprail import BaseStepContext, RuntimeContext
    from steprail.testing import InvariantViolation, StepScript, TraceEvent, WorkflowScript, check_invariants, record_run

    script = WorkflowScript((StepScript("download", 0.5), StepScript("convert", 0.5, outcome="raise")))
    record = record_run(script.build(), BaseStepContext(runtime_ctx=RuntimeContext()))
    record.events.insert(-1, TraceEvent("rollback", "download"))  # as if rolled back twice
    with pytest.raises(InvariantViolation) as caught:
        check_invariants(record)
    printed = f"steprail.testing.InvariantViolation: {caught.value}"
    documented = DOC.read_text().split("A broken invariant reads the same way.")[1].split("```")[1]
    assert printed.splitlines()[:-2] == documented.strip("\n").splitlines()
