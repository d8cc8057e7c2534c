"""mpctl: the operator command for a deployment (local stack or a real project)."""
