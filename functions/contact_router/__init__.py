"""contact-router: route queued Amazon Connect contacts to preferred agents.

Layers, one direction: ``handlers`` (Lambda entry points) -> ``routing`` and ``rules`` (pure decisions over
typed ``models``) -> ``adapters`` (the only modules that talk to AWS).
"""

__version__ = "0.1.0"
