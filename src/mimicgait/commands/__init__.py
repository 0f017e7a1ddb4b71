"""Sub-commands of the `mimicgait` CLI; every public module here defines `register(subparsers)`."""
