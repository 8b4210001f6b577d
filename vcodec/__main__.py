"""``python -m vcodec`` (and ``torchrun -m vcodec train …``): the command line."""

from vcodec.cli.main import main

main(prog_name="vcodec")
