"""One module per subcommand of the ``evosearch`` command line (see :mod:`evosearch.cli`).

A command raises on bad input instead of printing: :func:`evosearch.cli.main` prints every
error of the project's types as ``evosearch <command>: error: <message>`` and exits with status
2 (:class:`CommandError` may carry another status), so every command speaks the same way.
"""


class CommandError(Exception):
    """Bad input a command found itself (an option that contradicts another, an unknown name):
    the message says what is wrong; ``status`` is the exit status (2 unless said otherwise)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def add_task_file_argument(parser) -> None:  # noqa: ANN001 - argparse.ArgumentParser
    """``--task-file FILE.py`` (repeatable): the user's own tasks (``docs/own-task.md``)."""
    parser.add_argument("--task-file", dest="task_files", action="append", default=[],
                        metavar="FILE.py",
                        help="a Python file registering tasks of your own (repeatable; "
                             "docs/own-task.md)")


def load_task_files(paths: list[str]) -> tuple:
    """Read and run the task files in this process (for commands that evaluate here): their
    tasks are registered afterwards. Problems are one line naming the file."""
    from proxy_tasks.task_files import TaskFileError, load_all, read_all

    try:
        files = read_all(paths)
        load_all(files)
    except TaskFileError as e:
        raise CommandError(str(e)) from None
    return files
