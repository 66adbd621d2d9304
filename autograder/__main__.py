"""``python -m autograder``: the instructor's command line.

  build [SLUG ...]     jupytext sources → solutions/*.ipynb → lessons/ (nbgrader release)
"""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build solution notebooks and the release")
    build_parser.add_argument("slugs", nargs="*", help="lessons to build (default: all)")
    arguments = parser.parse_args(argv)

    if arguments.command == "build":
        from autograder.build import BuildError, build

        try:
            for path in build(arguments.slugs):
                print(f"built {path}")
        except BuildError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
