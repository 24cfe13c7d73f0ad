"""MkDocs hooks of the documentation site (mkdocs.yml `hooks:`), run at every build.

- The command-line reference: docs/cli.md holds the marker ``<!-- cli-reference -->``, replaced
  by the help of `jepa-bench` and of each subcommand, taken from ``jepa_bench.cli.build_parser()``
  at build time, so the page cannot differ from the parser.
- The findings: a page's marker ``<!-- findings -->`` becomes the claims table and Figure 3 that
  the README shows, written by ``jepa_bench.tools.readme.findings`` from the committed reports,
  and ``<!-- readme: TITLE -->`` the README's section of that title (``## TITLE`` or
  ``### TITLE``, to the next heading of any level up to three), e.g. "Run it" and "What the
  numbers mean";
  ``<!-- yu-chen -->`` becomes the README's Yu & Chen table (``jepa_bench.tools.readme.yu_chen``).
- Results in the site: a page links a committed result as ``../results/...`` (the path from
  docs/ in the repository, so the link also works on a code host). Each file so linked is added
  to the site under ``results/`` and the link rewritten to it; a link to a result that does not
  exist is a warning, so ``mkdocs build --strict`` fails on it.

Owns nothing but the site: reads the parser and results/, writes only into the site folder.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.site")

REPO = Path(__file__).resolve().parents[2]
RESULT_LINK = re.compile(r"\]\(\.\./(results/[^)#\s]+)")
CLI_MARKER = "<!-- cli-reference -->"
FINDINGS_MARKER = "<!-- findings -->"
SECTION_MARKER = re.compile(r"<!-- readme: (.+?) -->")
YU_CHEN_MARKER = "<!-- yu-chen -->"
HELP_COLUMNS = "100"


def findings() -> str:
    """The README's findings block, its links made relative to docs/."""
    from jepa_bench.tools.readme import findings as readme_findings

    return readme_findings(REPO).replace("](results/", "](../results/").replace(
        "](docs/", "](")


def readme_section(title: str) -> str:
    """The README's section `title` (its heading matched without regard to case), links made
    relative to docs/; a warning and nothing when there is no such section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    pattern = rf"^##{{1,2}} {re.escape(title)}\n(.*?)(?=^#{{1,3}} |\Z)"
    match = re.search(pattern, readme, re.S | re.M | re.I)
    if match is None:
        log.warning("README.md has no section %r for the site", title)
        return ""
    return match[1].strip().replace("](docs/", "](") + "\n"


def _expand(markdown: str) -> str:
    """A page's markdown with the findings markers written out."""
    if FINDINGS_MARKER in markdown:
        markdown = markdown.replace(FINDINGS_MARKER, findings())
    markdown = SECTION_MARKER.sub(lambda m: readme_section(m[1]), markdown)
    if YU_CHEN_MARKER in markdown:
        from jepa_bench.tools.readme import yu_chen
        markdown = markdown.replace(YU_CHEN_MARKER, yu_chen(REPO))
    return markdown


def _linked_results(docs_dir: Path) -> set[str]:
    """Every ``results/...`` path a page of the site links as ``../results/...``."""
    found = set()
    for page in docs_dir.glob("*.md"):
        found.update(RESULT_LINK.findall(_expand(page.read_text(encoding="utf-8"))))
    return found


def on_files(files, config):
    """Add each linked result to the site at its path under ``results/``."""
    for rel in sorted(_linked_results(Path(config["docs_dir"]))):
        source = REPO / rel
        if not source.is_file():
            log.warning("a page links %s, which is not a committed file", rel)
            continue
        files.append(File.generated(config, rel, abs_src_path=str(source)))
    return files


def _help(parser) -> str:
    """A parser's --help as the terminal shows it at HELP_COLUMNS columns."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        return parser.format_help()
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def cli_reference() -> str:
    """Markdown: the subcommands with their one-line help, then each one's --help."""
    from jepa_bench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and a.dest == "command")
    helps = {a.dest: a.help for a in sub._choices_actions}
    lines = ["| command | what it does |", "|---|---|"]
    lines += [f"| [`jepa-bench {name}`](#{name}) | {helps.get(name, '')} |"
              for name in sub.choices]
    lines += ["", "## `jepa-bench`", "", "```text", _help(parser).rstrip(), "```", ""]
    for name, child in sub.choices.items():
        lines += [f"## `jepa-bench {name}` {{#{name}}}", "", helps.get(name, "") or "", "",
                  "```text", _help(child).rstrip(), "```", ""]
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    """Point result links at the copies in the site; write the CLI reference into its page."""
    depth = page.file.src_uri.count("/")
    markdown = _expand(markdown)
    markdown = RESULT_LINK.sub(lambda m: "](" + "../" * depth + m[1], markdown)
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown
