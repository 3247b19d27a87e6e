"""Voice for Parley's clients: audio sources and sinks, the aiortc peer connection, and
the sans-I/O state machine of a 1:1 Matrix VoIP call (``m.call.*``, version "1")."""
