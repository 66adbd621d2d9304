"""``python -m autograder``: the instructor's command line.

  build [SLUG ...]     jupytext sources → solutions/*.ipynb → lessons/ (nbgrader release)
                       (--record-expected: first run each lesson headless and record its expected outputs)
  grade ASSIGNMENT ... grade collected submissions in sandboxes, into nbgrader's gradebook
                       (several assignments: one run, one pool of warm sandboxes for them all)
                       (nbgrader options after --, e.g. -- --LateSubmissionPlugin.penalty_method=zero)
                       (--scheduler tls://HOST:PORT --certs DIR: the sandboxes run on Dask workers)
  report ASSIGNMENT    what the class got wrong: reports/ASSIGNMENT.html and .csv (--course: all)
  certs DIR            a CA and TLS certificates for the grading cluster's scheduler, workers and client
"""

import argparse
import sys

from gradclinic.runtime import quiet_tensorflow_start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build solution notebooks and the release")
    build_parser.add_argument("slugs", nargs="*", help="lessons to build (default: all)")
    build_parser.add_argument("--record-expected", action="store_true",
                              help="run each solution notebook headless and record what its expected-output cells print")
    grade_parser = commands.add_parser("grade", help="grade submitted/*/ASSIGNMENT into the gradebook")
    grade_parser.add_argument("assignments", nargs="+", metavar="ASSIGNMENT", help="one or more, graded in one run")
    grade_parser.add_argument("--student", action="append", help="only this student (repeatable)")
    grade_parser.add_argument("--workers", type=int, default=2, help="parallel workers (default 2)")
    grade_parser.add_argument("--timeout", type=float, help="CPU seconds per cell (default: SandboxedExecute.cell_seconds, 120)")
    grade_parser.add_argument("--call-timeout", type=float,
                              help="CPU seconds per graded function call (default: SandboxedExecute.call_seconds, 60)")
    grade_parser.add_argument("--regrade", action="store_true",
                              help="grade again even if graded by this grader and unchanged (hand grades are kept)")
    grade_parser.add_argument("--in-kernel", action="store_true",
                              help="run notebooks in a Jupyter kernel as plain nbgrader does, trusting them (no sandbox)")
    grade_parser.add_argument("--unsafe-no-sandbox", action="store_true",
                              help="run learner code WITHOUT isolation (only for trusted submissions)")
    grade_parser.add_argument("--scheduler", help="a Dask scheduler (tls://HOST:PORT; tcp:// is taken as tls://) "
                                                  "whose workers run the sandboxes; judging and the gradebook stay here")
    grade_parser.add_argument("--certs", help="the folder `certs` wrote (needed with --scheduler)")
    certs_parser = commands.add_parser("certs", help="make the grading cluster's CA and certificates")
    certs_parser.add_argument("directory", help="a new folder; copy ca.pem and each node's files to that node")
    report_parser = commands.add_parser("report", help="misconception report from the gradebook and records")
    report_parser.add_argument("assignment", nargs="?", help="the assignment (or --course for all of them)")
    report_parser.add_argument("--course", action="store_true", help="every assignment in the gradebook, one page")
    report_parser.add_argument("--out", help="folder for the HTML and CSV (default: reports/ in the course root)")
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_tensorflow_start()  # the build and the judges import TensorFlow: no start-up lines on stderr
    # After `--` (grade, report): nbgrader's own configuration (--Class.trait=value), passed on unread.
    nbgrader_options = argv[argv.index("--") + 1:] if "--" in argv else []
    arguments = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)

    if arguments.command == "build":
        from nbclient.exceptions import CellExecutionError

        from autograder.build import BuildError, build

        try:
            for path in build(arguments.slugs, record_expected=arguments.record_expected,
                              report=lambda line: print(line, flush=True)):
                print(f"built {path}")
        except (BuildError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except CellExecutionError as error:
            print(f"error: the reference run failed, nothing recorded:\n{error}", file=sys.stderr)
            return 1
    if arguments.command == "grade":
        from pathlib import Path

        from autograder.cluster import ClusterError, connect
        from autograder.grading import GradingError, grade_assignments, summary

        # The flags are nbgrader configuration too: given, they override nbgrader_config.py.
        flags = {"cell_seconds": arguments.timeout, "call_seconds": arguments.call_timeout,
                 "in_kernel": arguments.in_kernel or None, "unsafe_no_sandbox": arguments.unsafe_no_sandbox or None}
        config = [f"--SandboxedExecute.{name}={value}" for name, value in flags.items() if value is not None]
        config += nbgrader_options
        if bool(arguments.scheduler) != bool(arguments.certs):
            parser.error("--scheduler and --certs go together (the cluster speaks TLS only)")
        if arguments.scheduler and (arguments.in_kernel or arguments.unsafe_no_sandbox):
            parser.error("--scheduler runs every submission in a sandbox on the workers: "
                         "it does not go with --in-kernel or --unsafe-no-sandbox")
        cluster = None
        try:
            if arguments.scheduler:
                cluster = connect(arguments.scheduler, arguments.certs)
            results = grade_assignments(Path.cwd(), arguments.assignments, students=arguments.student,
                                       workers=arguments.workers, regrade=arguments.regrade, config_args=config,
                                       cluster=cluster)
        except (GradingError, ClusterError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        finally:
            if cluster is not None:
                cluster.close()
        print(summary(results))
    if arguments.command == "certs":
        from autograder.cluster import ClusterError, make_certificates

        try:
            for path in make_certificates(arguments.directory):
                print(f"wrote {path}")
        except ClusterError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if arguments.command == "report":
        from pathlib import Path

        from autograder.report import write_report

        if bool(arguments.assignment) == arguments.course:
            parser.error("report needs an ASSIGNMENT or --course (one of them)")
        try:
            paths = write_report(Path.cwd(), arguments.assignment, course=arguments.course, out_dir=arguments.out,
                                 config_args=nbgrader_options)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print("\n".join(f"wrote {path}" for path in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
