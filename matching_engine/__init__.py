"""A pure, deterministic continuous double auction: no I/O, no clock, no imports
from the rest of the project. See events.py for the exact event order."""
