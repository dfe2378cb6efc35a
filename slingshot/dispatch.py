"""`python -m PACKAGE COMMAND ARGS...`: the one dispatcher every package's __main__.py goes through.

A package's commands are a table {command: module}; each command module (in <package>/commands/) has
HELP (one line) and main(argv). A module is imported only when its command runs or help is asked for,
so `python -m slingshot which-lock` starts without importing torch.
"""
import difflib
import importlib
import sys

from slingshot.errors import UserError, cli


def usage(prog, doc, commands):
    width = max(map(len, commands))
    lines = [f"usage: {prog} COMMAND [ARGS...]   ({prog} COMMAND --help for a command's options)", "",
             doc.strip(), "", "commands:"]
    lines += [f"  {name:{width}}  {importlib.import_module(module).HELP}" for name, module in commands.items()]
    return "\n".join(lines)


def dispatch(prog, doc, commands, argv=None):
    """Run the command argv[0] names with the rest of argv; exit status 2 on an unknown command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(prog, doc, commands), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in commands:
        return cli(_unknown)([prog, name, commands])
    return importlib.import_module(commands[name]).main(rest) or 0


def _unknown(args):
    prog, name, commands = args
    near = difflib.get_close_matches(name, commands, n=1)
    hint = f" (did you mean {near[0]}?)" if near else ""
    raise UserError(f"{prog}: no command {name!r}{hint}; the commands are: {', '.join(commands)}")
