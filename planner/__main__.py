"""`python -m planner`: the s3plan command."""

from planner.cli import main

if __name__ == "__main__":
    main(prog_name="s3plan")
