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
    ("blocked", "code", "package", "extra"),
    [
        (("typer",), "import steprail.cli", "typer", "cli"),
        (("rich",), "import steprail.cli", "rich", "cli"),
        (("rich",), "from steprail.jobs import ConsoleRuntime; ConsoleRuntime()", "rich", "cli"),
        (("PIL",), "import steprail.datasets", "pillow", "datasets"),
        (("yaml",), "import steprail.datasets", "pyyaml", "datasets"),
        (("defusedxml",), "import steprail.datasets", "defusedxml", "datasets"),
        (("orjson",), "import steprail.datasets", "orjson", "datasets"),
        (("PIL",), "from steprail import ConvertDatasetStep", "pillow", "datasets"),
        (("PIL",), "from steprail.actions import BaseTrainAction", "pillow", "datasets"),
        (("hypothesis",), "from steprail.testing import workflows", "hypothesis", "testing"),
    ],
)
def test_a_missing_extra_is_named_with_its_install_command(
    blocked: tuple[str, ...], code: str, package: str, extra: str
) -> None:
    result = run_without(
        blocked,
        f"""
        try:
            {code}
        except ImportError as error:
            print(type(error).__name__, error.name)
            print(error)
        else:
            print("no error")
        """,
    )
    assert result.returncode == 0, result.stderr
    kind, message = result.stdout.splitlines()
    assert kind.split()[0] == "ModuleNotFoundError"
    assert repr(package) in message
    assert f"pip install 'steprail[{extra}]'" in message


def test_the_console_script_without_the_cli_extra_says_what_to_install() -> None:
    result = run_without(("typer",), "from steprail.cli import main; main()")
    assert result.returncode == 1
    assert "pip install 'steprail[cli]'" in result.stderr.splitlines()[-1]


def test_the_command_line_needs_only_the_cli_extra_for_help() -> None:
    result = run_without(
        ("PIL", "yaml", "defusedxml", "orjson", "hypothesis"),
        "import sys; sys.argv = ['steprail', '--help']\nfrom steprail.cli import main\nmain()",
    )
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
