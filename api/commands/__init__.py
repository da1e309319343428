"""Bodies of the longer `segmentql` subcommands; api/cli.py declares them and their flags."""
