"""What the steprail mypy plugin costs: mypy with the plugin against mypy without it.

Run: ``.venv/bin/python benchmarks/bench_mypy_plugin.py`` (``--repeats N``, ``--quick``).

It writes a corpus into a temporary directory: 300 step classes (literal names and weights,
spread over four contexts and ten modules) and 50 functions that build registries with
``register``, the wrappers, ``ValidationStep``, ``insert_before``/``insert_after``/``unregister``
and an ``Orchestrator``. The corpus is clean, so both runs do the same work apart from the
plugin's. Each repeat runs mypy twice, with and without the plugin, in alternating order, in
fresh processes, and reports two figures:

- **full cold**: no cache at all, so steprail's dependencies (pydantic, rich, ...) are analysed
  too, as on a first CI run;
- **corpus cold**: dependencies come from a cache warmed once beforehand (a copy per run), and
  only the corpus is analysed cold. The plugin's share is largest here: about half of it is the
  fixed cost of importing ``steprail`` (and pydantic) to load the plugin.

The goal (<= 1.15x) is checked for both figures.

Times are the mypy process's CPU time (user + system), which a busy machine disturbs far less
than wall time. Medians over the repeats are printed for each side, with the ratio of the
medians and the median of the per-repeat ratios.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

STEP_CLASSES = 300
REGISTRY_FUNCTIONS = 50
STEP_MODULES = 10
WORKFLOW_MODULES = 5
GOAL = 1.15

_CONTEXTS = '''\
from dataclasses import dataclass, field

from steprail import BaseStepContext


@dataclass
class IngestContext(BaseStepContext):
    """Base context of the corpus."""

    paths: list[str] = field(default_factory=list)


@dataclass
class TrainContext(IngestContext):
    epochs: int = 1


@dataclass
class ExportContext(IngestContext):
    target: str = "yolo"
'''

_CONTEXT_NAMES = ("BaseStepContext", "IngestContext", "TrainContext", "ExportContext")


def _context_of(index: int) -> str:
    return _CONTEXT_NAMES[index % len(_CONTEXT_NAMES)]


def _step_class(index: int) -> str:
    context = _context_of(index)
    weight = round(0.01 + (index % 40) / 100, 2)
    if index % 3 == 0:
        # A Final attribute instead of properties, the other spelling the plugin reads.
        return f'''

class Step{index}(BaseStep[{context}]):
    """Generated step {index}."""

    name: Final = "step_{index}"
    progress_weight = {weight}

    def execute(self, context: {context}) -> StepResult:
        context.log("step", {{"index": {index}}})
        return StepResult(success=True, data={{"index": {index}}})
'''
    return f'''

class Step{index}(BaseStep[{context}]):
    """Generated step {index}."""

    @property
    def name(self) -> str:
        return "step_{index}"

    @property
    def progress_weight(self) -> float:
        return {weight}

    def execute(self, context: {context}) -> StepResult:
        context.log("step", {{"index": {index}}})
        return StepResult(success=True, data={{"index": {index}}})

    def rollback(self, context: {context}, result: StepResult) -> None:
        context.errors.append(f"undo {{result.data}}")
'''


def _step_module(module: int, indices: range) -> str:
    header = (
        "from typing import Final\n\n"
        "from steprail import BaseStep, BaseStepContext, StepResult\n\n"
        "from .contexts import ExportContext, IngestContext, TrainContext\n\n"
        "__all__ = [" + ", ".join(f'"Step{i}"' for i in indices) + "]\n"
    )
    del module
    return header + "".join(_step_class(index) for index in indices)


def _usable(index: int, context: str) -> bool:
    """Whether step ``index`` may be registered in a registry of ``context``."""
    step_context = _context_of(index)
    if step_context in ("BaseStepContext", "IngestContext"):
        return True
    return step_context == context


def _registry_function(number: int) -> str:
    context = ("TrainContext", "ExportContext")[number % 2]
    candidates = [i for i in range(number * 6, number * 6 + 40) if _usable(i % STEP_CLASSES, context)]
    steps = [i % STEP_CLASSES for i in candidates][:6]
    first, second, third, fourth, fifth, sixth = steps
    return f'''

def build_{number}(runtime: RuntimeContext) -> Orchestrator[{context}]:
    """Generated workflow {number}."""
    registry = StepRegistry[{context}]()
    registry.register(Step{first}())
    registry.register(LoggingStep(Step{second}()))
    registry.register(TimingStep(Step{third}()))
    registry.insert_before("logged_step_{second}", Step{fourth}())
    registry.insert_after("step_{first}", ValidationStep(_valid, name="check_{number}"))
    registry.register(Step{fifth}())
    registry.unregister("step_{fifth}")
    registry.register(LoggingStep(Step{sixth}()))
    return Orchestrator(
        registry=registry,
        context={context}(runtime_ctx=runtime),
        progress_callback=lambda current, total: None,
    )
'''


def _workflow_module(numbers: range) -> str:
    per_module = STEP_CLASSES // STEP_MODULES
    imports = "\n".join(
        f"from .steps_{m} import *  # noqa: F403" for m in range(STEP_MODULES)
    )
    header = f'''\
from steprail import (
    BaseStepContext,
    LoggingStep,
    Orchestrator,
    RuntimeContext,
    StepRegistry,
    TimingStep,
    ValidationStep,
)

from .contexts import ExportContext, TrainContext
{imports}


def _valid(context: BaseStepContext) -> tuple[bool, str | None]:
    return not context.errors, None
'''
    del per_module
    return header + "".join(_registry_function(number) for number in numbers)


def write_corpus(root: Path) -> Path:
    """Write the corpus package under ``root``; return the package directory."""
    package = root / "corpus"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Generated steprail workflows."""\n')
    (package / "contexts.py").write_text(_CONTEXTS)
    per_module = STEP_CLASSES // STEP_MODULES
    for module in range(STEP_MODULES):
        indices = range(module * per_module, (module + 1) * per_module)
        (package / f"steps_{module}.py").write_text(_step_module(module, indices))
    per_workflow = REGISTRY_FUNCTIONS // WORKFLOW_MODULES
    for module in range(WORKFLOW_MODULES):
        numbers = range(module * per_workflow, (module + 1) * per_workflow)
        (package / f"workflows_{module}.py").write_text(_workflow_module(numbers))
    return package


