from mimicgait.cli import build_parser, main


def test_cli_help_lists_commands(capsys):
    parser = build_parser()
    assert parser.prog == "mimicgait"
    assert main([]) == 2
