"""Supervision decisions: which supervisor monitors a connected contact. ``policy`` is pure; ``supervisor``
orchestrates it over the ports (implemented by ``contact_router.adapters``)."""
