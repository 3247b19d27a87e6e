"""`parley chat`: the interactive terminal chat (Textual). ``render`` and ``commands``
are pure; ``app`` is the Textual application."""
