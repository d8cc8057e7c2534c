"""A write batch that builds the raw protobuf ``Write`` messages itself.

``WriteBatch`` (google-cloud-firestore) encodes every value, document, mask, precondition and
field transform as a proto-plus message, and each proto-plus ``Message.__init__`` costs far
more CPU than the raw protobuf it wraps: about 90 of them for one card order's commits, the
largest single part of ``create_payment``'s CPU. :class:`RawBatch` has ``WriteBatch``'s
``create`` / ``update`` / ``set`` / ``delete`` / ``commit`` and sends the same bytes: it keeps
the client's own field classification (``_helpers.DocumentExtractor*``: plain Python, which
decides the data, the update mask, the transforms and their order, and raises the client's
``ValueError``\\ s) and replaces only the message building with the raw ``_pb`` classes.
``tests/integration/test_raw_writes_encoding.py`` (hypothesis) asserts the serialised writes are
byte-identical to ``WriteBatch._write_pbs`` for generated documents, field maps, transforms
and preconditions.

``commit`` sends one ``Commit`` RPC through ``client._firestore_api`` with the client's
metadata, the caller's retry and timeout, and the request wrapped (not copied) as the
proto-plus ``CommitRequest`` the API client expects; its answer and exceptions
(``AlreadyExists``, ``FailedPrecondition``, ``NotFound``, ``Aborted``...) are the API
client's, exactly as with ``WriteBatch.commit``. Values of a type this module does not encode
itself (references, ``GeoPoint``, BSON types...) go through the client's ``encode_value``.
"""

from __future__ import annotations

import datetime
from typing import Any

from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud._helpers import _datetime_to_pb_timestamp  # type: ignore[attr-defined]
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.types import common, document, firestore, write

_Value = document.Value.pb()
_ArrayValue = document.ArrayValue.pb()
_Write = write.Write.pb()
_FieldTransform = write.DocumentTransform.FieldTransform.pb()
_CommitRequest = firestore.CommitRequest.pb()
_Precondition = common.Precondition.pb()
_REQUEST_TIME = write.DocumentTransform.FieldTransform.ServerValue.REQUEST_TIME


def fill_value(pb: Any, value: Any) -> None:
    """Set the raw ``Value`` ``pb`` to ``value``, as ``_helpers.encode_value`` encodes it."""
    if value is None:
        pb.null_value = 0
    elif isinstance(value, bool):
        pb.boolean_value = value
    elif isinstance(value, int):
        pb.integer_value = value
    elif isinstance(value, float):
        pb.double_value = value
    elif isinstance(value, DatetimeWithNanoseconds):
        pb.timestamp_value.CopyFrom(value.timestamp_pb())  # type: ignore[no-untyped-call]
    elif isinstance(value, datetime.datetime):
        pb.timestamp_value.CopyFrom(_datetime_to_pb_timestamp(value))  # type: ignore[no-untyped-call]
    elif isinstance(value, str):
        pb.string_value = value
    elif type(value) is bytes:
        pb.bytes_value = value
    elif type(value) in (list, tuple):
        array = pb.array_value
        array.SetInParent()
        for element in value:
            fill_value(array.values.add(), element)
    elif type(value) is dict:
        fields = pb.map_value.fields
        pb.map_value.SetInParent()
        for key, item in value.items():
            fill_value(fields[key], item)
    else:
        pb.CopyFrom(_helpers.encode_value(value)._pb)


def _array(values: Any) -> Any:
    array = _ArrayValue()
    for element in values:
        fill_value(array.values.add(), element)
    return array


def _field_transforms(extractor: Any) -> list[Any]:
    """``DocumentExtractor.get_field_transform_pbs`` with raw messages, in its order."""
    made: list[tuple[Any, Any]] = []
    for path in extractor.server_timestamps:
        made.append((path, _FieldTransform(field_path=path.to_api_repr(),
                                           set_to_server_value=_REQUEST_TIME)))
    for path, values in extractor.array_removes.items():
        made.append((path, _FieldTransform(field_path=path.to_api_repr(),
                                           remove_all_from_array=_array(values))))
    for path, values in extractor.array_unions.items():
        made.append((path, _FieldTransform(field_path=path.to_api_repr(),
                                           append_missing_elements=_array(values))))
    for kind, found in (("increment", extractor.increments), ("maximum", extractor.maximums),
                        ("minimum", extractor.minimums)):
        for path, value in found.items():
            transform = _FieldTransform(field_path=path.to_api_repr())
            fill_value(getattr(transform, kind), value)
            made.append((path, transform))
    made.sort(key=lambda pair: pair[0])
    return [transform for _, transform in made]


