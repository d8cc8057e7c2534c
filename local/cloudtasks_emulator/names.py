"""Cloud Tasks resource names: parsing and validation, with the real service's rules.

Queue names are ``projects/P/locations/L/queues/Q`` and task names are
``<queue name>/tasks/T``. Ids follow the documented charsets: a queue id is letters, digits
and hyphens (at most 100 characters); a task id is letters, digits, hyphens and underscores
(at most 500 characters).
"""

from __future__ import annotations

import re
import secrets

_PROJECT = r"[A-Za-z0-9\-.:]+"
_LOCATION = r"[A-Za-z0-9\-]+"
_LOCATION_NAME = re.compile(rf"^projects/({_PROJECT})/locations/({_LOCATION})$")
_QUEUE_NAME = re.compile(rf"^projects/{_PROJECT}/locations/{_LOCATION}/queues/([^/]+)$")
_TASK_NAME = re.compile(rf"^(projects/{_PROJECT}/locations/{_LOCATION}/queues/[^/]+)/tasks/([^/]*)$")
_QUEUE_ID = re.compile(r"^[A-Za-z0-9\-]{1,100}$")
_TASK_ID = re.compile(r"^[A-Za-z0-9_\-]{1,500}$")


class InvalidName(ValueError):
    """A resource name or id that the real service would reject with INVALID_ARGUMENT."""


def location_path(project: str, location: str) -> str:
    """``projects/P/locations/L``."""
    return f"projects/{project}/locations/{location}"


def queue_path(project: str, location: str, queue_id: str) -> str:
    """``projects/P/locations/L/queues/Q``."""
    return f"{location_path(project, location)}/queues/{queue_id}"


def check_location_name(name: str) -> None:
    """Raise InvalidName unless ``name`` is ``projects/P/locations/L``."""
    if not _LOCATION_NAME.match(name):
        raise InvalidName(f"Invalid location name {name!r}: want projects/P/locations/L")


def check_queue_name(name: str) -> str:
    """Return the queue id of a valid queue name, else raise InvalidName."""
    match = _QUEUE_NAME.match(name)
    if not match:
        raise InvalidName(f"Invalid queue name {name!r}: want projects/P/locations/L/queues/Q")
    queue_id = match.group(1)
    if not _QUEUE_ID.match(queue_id):
        raise InvalidName(
            f"Invalid queue id {queue_id!r}: letters, digits and hyphens, at most 100 characters"
        )
    return queue_id


def split_task_name(name: str) -> tuple[str, str]:
    """Return ``(queue name, task id)`` of a valid task name, else raise InvalidName."""
    match = _TASK_NAME.match(name)
    if not match:
        raise InvalidName(f"Invalid task name {name!r}: want <queue name>/tasks/T")
    queue_name, task_id = match.group(1), match.group(2)
    check_queue_name(queue_name)
    if not _TASK_ID.match(task_id):
        raise InvalidName(
            f"Invalid task id {task_id!r}: letters, digits, hyphens and underscores, at most 500 characters"
        )
    return queue_name, task_id


def short_id(name: str) -> str:
    """The last path segment of a resource name (queue id or task id)."""
    return name.rsplit("/", 1)[-1]


def new_task_id() -> str:
    """A generated task id shaped like the service's: a long decimal number."""
    return str(secrets.randbelow(9 * 10**18) + 10**18)
