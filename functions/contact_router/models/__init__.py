"""Typed models: the contact event as EventBridge delivers it, the contact as DescribeContact shows it,
agents as GetCurrentUserData shows them, and the decision record."""
