"""The repository is self-contained: nothing it tracks reads, cites or links a path outside the checkout,
and the Jira samples the tests read are in tests/fixtures/jira/ with their licences."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support.jira_samples import JIRA_SAMPLES

ROOT = Path(__file__).resolve().parents[1]
# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\.\./" + "shared",
            r"\bshared/" + "jira-samples",
            "DESIGN" + r"\.md",
            "DESIGN" + "'s",
            r"parents\[2\] / " + '"shared"',
            r"parents\[1\]\.parent / " + '"shared"',
            "/work/" + "shared",
        ]
    )
)
MARKDOWN_LINK = re.compile(r"\](?:\(<|\()([^)\s#>]+)")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = [ROOT / name for name in listed.decode().split("\0") if name]
    text = []
    for file in files:
        if not file.is_file() or file.stat().st_size > 2_000_000:
            continue
        head = file.read_bytes()[:4096]
        if b"\0" not in head:
            text.append(file)
    return text


def test_no_tracked_file_refers_to_a_folder_beside_the_checkout() -> None:
    hits = []
    for file in _tracked_text_files():
        for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert hits == []


def test_relative_markdown_links_stay_inside_the_repository_and_exist() -> None:
    broken = []
    for file in _tracked_text_files():
        if file.suffix != ".md":
            continue
        for target in MARKDOWN_LINK.findall(file.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # a URL, not a path
                continue
            resolved = (file.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{file.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_every_jira_sample_folder_has_its_licence_and_a_row_in_the_readme() -> None:
    readme = (JIRA_SAMPLES / "README.md").read_text(encoding="utf-8")
    folders = sorted(p for p in JIRA_SAMPLES.iterdir() if p.is_dir())
    assert folders, "tests/fixtures/jira/ has no sample folders"
    for folder in folders:
        licences = [p.name for p in folder.iterdir() if p.name.upper().startswith("LICENSE")]
        assert licences, f"{folder.name}/ has no licence file"
        assert f"`{folder.name}/`" in readme, f"{folder.name}/ is not listed in tests/fixtures/jira/README.md"
        assert all(name in readme for name in licences), f"the README does not name {licences} of {folder.name}/"
