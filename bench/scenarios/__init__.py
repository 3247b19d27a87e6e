"""One module per load scenario; each exposes ``add_arguments`` and ``run``."""
