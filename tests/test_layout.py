"""The repository's shape: one installable library whose steps are siblings, the plugins kept out
of site-packages, and the command lines installed under the runbook's names."""
from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

LIBRARY = REPO / "flash_green_ops"
# The steps: none may import another (they share only the layer under them).
STEPS = ("envspec", "secrets", "database", "metrics", "backup", "adapters", "tls", "reconcile", "rollback")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions (``from a import b``
    counts as ``a.b`` too, which is what it imports when ``b`` is a module; a relative import
    is resolved against ``path``'s package)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in LIBRARY.rglob("*.py")}
    # What the checks below look at is really there (an empty graph has no cycle either).
    assert {f"flash_green_ops.{step}" for step in STEPS} <= modules.keys()
    return {name: {i for i in imports_of(path) if i in modules} for name, path in modules.items()}


def step_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STEPS else None


def test_no_step_imports_another(graph):
    crossings = [f"{m} -> {d}" for m, deps in graph.items() for d in deps
                 if step_of(m) and step_of(d) and step_of(m) != step_of(d)]
    assert crossings == []


def test_the_import_graph_has_no_cycle(graph):
    # A package's own modules importing its __init__ (and back) is how packages work; any other
    # back edge is a cycle.
    def edges(module):
        return {d for d in graph[module]
                if d != module and d != module.rsplit(".", 1)[0] and module != d.rsplit(".", 1)[0]}

    cycles, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for dep in sorted(edges(module)):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(path[path.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, path + [dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_library_never_imports_pytest_or_the_repositorys_plugins():
    offenders = {module_name(p): sorted(i for i in imports_of(p) if i.split(".")[0] in ("pytest", "fixtures", "tests"))
                 for p in LIBRARY.rglob("*.py")}
    assert {m: i for m, i in offenders.items() if i} == {}


def test_the_wheel_installs_one_distinctive_package_and_the_console_scripts(tmp_path):
    # Built from a copy of the tracked files: setuptools writes build/ and *.egg-info where it builds.
    source = tmp_path / "source"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], check=True, capture_output=True,
                             timeout=120).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("flash_green_ops-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        scripts = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"flash_green_ops"}
    assert {"flash_green_ops/contract.toml", "flash_green_ops/invariants.toml", "flash_green_ops/flashgreen_schema/alembic.ini",
            "flash_green_ops/flashgreen_schema/env.py",
            "flash_green_ops/flashgreen_schema/versions/0004_orders_client_ref.py"} <= set(names)
    for command in ("flash-green-preflight", "flash-green-backup", "flash-green-verify-restore", "flash-green-reconcile",
                    "flash-green-rehearse-rollback", "flash-green-entrypoint"):
        assert f"{command} = flash_green_ops.commands." in scripts


@pytest.mark.parametrize("command,script", [("flash-green-preflight", "preflight_check.py"),
                                            ("flash-green-backup", "backup.py"),
                                            ("flash-green-verify-restore", "verify_restore.py")])
def test_console_scripts_and_the_runbooks_scripts_are_one_command(command, script):
    import shutil

    installed = shutil.which(command)
    assert installed, f"{command} is not on PATH: pip install -e . installs it"
    by_name = subprocess.run([installed, "--help"], capture_output=True, text=True, timeout=60)
    by_script = subprocess.run([sys.executable, str(REPO / "scripts" / script), "--help"], capture_output=True,
                               text=True, timeout=60, cwd="/")
    assert by_name.returncode == by_script.returncode == 0, by_name.stderr + by_script.stderr
    # The same parser: only the program name (and the usage line's wrapping) differs.
    assert by_name.stdout.replace(command, "PROG").split() == by_script.stdout.replace(script, "PROG").split()


@pytest.mark.parametrize("path, ignored", [
    (".env", True), (".env.production", True), (".env.staging", True), (".env.production.example", False),
    ("env.production.example", False), ("flash-green-backup.sql", True), ("flash-green-backup.sql.manifest.json", True),
    (".flash-green-backup.sql.partial-123-abcd", True), ("nightly-staging.xml", True), ("flash_green_ops/cli.py", False),
])
def test_gitignore_keeps_secrets_and_backups_out_of_the_repository(path, ignored):
    result = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=REPO, capture_output=True,
                            timeout=30)
    assert result.returncode == (0 if ignored else 1), (path, result.stderr)
