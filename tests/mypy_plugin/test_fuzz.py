"""Odd code shapes never crash mypy through the plugin, and no check fails internally.

hypothesis writes modules from pieces users (or their typos) produce: weird literals as names and
weights (huge integers, ``1e309``, bools, complex numbers, constants of the wrong type), steps
that are generic, nested in functions, built on aliases or dataclasses, registrations with star
arguments, keywords, wrong arity and non-literal targets. mypy runs in-process with the plugin
and ``report_internal_errors`` on: the output must hold no ``INTERNAL ERROR``, no traceback and
no ``steprail-internal`` note (a guarded check that failed is a bug, even though mypy survives).

Each example runs mypy once over several generated modules, so the examples are few (a tenth of
the profile's, at least 10); the steprail dependencies come from a cache warmed once.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mypy import api

_PROFILE = settings.default
_EXAMPLES = max(10, (_PROFILE.max_examples if _PROFILE is not None else 100) // 10)

_HEADER = """\
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from steprail import (
    BaseStep,
    BaseStepContext,
    LoggingStep,
    Orchestrator,
    RuntimeContext,
    StepRegistry,
    StepResult,
    TimingStep,
    ValidationStep,
)
from steprail.actions import Workflow
from steprail.datasets import DatasetContext, ExportDatasetStep


@dataclass
class Ctx(BaseStepContext):
    value: int = 0


NAME_CONST: Final = "const_name"
WEIGHT_CONST: Final = 1.5
BOOL_CONST: Final = True
WRONG_CONST: Final = b"bytes"
CtxStep = BaseStep[Ctx]
AliasOfAlias = CtxStep
type StatementAlias = BaseStep[Ctx]


def ok(context: Ctx) -> tuple[bool, str | None]:
    return True, None


def callback(done: int, total: int) -> None:
    pass
"""

#: Weights and names spelled in every odd way; each one is also used once by the fixed test.
WEIGHT_SPELLINGS = [
    "0.5", "1e309", "-1e309", "True", "False", "1j", "'heavy'", "None", "WEIGHT_CONST",
    "-WEIGHT_CONST", "BOOL_CONST", "WRONG_CONST", "--1", "+-0.25", "-True", "NAME_CONST",
    "0x" + "F" * 300, "1_000_000", "self.missing", "[1.0][0]", "1" + "0" * 400,
    # mypy itself cannot read an int literal of more than 4300 digits (Python's limit).
    "-1" + "0" * 4000,
]
NAME_SPELLINGS = [
    "'a'", "'b'", "''", "NAME_CONST", "f'x{1}'", "'a' + 'b'", "1", "None", "WEIGHT_CONST",
    "BOOL_CONST", "self._name", "'logged_a'", "'\\u00e9t\\u00e9'", "'x' * 3",
]
_WEIGHTS = st.one_of(
    st.sampled_from(WEIGHT_SPELLINGS),
    st.integers(min_value=-(10**600), max_value=10**600).map(str),
    st.builds(lambda digits: "1" + "0" * digits, st.integers(0, 4000)),
)
_NAMES = st.sampled_from(NAME_SPELLINGS)
_BASES = st.sampled_from(["BaseStep[Ctx]", "CtxStep", "AliasOfAlias", "BaseStep[Any]", "BaseStep[BaseStepContext]"])


@st.composite
def _step_class(draw: st.DrawFn, index: int) -> str:
    name, weight, base = draw(_NAMES), draw(_WEIGHTS), draw(_BASES)
    shape = draw(st.sampled_from(["property", "final", "plain", "dataclass", "init", "generic", "nested"]))
    cls = f"Step{index}"
    execute = "    def execute(self, context: Any) -> StepResult:\n        return StepResult()\n"
    if shape == "property":
        body = (
            f"    @property\n    def name(self) -> str:\n        return {name}\n\n"
            f"    @property\n    def progress_weight(self) -> float:\n"
            f"        if self:\n            return {weight}\n        return {draw(_WEIGHTS)}\n\n"
        )
        return f"class {cls}({base}):\n{body}{execute}"
    if shape in ("final", "plain"):
        marker = ": Final" if shape == "final" else ""
        return f"class {cls}({base}):\n    name{marker} = {name}\n    progress_weight{marker} = {weight}\n\n{execute}"
    if shape == "dataclass":
        return (
            f"@dataclass\nclass {cls}({base}):\n    name: Final[str] = {name}\n"
            f"    progress_weight: float = {weight}\n\n{execute}"
        )
    if shape == "init":
        extra = draw(st.sampled_from(["", ", *names: str", ", **options: Any", ", *, flag: bool = False"]))
        return (
            f"class {cls}({base}):\n"
            f"    def __init__(self, name: str = {name}, progress_weight: float = {weight}{extra}) -> None:\n"
            f"        self._name = name\n        self._weight = progress_weight\n\n"
            f"    @property\n    def name(self) -> str:\n        return self._name\n\n"
            f"    @property\n    def progress_weight(self) -> float:\n        return self._weight\n\n{execute}"
        )
    if shape == "generic":
        return (
            f"class {cls}[C: BaseStepContext](BaseStep[C]):\n"
            f"    name: Final = {name}\n    progress_weight = {weight}\n\n"
            f"    def execute(self, context: C) -> StepResult:\n        return StepResult()\n"
        )
    return (
        f"def make_{cls}() -> BaseStep[Ctx]:\n"
        f"    class Inner({base}):\n        name: Final = {name}\n        progress_weight = {weight}\n\n"
        f"        def execute(self, context: Any) -> StepResult:\n            return StepResult()\n"
        f"    return Inner()\n\n{cls} = make_{cls}\n"
    )


def _calls(classes: int) -> st.SearchStrategy[str]:
    cls = st.integers(0, classes - 1).map(lambda i: f"Step{i}()")
    return st.one_of(
        st.builds("registry.register({})".format, cls),
        st.builds("registry.register(step={})".format, cls),
        st.builds("registry.register(*[{}])".format, cls),
        st.builds("registry.register(LoggingStep(TimingStep({})))".format, cls),
        st.builds("registry.insert_after({}, {})".format, _NAMES, cls),
        st.builds("registry.insert_before(before_name={}, step={})".format, _NAMES, cls),
        st.builds("registry.unregister({})".format, _NAMES),
        st.builds("registry.unregister(*{})".format, st.sampled_from(["['a']", "names"])),
        st.builds("registry.register(ValidationStep(ok, name={}, progress_weight={}))".format, _NAMES, _WEIGHTS),
        st.builds("registry.register(ExportDatasetStep(name={}, progress_weight={}))".format, _NAMES, _WEIGHTS),
        st.builds("ExportDatasetStep(**{{'name': {}}})".format, _NAMES),
        st.sampled_from(
            [
                "Orchestrator(registry, Ctx(runtime_ctx=RuntimeContext()), callback)",
                "Orchestrator(*args)",
                "Orchestrator(registry=registry, context=1, progress_callback=callback)",
                "Workflow(registry, 'not a context')",
                "Workflow(**kwargs)",
                "StepRegistry[Ctx]().register(Step0())",
                "registry = StepRegistry[DatasetContext]()",
                "registry = StepRegistry()",
                "other = registry",
                "helper(registry)",
                "import json",
                "(registry := StepRegistry[Ctx]())",
                "registry.register(extra)",
            ]
        ),
    )


@st.composite
def _module(draw: st.DrawFn) -> str:
    classes = draw(st.integers(2, 5))
    parts = [_HEADER] + [draw(_step_class(index)) for index in range(classes)]
    body = draw(st.lists(_calls(classes), min_size=3, max_size=10))
    where = draw(st.sampled_from(["module", "function", "class"]))
    setup = ["registry = StepRegistry[Ctx]()"]
    if where == "module":
        lines = "\n".join(setup + body)
    elif where == "function":
        lines = "def build(names: list[str], args: Any, kwargs: Any, extra: StatementAlias) -> None:\n" + "\n".join(
            "    " + line for line in setup + body
        )
    else:
        lines = "class Holder:\n" + "\n".join("    " + line for line in setup + body)
    helper = "def helper(registry: Any) -> None:\n    pass\n\nnames: list[str] = []\nargs: Any = ()\nkwargs: Any = {}\nextra: Any = None\n"
    return "\n\n".join([*parts, helper, lines]) + "\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the configuration and a cache already holding steprail's dependencies."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nplugins = steprail.mypy\n[steprail-mypy]\nreport_internal_errors = True\n"
    )
    (root / "warm.py").write_text("import steprail\nimport steprail.actions\nimport steprail.datasets\n")
    _run(root, ["warm.py"])
    return root


def _run(root: Path, files: list[str]) -> str:
    """mypy's report, with what a crash prints to ``sys.stderr`` directly, and its status."""
    previous = Path.cwd()
    os.chdir(root)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
            stdout, stderr, status = api.run(
                ["--config-file", "mypy.ini", "--cache-dir", "cache", "--show-traceback", *files]
            )
    finally:
        os.chdir(previous)
    return f"{stdout}{stderr}{printed.getvalue()}\nstatus: {status}"


