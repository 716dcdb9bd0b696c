"""One module a command, each with ``add_parser(sub)`` (its options and help) and ``run(args)``, a thin
layer over a library function. Heavy modules (torch, MONAI) are imported inside ``run``."""

from ltnet.commands import dataaug, demo, evaluate, prepare, report, segment, select_atlas, train

# in the order ``ltnet --help`` lists them
COMMANDS = (train, segment, prepare, evaluate, select_atlas, demo, dataaug, report)
