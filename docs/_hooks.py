"""mkdocs hooks: generated parts of the site.

* docs/cli.md: the command-line reference, from the ``skposter`` parser
  (docs/_cli_reference.py);
* benchmarks/results/*.md, which docs/benchmarks.md links to.

The benchmark page links to results relative to the repository
(``../benchmarks/results/X.md``), so the links work when browsing the repository.
This hook adds those files to the site under the same relative name from the docs
root and points the links there, so they work on the site too.
"""

from pathlib import Path

from mkdocs.structure.files import File

import _cli_reference  # mkdocs puts this folder on sys.path while loading hooks
from skposter.cli._main import build_parser
from skposter.cli._models import MODELS

_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
_REPO_LINK, _SITE_LINK = "](../benchmarks/results/", "](benchmarks/results/"


def on_files(files, config):
    for path in sorted(_RESULTS.glob("*.md")):
        files.append(File.generated(config, f"benchmarks/results/{path.name}",
                                    abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "benchmarks.md":
        return markdown.replace(_REPO_LINK, _SITE_LINK)
    if page.file.src_uri == "cli.md":
        return _cli_reference.fill_markers(markdown, build_parser(), MODELS)
    return markdown
