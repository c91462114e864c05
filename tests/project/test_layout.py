"""The package's shape: folders that say what they hold, and layer rules that a wrong import breaks."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bot"
FOLDERS = sorted(path.parent for path in PACKAGE.glob("*/__init__.py"))
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_each_folder_says_in_its_init_what_lives_there_and_holds_about_ten_modules_at_most(folder: Path) -> None:
    docstring = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
    assert docstring, f"bot/{folder.name}/__init__.py has no docstring saying what the folder holds"
    modules = [path for path in folder.glob("*.py") if path.name != "__init__.py"]
    assert len(modules) <= 11, f"bot/{folder.name} holds {len(modules)} modules: split it by seam"


def test_aiohttp_web_the_server_is_imported_only_by_the_app() -> None:
    """import-linter sees only a library's top package (aiohttp), so the server half is checked here."""
    outside = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if path.parent.name != "app" and any(name.startswith("aiohttp.web") for name in _imports(path))
    ]
    assert outside == []


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is installed by requirements-dev.txt")
def test_the_layer_contract_fails_on_an_import_from_a_higher_layer(tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    kept = subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=tmp_path, capture_output=True, text=True)
    assert kept.returncode == 0, kept.stdout

    with (tmp_path / "bot" / "model" / "sse.py").open("a") as module:
        module.write("\nfrom bot.slack import errors as _slack_errors  # a lower layer reaching up\n")
    broken = subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=tmp_path, capture_output=True, text=True)
    assert broken.returncode != 0
    assert "bot.model.sse -> bot.slack.errors" in broken.stdout
