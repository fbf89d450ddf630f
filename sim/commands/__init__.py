"""One module per `fctwin` subcommand of the FC run."""
