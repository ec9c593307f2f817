"""Command line: python -m lth {run, models, sweep-seed, check-results, figures}."""
from lth.cli import main

if __name__ == "__main__":
    main()
