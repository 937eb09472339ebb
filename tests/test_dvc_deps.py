"""Every stage's ``deps`` in dvc.yaml / ablations/dvc.yaml cover the ``stcg`` code it runs.

The code a stage runs is found by walking ``import`` statements (``ast``) from its script
``stages/<name>.py``, transitively, restricted to ``stcg.*``: an import inside a function counts
(it runs when the stage takes that path); one under ``if TYPE_CHECKING:`` does not.  Importing
``stcg.a.b`` also runs the package ``__init__`` files of ``stcg`` and ``stcg.a``; those holding
nothing but a docstring are exempt, as they cannot change a result.

Checked both ways, so the deps cannot silently go stale: every module the stage imports lies
under one of its deps (a file or a folder), and every ``src/stcg`` file it lists is imported
(an unused dep re-runs the stage for nothing).  A listed folder must hold at least one module
the stage imports.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PIPELINES = (REPO / "dvc.yaml", REPO / "ablations" / "dvc.yaml")
SCRIPT = re.compile(r"python\s+(stages/\w+\.py)")


def module_file(name: str) -> Path | None:
    """The file of module ``name`` under src/ (a package's ``__init__.py``), or None."""
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, package: str) -> set[str]:
    """The ``stcg`` modules an AST imports (``from a import b`` counts ``a.b`` when a module)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m.split(".")[0] == "stcg" and module_file(m) is not None}


def _with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def _docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


def stcg_files(script: Path) -> set[Path]:
    """The src/stcg files whose code runs when ``script`` runs (module docstring)."""
    seen: set[str] = set()
    todo = sorted(_imports(ast.parse(script.read_text()), ""))
    while todo:
        name = todo.pop()
        for mod in _with_parents(name):
            if mod in seen:
                continue
            seen.add(mod)
            path = module_file(mod)
            package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
            todo.extend(_imports(ast.parse(path.read_text()), package) - seen)
    files = {module_file(m) for m in seen}
    return {f for f in files if not (f.name == "__init__.py" and _docstring_only(f))}


def stages() -> list[tuple[str, Path, list[str]]]:
    """(pipeline:stage, script, deps) for every stage that runs a ``stages/`` script."""
    out = []
    for pipeline in PIPELINES:
        spec = yaml.safe_load(pipeline.read_text())["stages"]
        for name, stage in spec.items():
            stage = stage.get("do", stage)  # foreach
            match = SCRIPT.search(" ".join(str(stage["cmd"]).split()))
            assert match, f"{pipeline.name}: stage {name}: no `python stages/...` in its cmd"
            out.append((f"{pipeline.relative_to(REPO)}:{name}", REPO / match.group(1),
                        [str(d) for d in stage.get("deps", [])]))
    return out


STAGES = stages()


@pytest.mark.parametrize("stage,script,deps", STAGES, ids=[s[0] for s in STAGES])
def test_stage_deps_cover_the_code_it_imports(stage, script, deps):
    used = {f.relative_to(REPO).as_posix() for f in stcg_files(script)}
    code = [d.rstrip("/") for d in deps if d.startswith("src/")]
    assert script.relative_to(REPO).as_posix() in deps, f"{stage}: its script is not a dep"

    def covered(path: str) -> bool:
        return any(path == d or path.startswith(d + "/") for d in code)

    missing = sorted(p for p in used if not covered(p))
    assert not missing, f"{stage}: add to its deps in dvc.yaml: {missing}"
    for dep in code:
        target = REPO / dep
        assert target.exists(), f"{stage}: dep {dep} does not exist"
        if target.is_dir():
            assert any(p.startswith(dep + "/") for p in used), (
                f"{stage}: dep {dep}/ holds no module the stage imports; remove it")
        else:
            assert dep in used, f"{stage}: dep {dep} is not imported by the stage; remove it"


def test_module_walk_follows_lazy_and_relative_imports(tmp_path):
    # the walk itself, on the real tree: cli imports the ingestion lazily, inside a command
    files = {f.relative_to(SRC).as_posix() for f in stcg_files(SRC / "stcg" / "cli.py")}
    assert "stcg/data/files/assembly.py" in files
    assert "stcg/config.py" in files and "stcg/errors.py" in files
    # a bare stage that imports nothing from stcg runs no stcg code
    bare = tmp_path / "bare.py"
    bare.write_text("import json\n")
    assert stcg_files(bare) == set()
