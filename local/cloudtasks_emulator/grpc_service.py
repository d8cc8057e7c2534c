"""The ``google.cloud.tasks.v2.CloudTasks`` gRPC service, as a generic handler.

Implements CreateQueue, UpdateQueue, GetQueue, ListQueues, DeleteQueue, PurgeQueue,
PauseQueue, ResumeQueue, CreateTask, GetTask, ListTasks, DeleteTask and RunTask; any other
method answers UNIMPLEMENTED. Errors carry the real service's status codes.

CreateTask, the one RPC on the product's hot path (one per notification), is decoded and
answered with the generated protobuf classes rather than proto-plus, which costs several
times less CPU; the other RPCs use proto-plus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.cloud import tasks_v2

from .dispatcher import Dispatcher
from .errors import ApiError, invalid
from .names import InvalidName, check_location_name
from .store import Store
from .task_input import build_record_pb

SERVICE = "google.cloud.tasks.v2.CloudTasks"
MAX_TASK_PAGE = 1000
MAX_QUEUE_PAGE = 9800
_STATE_FILTER = re.compile(r"^\s*state\s*[:=]\s*(RUNNING|PAUSED|DISABLED)\s*$")

T = TypeVar("T")


def _empty(_: object) -> bytes:
    return b""


def _serialize_pb(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def _page(items: Sequence[T], page_size: int, token: str, limit: int) -> tuple[list[T], str]:
    """Slice a listing; page tokens are offsets."""
    try:
        start = int(token) if token else 0
    except ValueError as exc:
        raise invalid(f"Invalid page token {token!r}") from exc
    if page_size < 0:
        raise invalid("page_size must be >= 0")
    size = min(page_size or limit, limit)
    chunk = list(items[start : start + size])
    next_token = str(start + size) if start + size < len(items) else ""
    return chunk, next_token


class CloudTasksService:
    """RPC implementations over a Store and a Dispatcher."""

    def __init__(self, store: Store, dispatcher: Dispatcher, min_dispatch_deadline: float) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.min_dispatch_deadline = min_dispatch_deadline

    # Queues
    def create_queue(self, req: tasks_v2.CreateQueueRequest) -> tasks_v2.Queue:
        return self.store.create_queue(req.parent, req.queue)

    def update_queue(self, req: tasks_v2.UpdateQueueRequest) -> tasks_v2.Queue:
        return self.store.update_queue(req.queue, list(req.update_mask.paths))

    def get_queue(self, req: tasks_v2.GetQueueRequest) -> tasks_v2.Queue:
        return self.store.get_queue(req.name)

    def list_queues(self, req: tasks_v2.ListQueuesRequest) -> tasks_v2.ListQueuesResponse:
        try:
            check_location_name(req.parent)
        except InvalidName as exc:
            raise invalid(str(exc)) from exc
        state = ""
        if req.filter:
            match = _STATE_FILTER.match(req.filter)
            if not match:
                raise invalid(f"Unsupported filter {req.filter!r}; only 'state: <STATE>'")
            state = match.group(1)
        queues = self.store.list_queues(req.parent, state)
        page, token = _page(queues, req.page_size, req.page_token, MAX_QUEUE_PAGE)
        return tasks_v2.ListQueuesResponse(queues=page, next_page_token=token)

    def delete_queue(self, req: tasks_v2.DeleteQueueRequest) -> None:
        self.store.delete_queue(req.name)

    def purge_queue(self, req: tasks_v2.PurgeQueueRequest) -> tasks_v2.Queue:
        return self.store.purge_queue(req.name)

    def pause_queue(self, req: tasks_v2.PauseQueueRequest) -> tasks_v2.Queue:
        return self.store.set_state(req.name, tasks_v2.Queue.State.PAUSED)

    def resume_queue(self, req: tasks_v2.ResumeQueueRequest) -> tasks_v2.Queue:
        return self.store.set_state(req.name, tasks_v2.Queue.State.RUNNING)

    # Tasks
    def create_task(self, req: Any) -> Any:
        """CreateTask on the generated messages: a CreateTaskRequest in, a Task out."""
        self.store.check_queue(req.parent)
        record = build_record_pb(req.parent, req.task, self.min_dispatch_deadline)
        self.store.add_task(record)
        with self.store.lock:
            return record.to_pb(req.response_view)

    def get_task(self, req: tasks_v2.GetTaskRequest) -> tasks_v2.Task:
        with self.store.lock:
            return self.store.get_task(req.name).to_proto(req.response_view)

    def list_tasks(self, req: tasks_v2.ListTasksRequest) -> tasks_v2.ListTasksResponse:
        with self.store.lock:
            records = self.store.list_tasks(req.parent)
            page, token = _page(records, req.page_size, req.page_token, MAX_TASK_PAGE)
            tasks = [r.to_proto(req.response_view) for r in page]
        return tasks_v2.ListTasksResponse(tasks=tasks, next_page_token=token)

    def delete_task(self, req: tasks_v2.DeleteTaskRequest) -> None:
        self.store.delete_task(req.name)

    def run_task(self, req: tasks_v2.RunTaskRequest) -> tasks_v2.Task:
        with self.store.lock:
            record = self.store.get_task(req.name)
            self.dispatcher.run_now(record)
            return record.to_proto(req.response_view)


def _wrap(fn: Callable[[Any], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(request)
        except ApiError as exc:
            context.abort(exc.code, exc.message)

    return handler


def generic_handler(service: CloudTasksService) -> grpc.GenericRpcHandler:
    """The gRPC handler that serves ``service`` under the CloudTasks service name."""
    t = tasks_v2
    table: dict[str, tuple[Callable[[Any], Any], Callable[[bytes], Any], Callable[[Any], bytes]]] = {
        "CreateQueue": (service.create_queue, t.CreateQueueRequest.deserialize, t.Queue.serialize),
        "UpdateQueue": (service.update_queue, t.UpdateQueueRequest.deserialize, t.Queue.serialize),
        "GetQueue": (service.get_queue, t.GetQueueRequest.deserialize, t.Queue.serialize),
        "ListQueues": (service.list_queues, t.ListQueuesRequest.deserialize, t.ListQueuesResponse.serialize),
        "DeleteQueue": (service.delete_queue, t.DeleteQueueRequest.deserialize, _empty),
        "PurgeQueue": (service.purge_queue, t.PurgeQueueRequest.deserialize, t.Queue.serialize),
        "PauseQueue": (service.pause_queue, t.PauseQueueRequest.deserialize, t.Queue.serialize),
        "ResumeQueue": (service.resume_queue, t.ResumeQueueRequest.deserialize, t.Queue.serialize),
        "CreateTask": (service.create_task, t.CreateTaskRequest.pb().FromString, _serialize_pb),
        "GetTask": (service.get_task, t.GetTaskRequest.deserialize, t.Task.serialize),
        "ListTasks": (service.list_tasks, t.ListTasksRequest.deserialize, t.ListTasksResponse.serialize),
        "DeleteTask": (service.delete_task, t.DeleteTaskRequest.deserialize, _empty),
        "RunTask": (service.run_task, t.RunTaskRequest.deserialize, t.Task.serialize),
    }
    handlers = {
        method: grpc.unary_unary_rpc_method_handler(
            _wrap(fn),
            request_deserializer=deserialize,
            response_serializer=serialize,
        )
        for method, (fn, deserialize, serialize) in table.items()
    }
    return grpc.method_handlers_generic_handler(SERVICE, handlers)
