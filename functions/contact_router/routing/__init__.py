"""Routing decisions. ``screening``, ``references`` and ``eligibility`` are pure functions over typed
models; ``router`` orchestrates them over the ports in ``ports`` (implemented by ``contact_router.adapters``)."""
