"""Sessions: demo (the main job), tests, matrix (torch x helion), vendored_bridge,
wheels (each layer installs alone), lint, gpu (on a GPU machine, no venv).

uv creates the virtual environments and keeps one cache of the multi-GB torch
wheels between runs. The CPU build of torch 2.13.0 is taken from
``/opt/wheels`` where that folder exists (this project's machines); elsewhere
from PyPI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PACKAGES = ["dynamo_bridge", "core", "kernels"]
PACKAGE_DIRS = [str(ROOT / "packages" / p) for p in PACKAGES]
SRC_PATHS = os.pathsep.join(str(ROOT / "packages" / p / "src") for p in PACKAGES)
LOCAL_WHEELS = Path("/opt/wheels")

# torch -> helion pairs of the matrix: each row with its reason.
# (torch spec, helion version, triton spec or None when torch pins its own)
MATRIX = {
    # Oldest supported torch. Helion's Dynamo modules need torch >= 2.11, so the
    # bridge takes its custom-op fallback here. helion 1.1.0 is the last release
    # Helion's own CI ran against torch 2.9 (it has the size-1 bug: guard on).
    "torch2.9-helion1.1": ("torch==2.9.1", "1.1.0", None),
    # The GPU machines' torch. helion 1.4.0 has the size-1 bug (the bridge's
    # guard is exercised here); 1.5.0 is the newest helion importing on 2.11
    # (1.5.1 imports IntelGPUError, which torch 2.11 lacks).
    "torch2.11-helion1.4": ("torch==2.11.0", "1.4.0", None),
    "torch2.11-helion1.5.0": ("torch==2.11.0", "1.5.0", None),
    # This machine's torch (CPU build from local disk) with the newest helion.
    "torch2.13-helion1.5.1": ("torch==2.13.0+cpu", "1.5.1", "triton==3.9.0"),
    # Newest torch on the registry with the newest helion.
    "torch2.15-helion1.5.1": ("torch==2.15.0", "1.5.1", None),
}
DEFAULT_ROW = "torch2.13-helion1.5.1"
INTERPRETER_ENV = {"TRITON_INTERPRET": "1", "PYTHONUNBUFFERED": "1"}


def _find_links() -> list[str]:
    return ["--find-links", str(LOCAL_WHEELS)] if LOCAL_WHEELS.is_dir() else []


def _install_stack(session: nox.Session, row: str) -> None:
    torch_spec, helion_version, triton_spec = MATRIX[row]
    if torch_spec.endswith("+cpu") and not LOCAL_WHEELS.is_dir():
        torch_spec = torch_spec.removesuffix("+cpu")
    specs = [torch_spec, f"helion=={helion_version}", "packaging", "pytest>=8", "hypothesis>=6", "rich", "setuptools"]
    if triton_spec:
        specs.append(triton_spec)
    session.install(*_find_links(), *specs)


def _install_project(session: nox.Session) -> None:
    session.install("--no-deps", *[arg for d in PACKAGE_DIRS for arg in ("-e", d)])


def _pytest(session: nox.Session, *paths: str, extra_env: dict[str, str] | None = None) -> None:
    env = {**INTERPRETER_ENV, **(extra_env or {})}
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths, *session.posargs, env=env)


@nox.session
def tests(session: nox.Session) -> None:
    """Every CPU test (Triton interpreter) with the default torch and helion."""
    _install_stack(session, DEFAULT_ROW)
    # Core's optional extras, so their tests run: autotune --ray and bench --plot.
    session.install("ray>=2.9", "matplotlib>=3.7")
    _install_project(session)
    _pytest(session, *(f"packages/{p}/tests" for p in PACKAGES))


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: `helion-ops demo` on this machine (interpreter without a GPU)."""
    _install_stack(session, DEFAULT_ROW)
    _install_project(session)
    session.run("helion-ops", "demo", *session.posargs, env=INTERPRETER_ENV)


@nox.session
@nox.parametrize("row", list(MATRIX))
def matrix(session: nox.Session, row: str) -> None:
    """Bridge and kernel tests on each torch x helion row of MATRIX."""
    _install_stack(session, row)
    _install_project(session)
    session.run("python", "-c", "from helion_ops.dynamo_bridge import capabilities; print(capabilities())")
    _pytest(session, "packages/dynamo_bridge/tests", "packages/kernels/tests")


