"""One module per subcommand of the ``evosearch`` command line (see :mod:`evosearch.cli`)."""
