"""The core works with only pydantic, typing-extensions and tenacity; each optional part, used
without its extra, fails with an ImportError that names the missing package and the extra to
install.

Each check runs in a fresh interpreter whose import system refuses the packages of the extras
(each marked as not importable in ``sys.modules``), as on an install without them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

# Every distribution that comes with an extra (by the module it installs).
EXTRA_MODULES = ("typer", "rich", "PIL", "yaml", "defusedxml", "orjson", "hypothesis", "mypy")


def run_without(blocked: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter where ``blocked`` modules (and their submodules) cannot
    be imported."""
    # A None in sys.modules is how Python itself marks a module as not importable: an import
    # raises ModuleNotFoundError and importlib.util.find_spec answers None, as when it is absent.
    prelude = f"import sys\nBLOCKED = {blocked!r}\nsys.modules.update(dict.fromkeys(BLOCKED))\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_core_needs_none_of_the_extras() -> None:
    result = run_without(
        EXTRA_MODULES,
        """
        import steprail
        from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepRegistry, StepResult
        from steprail.actions import BaseAction
        from steprail.jobs import JobStore, JsonLinesRuntime
        from steprail.testing import check_invariants, record_run

        class Ctx(BaseStepContext):
            count: int = 0

        class Add(BaseStep[Ctx]):
            def __init__(self, name: str) -> None:
                self._name = name

            @property
            def name(self) -> str:
                return self._name

            @property
            def progress_weight(self) -> float:
                return 0.5

            def execute(self, context: Ctx) -> StepResult:
                context.count += 1
                return StepResult()

        registry = StepRegistry[Ctx]()
        registry.register(Add("one"))
        registry.register(Add("two"))
        context = Ctx(runtime_ctx=RuntimeContext())
        summary = Orchestrator(registry, context, lambda current, total: None).execute()
        check_invariants(record_run(registry, Ctx(runtime_ctx=RuntimeContext())))
        print(steprail.__version__, summary["success"], context.count, sep="\\n")
        loaded = sorted(m for m, module in sys.modules.items() if module and m.split(".")[0] in BLOCKED)
        print(loaded)
        """,
    )
    assert result.returncode == 0, result.stderr
    version, success, count, loaded = result.stdout.splitlines()
    assert version.count(".") >= 2
    assert (success, count) == ("True", "2")
    assert loaded == "[]"


@pytest.mark.parametrize(
    ("blocked", "code", "packages", "extra"),
    [
        (("typer",), "import steprail.cli", ["typer"], "cli"),
        (("typer", "rich"), "import steprail.cli", ["typer", "rich"], "cli"),
        (("rich",), "from steprail.jobs import ConsoleRuntime; ConsoleRuntime()", ["rich"], "cli"),
        (("PIL",), "import steprail.datasets", ["pillow"], "datasets"),
        (("yaml",), "import steprail.datasets", ["pyyaml"], "datasets"),
        (("defusedxml",), "import steprail.datasets", ["defusedxml"], "datasets"),
        (("orjson",), "import steprail.datasets", ["orjson"], "datasets"),
        (("PIL", "yaml", "defusedxml"), "import steprail.datasets", ["pillow", "pyyaml", "defusedxml"], "datasets"),
        (("PIL", "yaml", "defusedxml"), "from steprail import ConvertDatasetStep", ["pillow", "pyyaml", "defusedxml"], "datasets"),
        (("PIL",), "from steprail.actions import BaseTrainAction", ["pillow"], "datasets"),
        (("hypothesis",), "from steprail.testing import workflows", ["hypothesis"], "testing"),
        (("mypy",), "import steprail.mypy", ["mypy"], "mypy"),
        (("tenacity",), "from steprail import RetryPolicy; RetryPolicy(attempts=3)", ["tenacity"], "retries"),
        (("ray",), "import steprail.ray", ["ray"], "ray"),
        (("ray",), "from steprail.ray import RayExecutor", ["ray"], "ray"),
    ],
)
def test_a_missing_extra_is_named_with_all_its_missing_packages(
    blocked: tuple[str, ...], code: str, packages: list[str], extra: str
) -> None:
    result = run_without(
        blocked,
        f"""
        try:
            {code}
        except ImportError as error:
            print(type(error).__name__, isinstance(error, ModuleNotFoundError), error.name)
            print(error)
        else:
            print("no error")
        """,
    )
    assert result.returncode == 0, result.stderr
    kind, message = result.stdout.splitlines()
    assert kind.split()[:2] == ["MissingExtraError", "True"]
    assert f"needs the [{extra}] extra (missing: {', '.join(packages)})" in message
    # steprail is on no package index: the advice must not be a bare `pip install 'steprail[x]'`,
    # which would fetch whatever package holds the name there.
    assert f"pip install '<your steprail checkout or wheel>[{extra}]'" in message
    assert "pip install 'steprail[" not in message


