"""``python -m irtrouter``: the irtrouter command line (:mod:`irtrouter.cli`)."""

from irtrouter.cli import main

main()
