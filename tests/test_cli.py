import pkgutil

from mimicgait import commands
from mimicgait.cli import build_parser, main


def test_cli_help_lists_every_command_module(capsys):
    parser = build_parser()
    assert parser.prog == "mimicgait"
    assert main([]) == 2
    shown = capsys.readouterr()
    text = shown.out + shown.err
    modules = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    assert len(modules) > 10
    for name in modules:  # each command module registers a sub-command named after it
        assert name in text, name
