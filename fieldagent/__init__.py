"""fieldagent: turn greenhouse camera images into compact plant signals next to the camera."""

__version__ = "0.1.0"
