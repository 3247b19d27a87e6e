"""`parley` subcommands, one module per area; each registers its parsers with ``add_parsers``."""
