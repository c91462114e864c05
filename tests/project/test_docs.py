"""The README and docs/ stay true: the commands CI and Heroku run, links that resolve, paths and commands that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
ALL_DOCS = [README, *PAGES, ROOT / "bench" / "README.md"]
# A Markdown link or image, inline or as a reference definition; the target up to a space or ')'.
LINK = re.compile(r"\]\(([^)\s]+)\)|^\[[^\]]+\]: (\S+)", re.MULTILINE)


def test_readme_is_a_front_door() -> None:
    """Read in five minutes: the manual lives in docs/, not in the README."""
    lines = README.read_text().splitlines()
    assert len(lines) <= 170, f"README.md has {len(lines)} lines: move the detail to a page under docs/"


def test_readme_names_the_test_command_ci_runs() -> None:
    """`.ci/run` installs requirements-dev.txt into a fresh .venv and runs the very pytest line the README shows."""
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    [pytest_line] = [line.strip() for line in ci if line.strip().startswith(".venv/bin/python -m pytest")]
    assert "python3 -m venv .venv" in ci
    assert any(re.fullmatch(r"\.venv/bin/pip install (-q )?-r requirements-dev\.txt", line.strip()) for line in ci)
    command = f"python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && {pytest_line}"
    assert command in README.read_text().splitlines()


def test_readme_start_command_runs_what_the_procfile_runs() -> None:
    procfile = (ROOT / "Procfile").read_text().splitlines()[0].removeprefix("web: ")
    command = f"python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/{procfile}"
    assert command in [line.strip() for line in README.read_text().splitlines()]


def test_each_quick_start_path_ends_with_a_mention_in_slack() -> None:
    quick_start = README.read_text().split("\n## Quick start\n")[1].split("\n## ")[0]
    paths = quick_start.split("\n### ")[1:]
    assert len(paths) == 2
    for path in paths:
        steps = [line for line in path.splitlines() if re.match(r"\d+\. ", line)]
        assert [int(step.split(".")[0]) for step in steps] == list(range(1, len(steps) + 1)), path
        assert steps[-1].startswith(f"{len(steps)}. **Mention it in Slack**"), path


def test_readme_indexes_every_page_of_the_manual() -> None:
    readme = README.read_text()
    assert PAGES
    for page in [*PAGES, ROOT / "bench" / "README.md"]:
        assert f"]({page.relative_to(ROOT).as_posix()})" in readme, page.name


def headings(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings (outside code blocks)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_links_between_the_docs_resolve() -> None:
    """Every relative link names a file that exists, and every #anchor a heading in it."""
    checked = 0
    for doc in ALL_DOCS:
        for match in LINK.finditer(doc.read_text()):
            target = match[1] or match[2]
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            assert path.exists(), f"{doc.name}: {target}"
            if anchor:
                assert anchor in headings(path), f"{doc.name}: {target}"
            checked += 1
    assert checked > 20


def test_docs_name_only_files_that_exist() -> None:
    """A module moved or renamed is a path to fix in the docs."""
    for doc in ALL_DOCS:
        for path in re.findall(r"\b((?:bot|bench|tests)/[\w/]+\.py)\b", doc.read_text()):
            assert (ROOT / path).is_file(), f"{doc.name} names {path}"


def test_docs_name_only_commands_that_exist() -> None:
    """Every `python -m bot <command>` in the docs is one the bot takes."""
    helped = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    choices = re.search(r"\{([\w,]+)\}", helped)
    assert choices, helped
    commands = set(choices[1].split(","))
    named = {command for doc in ALL_DOCS for command in re.findall(r"python -m bot (\w+)", doc.read_text())}
    assert {"check", "chat", "usage"} <= named
    assert named <= commands
