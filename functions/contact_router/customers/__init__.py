"""Returning customers: customer keys (normalised, then keyed-hashed), the last agent of each customer and
account owners. ``keys`` is pure; ``affinity`` is the recorder use case; storage is in ``adapters``."""
