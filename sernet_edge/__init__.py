"""sernet-edge: Light-SERNet speech emotion recognition for small devices."""

__version__ = "0.1.0"