@nox.session
def vendored_bridge(session: nox.Session) -> None:
    """Copy the bridge alone into a throwaway package under another name and run its tests there."""
    _install_stack(session, DEFAULT_ROW)
    host = Path(tempfile.mkdtemp(prefix="vendor-host-"))
    vendor = host / "hostpkg" / "_vendor"
    vendor.mkdir(parents=True)
    (host / "hostpkg" / "__init__.py").write_text("")
    (vendor / "__init__.py").write_text("")
    shutil.copytree(ROOT / "packages/dynamo_bridge/src/helion_ops/dynamo_bridge", vendor / "dynamo_bridge")
    try:
        _pytest(
            session,
            "packages/dynamo_bridge/tests",
            extra_env={"PYTHONPATH": str(host), "HELION_OPS_BRIDGE_MODULE": "hostpkg._vendor.dynamo_bridge"},
        )
        session.run(
            "python", "-c",
            "import importlib.util, sys; assert importlib.util.find_spec('helion_ops') is None, 'helion_ops leaked in'",
            env={"PYTHONPATH": str(host)},
        )
    finally:
        shutil.rmtree(host, ignore_errors=True)


@nox.session
def wheels(session: nox.Session) -> None:
    """Build the three wheels; install each into its own fresh environment and smoke it."""
    session.install("build")
    out = Path(tempfile.mkdtemp(prefix="helion-ops-wheels-"))
    try:
        for d in PACKAGE_DIRS + [str(ROOT)]:
            session.run("python", "-m", "build", "--wheel", "--outdir", str(out), d)
        wheels = {w.name.split("-")[0]: w for w in out.glob("*.whl")}
        torch_spec, helion_version, triton_spec = MATRIX[DEFAULT_ROW]
        stack = [torch_spec, f"helion=={helion_version}", "packaging", triton_spec or ""]
        checks = {
            "helion_ops_dynamo_bridge": ("helion_ops.dynamo_bridge", []),
            "helion_ops_core": ("helion_ops.core", ["helion_ops_dynamo_bridge"]),
            "helion_ops_kernels": ("helion_ops.kernels", ["helion_ops_dynamo_bridge", "helion_ops_core"]),
        }
        for dist, (module, needs) in checks.items():
            venv = out / f"venv-{dist}"
            session.run("uv", "venv", "-q", "-p", "python3", str(venv), external=True)
            py = str(venv / "bin" / "python")
            session.run("uv", "pip", "install", "-q", "--python", py, *_find_links(), *[s for s in stack if s], external=True)
            session.run("uv", "pip", "install", "-q", "--python", py, "--no-deps", str(wheels[dist]), *[str(wheels[n]) for n in needs], external=True)
            session.run("uv", "pip", "check", "--python", py, external=True)
            others = [m for d, (m, _) in checks.items() if d != dist and d not in needs]
            session.run(
                py, "-c",
                f"import importlib, importlib.util; m = importlib.import_module({module!r}); print(m.__name__, len(m.__all__), 'names');"
                f" assert all(importlib.util.find_spec(o) is None for o in {others!r}), 'another layer got installed'",
                env=INTERPRETER_ENV, external=True,
            )
        session.log(f"built: {sorted(w.name for w in wheels.values())}")
    finally:
        shutil.rmtree(out, ignore_errors=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy over the three packages."""
    _install_stack(session, DEFAULT_ROW)
    session.install("ruff", "mypy")
    session.run("ruff", "check", "packages", "noxfile.py")
    session.run("mypy", *[f"packages/{p}/src" for p in PACKAGES], env={"MYPYPATH": SRC_PATHS})


@nox.session(venv_backend="none")
def gpu(session: nox.Session) -> None:
    """GPU-marked tests in the current environment (the H100/H200 machines)."""
    session.run("python", "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                *(f"packages/{p}/tests" for p in PACKAGES), *session.posargs,
                env={"PYTHONPATH": SRC_PATHS})
