"""What the functions do: checkout, fulfilment, notifications, operations, reconcile."""
