"""Voice for Parley's clients: audio sources and sinks, the aiortc peer connection, the
sans-I/O state machine of a 1:1 Matrix VoIP call (``m.call.*``, version "1"), and the
client of a homeserver's voice-room focus (``room.py``)."""
