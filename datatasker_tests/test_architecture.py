"""The package's layout is its architecture: who may import whom, and what importing costs.

Layers, bottom up: ``vocabulary``/``locations`` (standard library only) <-
``processing`` (the data logic, no Dagster) <- ``defs`` and ``definitions``
(the Dagster glue); ``client`` sits on ``vocabulary`` alone; ``cli`` on top.
Read from the source with ``ast``, so a forbidden import anywhere in a
module (even inside a function) fails here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "datatasker_pipeline"
MAX_MODULE_LINES = 300
STDLIB = set(sys.stdlib_module_names)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Absolute names of everything the module imports, anywhere in it."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names if f"{prefix}.{alias.name}" in MODULES)
    return found


def in_layer(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


def project_imports(name: str) -> set[str]:
    return {i for i in imports_of(name) if i.split(".")[0] == "datatasker_pipeline"}


def third_party_imports(name: str) -> set[str]:
    return {i.split(".")[0] for i in imports_of(name) if i.split(".")[0] not in STDLIB | {"datatasker_pipeline", "__future__"}}


@pytest.mark.parametrize("name", [m for m in MODULES if in_layer(m, "datatasker_pipeline.vocabulary") or in_layer(m, "datatasker_pipeline.locations")])
def test_the_shared_names_need_only_the_standard_library(name):
    assert third_party_imports(name) == set()
    assert project_imports(name) <= {"datatasker_pipeline.vocabulary"}


@pytest.mark.parametrize("name", [m for m in MODULES if in_layer(m, "datatasker_pipeline.processing")])
def test_the_data_logic_has_no_dagster_in_it_and_imports_nothing_above_it(name):
    assert "dagster" not in third_party_imports(name)
    above = ("defs", "definitions", "cli", "client", "testing")
    assert not [i for i in project_imports(name) if any(in_layer(i, f"datatasker_pipeline.{layer}") for layer in above)]


@pytest.mark.parametrize("name", [m for m in MODULES if in_layer(m, "datatasker_pipeline.client")])
def test_the_client_needs_only_the_vocabulary_and_requests(name):
    assert third_party_imports(name) <= {"requests"}
    assert all(in_layer(i, "datatasker_pipeline.vocabulary") or in_layer(i, "datatasker_pipeline.client") for i in project_imports(name))


@pytest.mark.parametrize("name", [m for m in MODULES if in_layer(m, "datatasker_pipeline.defs")])
def test_the_dagster_glue_does_not_import_the_command_line_or_the_client(name):
    above = ("cli", "client", "definitions", "testing")
    assert not [i for i in project_imports(name) if any(in_layer(i, f"datatasker_pipeline.{layer}") for layer in above)]


def test_nothing_but_the_command_line_and_the_test_stack_imports_the_definitions():
    importers = {m for m in MODULES if "datatasker_pipeline.definitions" in project_imports(m)}
    assert {m for m in importers if not in_layer(m, "datatasker_pipeline.cli")} == set()


def test_no_import_cycles():
    graph = {m: {i for i in project_imports(m) if i in MODULES and i != m} for m in MODULES}
    # A package's __init__ importing its own modules is how a package is assembled, not a cycle.
    for m, deps in graph.items():
        if MODULES[m].name == "__init__.py":
            graph[m] = {d for d in deps if not d.startswith(m + ".")}
    visiting, done, cycles = set(), set(), []

    def visit(node, path):
        visiting.add(node)
        for dep in graph[node]:
            if dep in visiting:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in done:
                visit(dep, path + [dep])
        visiting.discard(node)
        done.add(node)

    for m in graph:
        if m not in done:
            visit(m, [m])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"


# The one module allowed private Dagster imports, and why: a run launcher's health-check
# result types, the "user code unreachable" error the run queue retries on, and the packed
# run arguments are exported only from dagster._* (dagster-celery imports them from there too).
PRIVATE_DAGSTER_ALLOWED = {"datatasker_pipeline.celery.dagster_internals"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_public_apis_only(name):
    source = MODULES[name].read_text()
    private = [i for i in imports_of(name) if i.startswith(("dagster._", "pandera._", "pandera.engines"))]
    if name in PRIVATE_DAGSTER_ALLOWED:
        private = [i for i in private if not i.startswith("dagster._")]
    assert not private
    assert "._check_fn" not in source and "_PRECOMPUTED" not in source


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_definitions_changes_no_process_wide_setting():
    """The webserver and the daemon import the definitions: that must leave Arrow and csv as they were."""
    out = run_python(
        """
        import csv, pyarrow as pa
        before = (pa.default_memory_pool().backend_name, csv.field_size_limit())
        import datatasker_pipeline.definitions
        print(before == (pa.default_memory_pool().backend_name, csv.field_size_limit()), before)
        """
    )
    assert out.startswith("True"), out


def test_processing_a_file_applies_the_allocator_settings_and_restores_the_csv_limit(tmp_path):
    source = tmp_path / "s.csv"
    source.write_text("region,revenue,quantity,discount\nEast,1,1,0\n")
    out = run_python(
        f"""
        import csv, pyarrow as pa
        from datatasker_pipeline.processing.pipeline import process_file
        limit = csv.field_size_limit()
        process_file({str(source)!r}, {str(tmp_path / 'out')!r}, fast=False)
        print(pa.default_memory_pool().backend_name, csv.field_size_limit() == limit)
        """
    )
    assert out == "system True"


def test_the_command_line_starts_without_dagster_pandas_or_requests():
    out = run_python(
        """
        import sys
        from datatasker_pipeline.cli import build_parser
        build_parser()
        print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'pandas', 'pyarrow', 'pandera', 'requests'}))
        """
    )
    assert out == "[]"


def test_the_code_passes_the_linter():
    """Undefined and unused names, syntax errors and import order (pyproject.toml [tool.ruff])."""
    from datatasker_pipeline.testing.host import executable

    done = subprocess.run([executable("ruff"), "check", "--no-cache", str(PACKAGE.parent)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
