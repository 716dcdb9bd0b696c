"""``python -m ltnet``: the same as the ``ltnet`` console script (and what ``torchrun -m ltnet`` runs)."""

from ltnet.cli import main

raise SystemExit(main())
