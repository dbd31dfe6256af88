"""Griffe extension: render the docstrings' Sphinx roles as mkdocstrings cross-references.

skposter's docstrings are numpydoc and cross-reference with Sphinx roles
(``:class:`~skposter.io.PosterLoader```, ``:meth:`fit```). mkdocstrings would show those
literally; this extension rewrites each role before the docstring is rendered:

* a name that resolves to a skposter object shown in the API pages becomes a link
  (``[`PosterLoader`][skposter.io._loader.PosterLoader]``), so a missing page fails
  ``mkdocs build --strict``;
* a name that resolves to a private skposter object becomes an optional link: a link
  if the object is rendered under a public name, code otherwise;
* anything else (scikit-learn, NumPy, the standard library) becomes code.

The docstrings themselves stay numpydoc. Loaded by ``mkdocs.yml`` as a griffe
extension of the python handler.
"""

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?P<role>class|func|meth|attr|data|mod|obj|exc):`(?P<target>[^`]+)`")
# Sphinx's explicit-title form: :class:`title <target>`.
_TITLED = re.compile(r"(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)


def convert_roles(text, resolve):
    """Return ``text`` with every Sphinx role replaced by Markdown.

    Parameters
    ----------
    text : str
        Docstring text.
    resolve : callable
        ``resolve(name) -> (identifier, required) or None``: the autorefs identifier of
        the object ``name`` refers to, and whether it must be rendered in the docs; None
        when ``name`` is not a skposter object.

    Returns
    -------
    str
    """

    def replace(match):
        target = " ".join(match["target"].split())  # roles may wrap across lines
        titled = _TITLED.match(target)
        if titled:
            title, target = titled["title"], titled["target"]
        else:
            title = None
        no_link = target.startswith("!")
        short = target.startswith("~")
        target = target.lstrip("!~")
        if title is None:
            title = target.rsplit(".", 1)[-1] if short else target
        found = None if no_link else resolve(target)
        if found is None:
            return f"`{title}`"
        identifier, required = found
        if required:
            return f"[`{title}`][{identifier}]"
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring of a package once it is loaded.

    Also reads the ``#:`` comments above a module attribute (Sphinx's way, the one
    skposter documents its constants with) as its docstring.
    """

    def on_attribute_instance(self, *, node, attr, agent, **kwargs):
        code = getattr(agent, "code", None)  # source of a visited (not inspected) module
        if attr.docstring is None and code is not None and hasattr(node, "lineno"):
            comment = comment_docstring(code.splitlines(), node.lineno)
            if comment:
                attr.docstring = griffe.Docstring(comment, parent=attr)

    def on_package(self, *, pkg, loader, **kwargs):
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = convert_roles(
                    obj.docstring.value, lambda name, obj=obj: _resolve(obj, name, pkg))


def comment_docstring(lines, lineno):
    """The text of the ``#:`` comment lines right above line ``lineno`` (1-based), or None."""
    start = lineno - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#:"):
        start -= 1
    comment = [line.lstrip()[2:].strip() for line in lines[start:lineno - 1]]
    return "\n".join(comment) or None


def _objects(obj):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


def _resolve(obj, name, pkg):
    path = _path(obj, name)
    if path is None or not (path == pkg.path or path.startswith(pkg.path + ".")):
        return None
    try:
        target = _lookup(pkg, path)
        canonical = target.final_target.path if target.is_alias else target.path
        required = _public(pkg, path) or _public(pkg, canonical) or _exported(pkg, canonical)
        return canonical, required
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None  # not loaded with skposter: an object of another package


def _path(obj, name):
    """Absolute dotted path ``name`` means in the scope of ``obj``, or None.

    A name imported into a module keeps that module's path (``skposter.io.PosterLoader``,
    not ``skposter.io._loader.PosterLoader``): that is the path the API pages show.
    """
    if name.startswith("."):  # relative module, as in an import statement
        module = obj.module
        package = module if module.is_package else module.parent
        dots = len(name) - len(name.lstrip("."))
        for _ in range(dots - 1):
            package = package.parent
        return f"{package.path}.{name.lstrip('.')}"
    head = name.split(".", 1)[0]
    if head == obj.package.name:
        return name
    scope = obj
    while scope is not None and head not in scope.members:
        scope = scope.parent
    return None if scope is None else f"{scope.path}.{name}"


def _lookup(pkg, path):
    obj = pkg
    for part in path.split(".")[1:]:
        obj = obj.members[part]
    return obj


def _exported(pkg, canonical):
    """Whether the public path without private modules shows the same object.

    skposter's convention: a private module's objects are re-exported by its package.
    """
    path = ".".join(part for part in canonical.split(".") if not part.startswith("_"))
    if path == canonical or not _public(pkg, path):
        return False
    target = _lookup(pkg, path)
    return (target.final_target.path if target.is_alias else target.path) == canonical


def _public(pkg, path):
    """Whether the API pages show ``path``: every step from the package is public, and
    the object has a docstring (mkdocstrings leaves out undocumented members).

    The package itself has no page: its members are shown on their subpackages' pages.
    """
    if path == pkg.path:
        return False
    obj = pkg
    for part in path.split(".")[1:]:
        obj = obj.members.get(part)
        if obj is None or not obj.is_public:
            return False
    return obj.has_docstring