# Each package whose public names include some that need an extra, with one such name.
PACKAGES_WITH_EXTRA_NAMES = [
    ("steprail", "ExportDatasetStep", "datasets"),
    ("steprail.actions", "BaseTrainAction", "datasets"),
    ("steprail.testing", "workflows", "testing"),
]


@pytest.mark.parametrize(("package", "name", "extra"), PACKAGES_WITH_EXTRA_NAMES)
def test_introspection_works_on_a_core_install(package: str, name: str, extra: str) -> None:
    # Star-import, help(), inspect.getmembers and hasattr must not raise on a core install; the
    # name needing the extra is absent from __all__ and dir(), and hasattr answers False.
    result = run_without(
        EXTRA_MODULES,
        f"""
        import importlib, inspect, pydoc
        module = importlib.import_module({package!r})
        exec("from {package} import *", {{}})
        pydoc.render_doc(module)
        members = dict(inspect.getmembers(module))
        print(hasattr(module, {name!r}), {name!r} in module.__all__, {name!r} in dir(module), {name!r} in members)
        try:
            getattr(module, {name!r})
        except AttributeError as error:
            print(type(error).__name__, error)
        """,
    )
    assert result.returncode == 0, result.stderr
    found, error = result.stdout.splitlines()
    assert found == "False False False False"
    # A plain attribute access is an AttributeError that still says what to install.
    assert error.startswith(f"MissingExtraAttributeError {package}.{name} needs the [{extra}] extra")


@pytest.mark.parametrize(("package", "name", "extra"), PACKAGES_WITH_EXTRA_NAMES)
def test_with_the_extra_the_name_is_there_but_not_in_all(package: str, name: str, extra: str) -> None:
    # In this (dev) environment every extra is installed.
    result = run_without(
        (),
        f"""
        import importlib
        module = importlib.import_module({package!r})
        print(hasattr(module, {name!r}), {name!r} in module.__all__, {name!r} in dir(module))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "True"]


def test_the_console_script_without_the_cli_extra_prints_one_line() -> None:
    result = run_without(("typer", "rich"), "import sys; sys.argv = ['steprail', '--help']\nfrom steprail._console import main; main()")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "steprail: the steprail command line needs the [cli] extra (missing: typer, rich): "
        "pip install '<your steprail checkout or wheel>[cli]'"
    ]


def test_the_installed_console_script_is_that_wrapper() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["steprail"] == "steprail._console:main"


def test_the_command_line_needs_only_the_cli_extra_for_help() -> None:
    result = run_without(
        ("PIL", "yaml", "defusedxml", "orjson", "hypothesis"),
        "import sys; sys.argv = ['steprail', '--help']\nfrom steprail.cli import main\nmain()",
    )
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_executor_ray_without_the_ray_extra_is_bad_input_naming_the_extra() -> None:
    result = run_without(
        ("ray",),
        """
        from steprail.cli._errors import UsageProblem
        from steprail.cli._runner import choose_executor
        print(type(choose_executor("in-process", None)).__name__)
        try:
            choose_executor("ray", None)
        except UsageProblem as problem:
            print(problem)
        """,
    )
    assert result.returncode == 0, result.stderr
    chosen, message = result.stdout.splitlines()
    assert chosen == "InProcessExecutor"
    assert message.startswith("--executor ray: steprail.ray needs the [ray] extra (missing: ray)")
