"""The command-line reference of docs/cli.md, generated from the ``skposter`` parser itself.

docs/cli.md holds hand-written prose and markers; :func:`fill_markers` replaces

* ``<!-- cli: skposter -->`` with the options every command takes;
* ``<!-- cli: COMMAND -->`` with that command's options and arguments;
* ``<!-- cli: models -->`` with the model kinds of ``train --model``;
* ``<!-- cli: other commands -->`` with a section for each command that has no marker
  of its own (a command added to the parser is documented without editing the page).

The docs hook (docs/_hooks.py) runs it on every build, so help texts, defaults and
model kinds cannot drift from the code.
"""

import argparse
import re

MARKER = re.compile(r"<!-- cli: (?P<name>[\w -]+?) -->")
_SKIPPED = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def fill_markers(markdown, parser, models):
    """Return ``markdown`` with its ``<!-- cli: ... -->`` markers replaced.

    Parameters
    ----------
    markdown : str
        Text of docs/cli.md.
    parser : argparse.ArgumentParser
        The ``skposter`` parser (``skposter.cli._main.build_parser()``).
    models : dict
        Model kind -> ``(builder, description)`` (``skposter.cli._models.MODELS``).

    Returns
    -------
    str
    """
    commands = _commands(parser)
    unknown = {m["name"] for m in MARKER.finditer(markdown)} - {
        "skposter", "models", "other commands", *commands}
    if unknown:
        raise ValueError(f"docs/cli.md has markers for unknown commands: {sorted(unknown)}")
    marked = {m["name"] for m in MARKER.finditer(markdown)}

    def replace(match):
        name = match["name"]
        if name == "skposter":
            table = options_table(parser)
            return table and f"Options of `skposter` itself, written before the command:\n\n{table}"
        if name == "models":
            return models_table(models)
        if name == "other commands":
            return "\n\n".join(command_section(command, sub)
                               for command, sub in commands.items() if command not in marked)
        return f"Options of `skposter {name}`:\n\n{options_table(commands[name])}"

    return MARKER.sub(replace, markdown)


def command_section(name, parser):
    """A section for command ``name``: heading, its description and its options."""
    return f"## `skposter {name}`\n\n{parser.description or ''}\n\n{options_table(parser)}"


def options_table(parser):
    """A Markdown table of the parser's arguments: how to write each, and its help."""
    formatter = parser._get_formatter()
    rows = [f"| `{_usage(action)}` | {_cell(_help(formatter, action))} |"
            for action in parser._actions if not isinstance(action, _SKIPPED)]
    if not rows:
        return ""
    return "\n".join(["| argument | meaning |", "| --- | --- |", *rows])


def models_table(models):
    """A Markdown table of the model kinds: description and the first docstring line."""
    rows = [f"| `{name}` | {_cell(description)} | {_cell(_summary(builder))} |"
            for name, (builder, description) in models.items()]
    return "\n".join(["| kind | model | pipeline |", "| --- | --- | --- |", *rows])


def _commands(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _usage(action):
    if not action.option_strings:  # positional
        name = action.metavar or action.dest
        return {"+": f"{name} ...", "*": f"[{name} ...]", "?": f"[{name}]"}.get(action.nargs, name)
    value = ""
    if action.nargs != 0:
        value = " " + (action.metavar or ("{" + ",".join(map(str, action.choices)) + "}"
                                          if action.choices else action.dest.upper()))
    return ", ".join(action.option_strings) + value


def _help(formatter, action):
    text = formatter._expand_help(action) if action.help else ""
    if action.required and action.option_strings:
        text = f"**required**; {text}"
    return text


def _summary(function):
    return (function.__doc__ or "").strip().split("\n", 1)[0]


def _cell(text):
    # One table cell: no line breaks, no column separators.
    return " ".join(text.split()).replace("|", "\\|")
