"""The functions' package as `sam build` makes it, and the handlers imported from it in a clean interpreter.

template.yaml gives each function ``BuildMethod: makefile``: `sam build` hands the function to aws-lambda-builders'
make workflow (the library `sam build` runs in-process), which copies CodeUri to a scratch folder and runs
``make build-<LogicalId>`` with ARTIFACTS_DIR set, in the function's WorkingDirectory, with the Makefile found in
its ContextPath. This test drives that workflow with the same arguments, read from template.yaml, for each
function; then it imports that function's handler with Python 3.12 (the functions' runtime) in isolated mode
(``-I -S``: no site-packages, no PYTHON* variables, only the standard library and the artefact on sys.path).

The requirements are installed from PyPI as wheels for python3.12 on arm64, as deployed. Where a wheel's C
extension is for arm64 (PyYAML, wrapt), CPython on this x86_64 machine skips it and the package uses its
pure-Python code; the test checks the arm64 extensions are there for Lambda.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_policies import ROOT, checker

TEMPLATE = checker.load_template(ROOT / "template.yaml")
FUNCTIONS = {
    "OrchestratorFunction": "scheduler.handlers.orchestrator",
    "WorkerFunction": "scheduler.handlers.worker",
    "ReportFunction": "scheduler.handlers.report",
}
# What the package may hold at its top level besides the code: the run-time dependencies and their metadata.
DEPENDENCIES = {
    "aws_lambda_powertools",
    "aws_xray_sdk",
    "boto3",
    "botocore",
    "croniter",
    "dateutil",
    "holidays",
    "jmespath",
    "pynamodb",
    "s3transfer",
    "tzdata",
    "urllib3",
    "wrapt",
    "yaml",
    "_yaml",
    "six.py",
    "typing_extensions.py",
}


def python312() -> str | None:
    """A Python 3.12 interpreter (the functions' runtime), or None."""
    candidates = [
        shutil.which("python3.12"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for exe in candidates:
        if exe and subprocess.run([exe, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return exe
    return None


def build(logical_id: str, out: Path) -> Path:
    """What `sam build` does for one function with BuildMethod makefile (samcli.lib.build.app_builder)."""
    from aws_lambda_builders.builder import LambdaBuilder

    fn = TEMPLATE["Resources"][logical_id]
    props = {**TEMPLATE["Globals"]["Function"], **fn["Properties"]}
    metadata = fn["Metadata"]
    assert metadata["BuildMethod"] == "makefile"
    artifacts = out / logical_id
    scratch = out / f"{logical_id}-scratch"
    scratch.mkdir(parents=True)
    LambdaBuilder(language="provided", dependency_manager=None, application_framework=None).build(
        str(ROOT / props["CodeUri"]),
        str(artifacts),
        str(scratch),
        str(ROOT / metadata["ContextPath"] / "Makefile"),
        runtime=props["Runtime"],
        architecture=props["Architectures"][0],
        options={
            "build_logical_id": logical_id,
            "working_directory": str((ROOT / metadata["WorkingDirectory"]).resolve()),
        },
    )
    return artifacts


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worker's artefact. The three functions share one build recipe (one Makefile rule for the three
    build-<LogicalId> targets, the same CodeUri and Metadata: test_every_function_is_built_by_the_same_recipe),
    so one build stands for the three and keeps this test short (pip downloads about 20 MB)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHON", sys.executable)  # the Makefile's pip: this interpreter's (`sam build` uses python3)
        return build("WorkerFunction", tmp_path_factory.mktemp("sam-build"))


def test_every_function_is_built_by_the_same_recipe():
    functions = {k: v for k, v in TEMPLATE["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(FUNCTIONS)
    assert {json.dumps(f["Metadata"], sort_keys=True) for f in functions.values()} == {
        json.dumps({"BuildMethod": "makefile", "ContextPath": ".", "WorkingDirectory": "."}, sort_keys=True)
    }
    assert all("CodeUri" not in f["Properties"] for f in functions.values())
    assert TEMPLATE["Globals"]["Function"]["CodeUri"] == "scheduler"  # the package, not the repository root
    rule = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("build-"))
    assert rule.split(":")[0].split() == [f"build-{logical_id}" for logical_id in FUNCTIONS]


def _isolated_import(python: str, artefact: Path, module: str, env: dict[str, str]) -> dict[str, Any]:
    """Imports ``module`` from the artefact alone and calls the worker with a malformed payload (no AWS needed)."""
    code = f"""
import json, sys
sys.path.insert(0, {str(artefact)!r})
import importlib
m = importlib.import_module({module!r})
found = {{}}
for name in ("click", "rich", "moto", "pytest", "scheduler.cli"):
    try:
        importlib.import_module(name)
        found[name] = True
    except ImportError:
        found[name] = False
out = {{"handler": callable(m.handler), "file": m.__file__, "others": found,
       "tracer": type(m.tracer).__name__, "xray": importlib.util.find_spec("aws_xray_sdk") is not None}}
if {module!r} == "scheduler.handlers.worker":
    class Context:
        function_name = "isched-worker"; memory_limit_in_mb = 256; aws_request_id = "0"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:isched-worker"
    out["answer"] = m.handler({{"target": {{}}}}, Context())
print("RESULT " + json.dumps(out))
"""
    proc = subprocess.run(
        [python, "-I", "-S", "-B", "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line.removeprefix("RESULT ")))


def test_sam_build_packages_the_code_only_and_every_handler_imports_from_it(built):
    python = python312()
    if python is None:
        pytest.skip("no Python 3.12 interpreter (the functions' runtime) on this machine")
    artefact = built
    top = {p.name for p in artefact.iterdir()} - {"bin", "__pycache__"}
    assert "scheduler" in top
    unexpected = {n for n in top - {"scheduler"} - DEPENDENCIES if not n.endswith((".dist-info", "-stubs"))}
    assert not unexpected, f"not code nor a dependency: {sorted(unexpected)}"
    # Nothing else of the repository: no tests, templates, virtualenv, CLI or demo.
    for absent in ("tests", "template.yaml", "README.md", ".venv", "Makefile", "scheduler/cli", "scheduler/demo"):
        assert not (artefact / absent).exists(), f"{absent} is in the package"
    assert not list(artefact.glob("scheduler/**/__pycache__"))
    # Wheels for the runtime, not this machine: PyYAML's extension is for CPython 3.12 on arm64.
    assert [p.name for p in (artefact / "yaml").glob("_yaml.*.so")] == ["_yaml.cpython-312-aarch64-linux-gnu.so"]

    for logical_id, module in FUNCTIONS.items():
        env = {k: str(v) for k, v in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"].items()}
        env = {k: v for k, v in env.items() if not v.startswith("{")}
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_METRICS_NAMESPACE": "isched",
                "POWERTOOLS_SERVICE_NAME": logical_id,
                "POWERTOOLS_TRACE_DISABLED": "false",  # EnableTracing=true: the X-Ray SDK must be packaged
                "POWERTOOLS_METRICS_DISABLED": "true",
            }
        )
        out = _isolated_import(python, artefact, module, env)
        assert out["handler"] is True and out["file"].startswith(str(artefact)), out
        assert out["others"] == {"click": False, "rich": False, "moto": False, "pytest": False, "scheduler.cli": False}
        assert out["xray"] is True and out["tracer"] == "Tracer", out
        if logical_id == "WorkerFunction":
            # A payload without a version is refused, as the handler in the repository refuses it.
            assert out["answer"]["status"] == "rejected", out
            assert out["answer"]["error"].startswith("payload.version: None is not a supported"), out
