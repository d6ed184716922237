"""`python -m refkeeper.cli ...`: the same as the `refkeeper` command."""

from . import main

if __name__ == "__main__":
    main()
