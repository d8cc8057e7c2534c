"""A local Cloud Tasks emulator that the real ``google.cloud.tasks_v2`` client talks to.

gRPC API (queues and HTTP tasks), named-task de-duplication with a reservation window,
retries under each queue's ``retry_config``, concurrent dispatch with ``dispatch_deadline``,
OIDC ID tokens signed by a local key whose certificate is served over HTTP, and an admin
view. Run ``python -m local.cloudtasks_emulator --help``, or in-process::

    emu = start_emulator(queues=["fulfill:max_attempts=3"], time_scale=0.01)
    client = emu.client()
    ...
    emu.stop()

``--time-scale`` multiplies retry delays (backoff, Retry-After, max_retry_duration); it does
not touch ``schedule_time`` or ``dispatch_deadline``. Not emulated: App Engine tasks and
``oauth_token`` (UNIMPLEMENTED), ``max_dispatches_per_second`` throttling, the 7-day ban on
re-creating a deleted queue's name, IAM, BatchCreateTasks and CMEK methods.
"""

from .queues import QueueSpec
from .server import EmulatorHandle, start_emulator

__all__ = ["EmulatorHandle", "QueueSpec", "start_emulator"]