@settings(max_examples=_EXAMPLES)
@given(modules=st.lists(_module(), min_size=3, max_size=5))
def test_odd_code_never_crashes_mypy_or_a_check(workspace: Path, modules: list[str]) -> None:
    files = []
    for index, source in enumerate(modules):
        path = workspace / f"odd_{index}.py"
        path.write_text(source)
        files.append(path.name)
    _assert_survived(_run(workspace, files))


def _assert_survived(output: str) -> None:
    # 0: clean, 1: errors in the code; 2 would be a crash (or a blocking error).
    assert output.endswith(("status: 0", "status: 1")), output[-3000:]
    assert "INTERNAL ERROR" not in output, output
    assert "Traceback" not in output, output
    assert "steprail: the" not in output, output


def test_every_odd_spelling_once(workspace: Path) -> None:
    """Each odd weight in each place a weight is read, each odd name in each place a name is."""
    classes = []
    for index, weight in enumerate(WEIGHT_SPELLINGS):
        classes.append(
            f"class Prop{index}(BaseStep[Ctx]):\n"
            f"    @property\n    def name(self) -> str:\n        return 'p{index}'\n\n"
            f"    @property\n    def progress_weight(self) -> float:\n        return {weight}\n\n"
            f"    def execute(self, context: Any) -> StepResult:\n        return StepResult()\n\n\n"
            f"class Attr{index}(CtxStep):\n    name: Final = 'a{index}'\n    progress_weight = {weight}\n\n"
            f"    def execute(self, context: Any) -> StepResult:\n        return StepResult()\n\n\n"
            f"ValidationStep(ok, progress_weight={weight})\nExportDatasetStep(progress_weight={weight})\n"
        )
    calls = ["registry = StepRegistry[Ctx]()"]
    for name in NAME_SPELLINGS:
        calls += [
            f"registry.register(ValidationStep(ok, name={name}))",
            f"registry.insert_after({name}, Prop0())",
            f"registry.insert_before(before_name={name}, step=Attr0())",
            f"registry.unregister({name})",
        ]
    source = "\n\n".join([_HEADER, *classes, "\n".join(calls)]) + "\n"
    (workspace / "odd_fixed.py").write_text(source)
    _assert_survived(_run(workspace, ["odd_fixed.py"]))
