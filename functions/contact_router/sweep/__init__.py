"""The sweep: contacts whose QUEUED event never reached the router (Connect delivers events best effort).

Every few minutes, SearchContacts lists the contacts of the configured queues; those whose wait crossed the
threshold since the previous sweep, and that still wait, are sent to the router's queue as synthetic QUEUED
events. The router then does what it always does (DescribeContact, idempotency), so a contact it already
decided is a Duplicate or NotWaiting, never associated twice. See docs/sweep.md.

* ``selection``: pure (the window, which contact to re-inject and why not, the synthetic event);
* ``sweeper``: the use case over two small ports (contact search, the router's queue);
* ``settings``: the sweep's own validated environment; ``schedule``: one run, its summary line and metrics;
* ``adapters/router_queue``: the SQS side (SendMessageBatch to the router's queue).
The sweep is wired in ``contact_router.composition`` like every other function.
"""
