"""The README and the user guide (docs/guide): links that resolve, a wheel that carries the guide, one test command."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "guide"
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def _relative_links(md: Path) -> list[str]:
    return [t for t in LINK.findall(md.read_text(encoding="utf-8")) if "://" not in t]


def test_every_relative_link_and_image_of_the_readme_and_the_guide_exists():
    pages = [REPO / "README.md", *sorted(GUIDE.glob("*.md"))]
    assert len(pages) >= 9
    broken = [f"{md.relative_to(REPO)} -> {t}" for md in pages for t in _relative_links(md)
              if not (md.parent / t).exists()]
    assert broken == []
    # The guide's index links every page of the guide, and the README links the index.
    index_links = set(_relative_links(GUIDE / "README.md"))
    assert {p.name for p in GUIDE.glob("*.md")} - {"README.md"} <= index_links
    assert "docs/guide/README.md" in _relative_links(REPO / "README.md")



def test_a_wheel_installs_the_guide_with_every_screenshot_it_shows():
    data_files = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    target = {dest: {p.relative_to(REPO) for g in globs for p in REPO.glob(g)} for dest, globs in data_files.items()}
    assert {p.relative_to(REPO) for p in GUIDE.glob("*.md")} <= target["share/segstudio/guide"]
    for md in GUIDE.glob("*.md"):
        for t in _relative_links(md):
            src = (md.parent / t).resolve().relative_to(REPO)
            if src.suffix == ".png":  # shown in the page: it must land where the relative link points
                dest = Path("share/segstudio/guide", t).as_posix()
                dest_dir = dest.rsplit("/", 1)[0].replace("share/segstudio/guide/..", "share/segstudio")
                assert src in target.get(dest_dir, set()), (md.name, t)


def test_ci_runs_the_readmes_test_command_verbatim():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest -q"
    assert f"    {command}\n" in readme and command in ci
    assert "    python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/segstudio\n" in readme
