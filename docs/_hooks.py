"""mkdocs hooks: generated parts of the site.

* docs/cli.md: the command-line reference, from the ``skposter`` parser
  (docs/_cli_reference.py);
* docs/gallery.md: figures of a model trained during the build (docs/_gallery.py),
  added to the site as generated files;
* benchmarks/results/*.md, which docs/benchmarks.md links to.

The benchmark page links to results relative to the repository
(``../benchmarks/results/X.md``), so the links work when browsing the repository.
This hook adds those files to the site under the same relative name from the docs
root and points the links there, so they work on the site too.
"""

import functools
import tempfile
from pathlib import Path

from mkdocs.structure.files import File

import _cli_reference  # mkdocs puts this folder on sys.path while loading hooks
import _gallery
from skposter.cli._main import build_parser
from skposter.cli._models import MODELS

_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
_REPO_LINK, _SITE_LINK = "](../benchmarks/results/", "](benchmarks/results/"


def on_files(files, config):
    for path in sorted(_RESULTS.glob("*.md")):
        files.append(File.generated(config, f"benchmarks/results/{path.name}",
                                    abs_src_path=str(path)))
    for name, content in _gallery_files()["images"].items():
        files.append(File.generated(config, f"gallery/{name}", content=content))
    return files


@functools.cache  # once per process: `mkdocs serve` rebuilds do not retrain
def _gallery_files():
    with tempfile.TemporaryDirectory() as out:
        drawn = _gallery.draw_gallery(out)
        images = {name: (Path(out) / name).read_bytes()
                  for section in drawn["figures"].values() for name in section}
    markers = {f"<!-- gallery: {section} -->": "\n\n".join(
        f"![{caption}](gallery/{name})\n\n*{caption}.*" for name, caption in figures.items())
        for section, figures in drawn["figures"].items()}
    markers["<!-- gallery: summary -->"] = _gallery.summary_table(drawn["report"])
    return {"images": images, "markers": markers}


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "benchmarks.md":
        return markdown.replace(_REPO_LINK, _SITE_LINK)
    if page.file.src_uri == "gallery.md":
        for marker, text in _gallery_files()["markers"].items():
            markdown = markdown.replace(marker, text)
        return markdown
    if page.file.src_uri == "cli.md":
        return _cli_reference.fill_markers(markdown, build_parser(), MODELS)
    return markdown
