"""The docs' generated parts: Sphinx roles rendered as links, the CLI reference from the parser.

Nothing here builds the site; ``mkdocs build --strict`` in CI does.
"""

import argparse
import importlib.util
import re
from pathlib import Path

import griffe
import pytest

from skposter.cli._main import build_parser
from skposter.cli._models import MODELS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _docs_module(name):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


roles = _docs_module("_roles")
cli_reference = _docs_module("_cli_reference")

KNOWN = {"skposter.io.PosterLoader": ("skposter.io._loader.PosterLoader", True),
         "fit": ("skposter.io._loader.PosterLoader.fit", True),
         "_sources.BLANK_VALUE": ("skposter.io._sources.BLANK_VALUE", False)}


@pytest.mark.parametrize("text, expected", [
    (":class:`~skposter.io.PosterLoader` reads",
     "[`PosterLoader`][skposter.io._loader.PosterLoader] reads"),
    (":class:`skposter.io.PosterLoader`",
     "[`skposter.io.PosterLoader`][skposter.io._loader.PosterLoader]"),
    ("see :meth:`fit`.", "see [`fit`][skposter.io._loader.PosterLoader.fit]."),
    (":py:meth:`the loader <skposter.io.PosterLoader>`",
     "[`the loader`][skposter.io._loader.PosterLoader]"),
    (":class:`the poster\n    loader <skposter.io.PosterLoader>`",
     "[`the poster loader`][skposter.io._loader.PosterLoader]"),
    (":data:`_sources.BLANK_VALUE`",
     '<autoref identifier="skposter.io._sources.BLANK_VALUE" optional>'
     "<code>_sources.BLANK_VALUE</code></autoref>"),
    (":class:`~sklearn.linear_model.LogisticRegression`", "`LogisticRegression`"),
    (":func:`!skposter.io.PosterLoader`", "`skposter.io.PosterLoader`"),
    (":meth:`str.format` and :mod:`numpy`", "`str.format` and `numpy`"),
    ("no role, ``code`` and :not-a-role:`x`", "no role, ``code`` and :not-a-role:`x`"),
])
def test_convert_roles(text, expected):
    assert roles.convert_roles(text, KNOWN.get) == expected


@pytest.fixture(scope="module")
def skposter_api():
    extensions = griffe.load_extensions(roles.SphinxRoles)
    return griffe.load("skposter", extensions=extensions, search_paths=[DOCS.parent])


def _docstrings(obj):
    if obj.docstring is not None:
        yield obj.path, obj.docstring.value
    for member in obj.members.values():
        if not member.is_alias:
            yield from _docstrings(member)


def test_no_docstring_keeps_a_sphinx_role(skposter_api):
    left = {path: roles.ROLE.findall(text) for path, text in _docstrings(skposter_api)
            if roles.ROLE.search(text)}
    assert not left


def test_roles_resolve_in_the_docstring_scope(skposter_api):
    # extract_features, written unqualified in skposter.distributed, is its _extract function;
    # a private module stays an optional link.
    text = skposter_api["distributed"].docstring.value
    assert "[`extract_features`][skposter.distributed._extract.extract_features]" in text
    assert "[`GenreThresholdClassifier`][skposter.multilabel._thresholds." in text
    training = skposter_api["models._callbacks"].docstring.value
    assert '<autoref identifier="skposter.models._training" optional>' in training


def test_comment_docstring_reads_the_sphinx_comment_above_an_attribute():
    lines = ["x = 1", "#: First line", "#:   second line.", "LIMIT = 3", "# plain", "OTHER = 4"]
    assert roles.comment_docstring(lines, 4) == "First line\nsecond line."
    assert roles.comment_docstring(lines, 6) is None
    assert roles.comment_docstring(lines, 1) is None


def test_documented_constants_get_their_comment_as_docstring(skposter_api):
    scorers = skposter_api["metrics._scorers.GENRE_SCORERS"].docstring.value
    assert scorers.startswith("One [`GenreScorer`][skposter.metrics._scorers.GenreScorer] per")


# Documented elsewhere: the command's page is generated from its parser (cli.md), and
# base holds the mixin giving estimators their link to these pages.
NOT_API_PAGES = {"cli", "base"}


def test_every_public_subpackage_has_an_api_page_in_the_nav():
    package = DOCS.parent / "skposter"
    names = {path.parent.name for path in package.glob("*/__init__.py")}
    names |= {path.stem for path in package.glob("*.py")}
    public = {name for name in names if not name.startswith("_")} - NOT_API_PAGES
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    for name in sorted(public):
        assert f"::: skposter.{name}\n" in (DOCS / "api" / f"{name}.md").read_text()
        assert f"api/{name}.md" in nav


def _parser_strings(parser):
    """Every subcommand and option string of ``parser``, recursively."""
    for action in parser._actions:
        yield from action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name
                yield from _parser_strings(sub)


@pytest.fixture(scope="module")
def cli_page():
    return cli_reference.fill_markers((DOCS / "cli.md").read_text(), build_parser(), MODELS)


def test_cli_page_names_every_command_and_option(cli_page):
    missing = {s for s in _parser_strings(build_parser())
               if not re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", cli_page)} - {"-h", "--help"}
    assert not missing
    assert not cli_reference.MARKER.search(cli_page)


def test_cli_page_describes_every_model_kind(cli_page):
    for name, (_, description) in MODELS.items():
        assert f"| `{name}` | {description} |" in cli_page


def test_cli_page_documents_a_command_without_a_marker():
    parser = argparse.ArgumentParser(prog="skposter")
    commands = parser.add_subparsers()
    commands.add_parser("new", description="Does new things.").add_argument(
        "--level", metavar="N", default=3, required=True, help="how much (default: %(default)s)")
    page = cli_reference.fill_markers("<!-- cli: other commands -->", parser, {})
    assert page.startswith("## `skposter new`\n\nDoes new things.")
    assert "| `--level N` | **required**; how much (default: 3) |" in page


def test_cli_marker_for_an_unknown_command_is_an_error():
    with pytest.raises(ValueError, match="gone"):
        cli_reference.fill_markers("<!-- cli: gone -->", build_parser(), MODELS)