def _config(root: Path, plugin: bool) -> Path:
    path = root / ("with-plugin.ini" if plugin else "without-plugin.ini")
    lines = ["[mypy]", "strict = True", "warn_unused_configs = False"]
    if plugin:
        lines.append("plugins = steprail.mypy")
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_mypy(root: Path, plugin: bool, cache: Path | None, target: str) -> float:
    command = [sys.executable, "-m", "mypy", "--config-file", str(_config(root, plugin))]
    command += ["--cache-dir", str(cache)] if cache is not None else ["--no-incremental"]
    command.append(target)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of the mypy process (user + system): far steadier than wall time on a busy machine.
    elapsed = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode != 0:
        raise SystemExit(
            f"mypy failed ({'with' if plugin else 'without'} the plugin):\n"
            f"{completed.stdout}{completed.stderr}"
        )
    return elapsed


def _warm_dependency_cache(root: Path, plugin: bool) -> Path:
    """A cache holding steprail and its dependencies, but none of the corpus."""
    cache = root / ("deps-cache-with" if plugin else "deps-cache-without")
    probe = root / "probe.py"
    probe.write_text("import steprail\n")
    _run_mypy(root, plugin, cache, "probe.py")
    return cache


def _measure(root: Path, repeats: int, corpus_cold: bool) -> dict[bool, list[float]]:
    times: dict[bool, list[float]] = {True: [], False: []}
    warm = {plugin: _warm_dependency_cache(root, plugin) for plugin in (True, False)} if corpus_cold else {}
    for repeat in range(repeats):
        # Alternate the order so a slow moment of the machine hits both sides alike.
        order = (True, False) if repeat % 2 == 0 else (False, True)
        for plugin in order:
            cache: Path | None = None
            if corpus_cold:
                cache = root / f"run-cache-{int(plugin)}"
                shutil.rmtree(cache, ignore_errors=True)
                shutil.copytree(warm[plugin], cache)
            times[plugin].append(_run_mypy(root, plugin, cache, "corpus"))
    return times


def _report(label: str, times: dict[bool, list[float]]) -> float:
    with_plugin = statistics.median(times[True])
    without = statistics.median(times[False])
    paired = statistics.median(a / b for a, b in zip(times[True], times[False], strict=True))
    ratio = with_plugin / without
    print(
        f"{label:<12} without: {without:6.2f} s   with: {with_plugin:6.2f} s (CPU)   "
        f"ratio of medians: {ratio:.3f}x   median paired ratio: {paired:.3f}x"
    )
    return ratio


def main() -> None:
    """Generate the corpus, time mypy both ways, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per side (default 5)")
    parser.add_argument("--quick", action="store_true", help="3 repeats, corpus-cold only")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    with tempfile.TemporaryDirectory(prefix="steprail-bench-mypy-") as tmp:
        root = Path(tmp)
        write_corpus(root)
        print(
            f"corpus: {STEP_CLASSES} step classes, {REGISTRY_FUNCTIONS} registry-building "
            f"functions; {repeats} repeats per side; mypy in fresh processes"
        )
        ratios = {"corpus cold": _report("corpus cold", _measure(root, repeats, corpus_cold=True))}
        if not args.quick:
            ratios["full cold"] = _report("full cold", _measure(root, repeats, corpus_cold=False))
        for label, ratio in ratios.items():
            verdict = "within" if ratio <= GOAL else "OVER"
            print(f"goal <= {GOAL}x, {label}: {verdict} ({ratio:.3f}x)")


if __name__ == "__main__":
    main()
