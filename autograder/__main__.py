"""``python -m autograder``: the instructor's command line.

  build [SLUG ...]     jupytext sources → solutions/*.ipynb → lessons/ (nbgrader release)
  grade ASSIGNMENT     grade collected submissions in sandboxes, into nbgrader's gradebook
"""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build solution notebooks and the release")
    build_parser.add_argument("slugs", nargs="*", help="lessons to build (default: all)")
    grade_parser = commands.add_parser("grade", help="grade submitted/*/ASSIGNMENT into the gradebook")
    grade_parser.add_argument("assignment")
    grade_parser.add_argument("--student", action="append", help="only this student (repeatable)")
    grade_parser.add_argument("--workers", type=int, default=2, help="parallel workers (default 2)")
    grade_parser.add_argument("--timeout", type=float, default=120.0, help="seconds per cell (default 120)")
    grade_parser.add_argument("--call-timeout", type=float, default=60.0,
                              help="seconds per graded function call (default 60)")
    grade_parser.add_argument("--regrade", action="store_true", help="grade again even if already graded")
    grade_parser.add_argument("--unsafe-no-sandbox", action="store_true",
                              help="run learner code WITHOUT isolation (only for trusted submissions)")
    arguments = parser.parse_args(argv)

    if arguments.command == "build":
        from autograder.build import BuildError, build

        try:
            for path in build(arguments.slugs):
                print(f"built {path}")
        except BuildError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if arguments.command == "grade":
        from pathlib import Path

        from autograder.grading import GradingError, grade_assignment, summary
        from autograder.sandbox import Limits

        try:
            results = grade_assignment(Path.cwd(), arguments.assignment, students=arguments.student,
                                       workers=arguments.workers, limits=Limits(cell_seconds=arguments.timeout,
                                                                   call_seconds=arguments.call_timeout),
                                       unsafe=arguments.unsafe_no_sandbox, regrade=arguments.regrade)
        except GradingError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
