"""The API error the emulator raises; the gRPC layer turns it into a status via abort()."""

from __future__ import annotations

import grpc


class ApiError(Exception):
    """An error with the gRPC status code the real service would answer with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def not_found(message: str = "Requested entity was not found.") -> ApiError:
    """NOT_FOUND, worded like the service."""
    return ApiError(grpc.StatusCode.NOT_FOUND, message)


def invalid(message: str) -> ApiError:
    """INVALID_ARGUMENT."""
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def already_exists(message: str = "Requested entity already exists") -> ApiError:
    """ALREADY_EXISTS, worded like the service."""
    return ApiError(grpc.StatusCode.ALREADY_EXISTS, message)
