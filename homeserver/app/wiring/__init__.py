"""The composition root, one module per area, applied in layer order by ``Homeserver``.

Each ``wire(c)`` builds its area's stores and services from the container's lower
layers, passes each service the collaborators it uses, connects listeners and injected
callables where a lower layer must reach a higher one, and registers start/stop steps
with ``c.lifecycle`` (start in registration order, stop in reverse).
"""
