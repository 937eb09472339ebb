"""``python -m stcg`` runs the CLI."""

from stcg.cli import main

main()
