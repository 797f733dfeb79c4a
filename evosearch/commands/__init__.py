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