def _update_write(path: str, extractor: Any, mask: list[str] | None) -> Any:
    pb = _Write()
    pb.update.name = path
    fields = pb.update.fields
    for key, value in extractor.set_fields.items():
        fill_value(fields[key], value)
    if mask is not None:
        pb.update_mask.SetInParent()
        pb.update_mask.field_paths.extend(mask)
    return pb


def _precondition(pb: Any, option: Any) -> None:
    """``WriteOption.modify_write`` on a raw ``Write``. A ``last_update_time`` goes through
    the client's own ``modify_write`` (one proto-plus ``Precondition``): its marshalling keeps
    microseconds only, which the server must see unchanged."""
    if isinstance(option, _helpers.ExistsOption):
        pb.current_document.exists = option._exists
    else:
        option.modify_write(write.Write.wrap(pb))


def write_for_create(path: str, data: dict[str, Any]) -> Any:
    extractor = _helpers.DocumentExtractor(data)
    if extractor.deleted_fields:
        raise ValueError("Cannot apply DELETE_FIELD in a create request.")
    pb = _update_write(path, extractor, None)
    pb.current_document.exists = False
    if extractor.has_transforms:
        pb.update_transforms.extend(_field_transforms(extractor))
    return pb


def write_for_set(path: str, data: dict[str, Any], merge: Any = False) -> Any:
    if merge is False:
        extractor = _helpers.DocumentExtractor(data)
        if extractor.deleted_fields:
            raise ValueError(
                "Cannot apply DELETE_FIELD in a set request without "
                "specifying 'merge=True' or 'merge=[field_paths]'.")
        pb = _update_write(path, extractor, None)
        if extractor.has_transforms:
            pb.update_transforms.extend(_field_transforms(extractor))
        return pb
    merging = _helpers.DocumentExtractorForMerge(data)
    merging.apply_merge(merge)
    mask = [p.to_api_repr() for p in merging.merge if p not in merging.transform_merge]
    pb = _update_write(path, merging, mask)
    if merging.transform_paths:
        pb.update_transforms.extend(_field_transforms(merging))
    return pb


def write_for_update(path: str, updates: dict[str, Any], option: Any = None) -> Any:
    extractor = _helpers.DocumentExtractorForUpdate(updates)
    if extractor.empty_document:
        raise ValueError("Cannot update with an empty document.")
    transform_paths = extractor.transform_paths
    mask = [p.to_api_repr() for p in extractor.top_level_paths if p not in transform_paths]
    pb = _update_write(path, extractor, mask)
    _precondition(pb, option if option is not None else _helpers.ExistsOption(exists=True))
    if extractor.has_transforms:
        pb.update_transforms.extend(_field_transforms(extractor))
    return pb


def write_for_delete(path: str, option: Any = None) -> Any:
    pb = _Write(delete=path)
    if option is not None:
        _precondition(pb, option)
    return pb


class RawBatch:
    """``WriteBatch``'s writing methods and ``commit``, building raw protobuf writes."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._write_pbs: list[Any] = []

    def __len__(self) -> int:
        return len(self._write_pbs)

    def create(self, reference: Any, document_data: dict[str, Any]) -> None:
        self._write_pbs.append(write_for_create(reference._document_path, document_data))

    def set(self, reference: Any, document_data: dict[str, Any], merge: Any = False) -> None:
        self._write_pbs.append(write_for_set(reference._document_path, document_data, merge))

    def update(self, reference: Any, field_updates: dict[str, Any], option: Any = None) -> None:
        if option.__class__.__name__ == "ExistsOption":
            raise ValueError("you must not pass an explicit write option to update.")
        self._write_pbs.append(write_for_update(reference._document_path, field_updates,
                                                option))

    def delete(self, reference: Any, option: Any = None) -> None:
        self._write_pbs.append(write_for_delete(reference._document_path, option))

    def commit(self, retry: Any, timeout: float | None) -> list[Any]:
        """One ``Commit`` of the staged writes; the write results, as ``WriteBatch``'s."""
        client = self._client
        request = _CommitRequest(database=client._database_string, writes=self._write_pbs)
        response = client._firestore_api.commit(
            request=firestore.CommitRequest.wrap(request), metadata=client._rpc_metadata,
            **_helpers.make_retry_timeout_kwargs(retry, timeout))
        self._write_pbs = []
        return list(response.write_results)


def batch(client: Any) -> RawBatch:
    return RawBatch(client)
