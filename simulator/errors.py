"""vLLM's errors: the exception that carries one and the JSON of its two shapes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

# The two shapes: checks in the request model arrive through FastAPI's RequestValidationError
# handler (type "Bad Request", a pydantic-style message), checks made while serving go through
# create_error_response (type "BadRequestError", message with the "(parameter=…, value=…)"
# suffix of VLLMValidationError).

_ERROR_TYPES = {
    400: "BadRequestError",
    404: "NotFoundError",
    422: "UnprocessableEntityError",
    500: "InternalServerError",
    501: "NotImplementedError",
    503: "ServiceUnavailableError",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, err_type: str, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.err_type = err_type
        self.param = param

    def payload(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.err_type,
                "param": self.param,
                "code": self.status,
            }
        }


class Repr:
    """Prints as given inside str(dict), as an exception object does in pydantic's errors."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _with_suffix(message: str, parameter: str | None = None, value: Any = None) -> str:
    extras = []
    if parameter is not None:
        extras.append(f"parameter={parameter}")
    if value is not None:
        extras.append(f"value={value}")
    return f"{message} ({', '.join(extras)})" if extras else message


def serving_error(message: str, parameter: str | None = None, value: Any = None) -> ApiError:
    return ApiError(400, _with_suffix(message, parameter, value), "BadRequestError", parameter)


def _summarize(value: Any) -> Any:
    """vLLM's bounded stand-in for an error's `input`."""
    if isinstance(value, str):
        return value[:200] + "...[truncated]" if len(value) > 200 else value
    if isinstance(value, list | tuple | set | dict):
        return f"<{type(value).__name__} of {len(value)} items>"
    text = str(value)
    return text[:200] + "...[truncated]" if len(text) > 200 else text


def validation_error(errors: list[Any], param: str | None = None) -> ApiError:
    if param is None and errors and isinstance(errors[0], dict):
        param = errors[0]["loc"]
    label = "error" if len(errors) == 1 else "errors"
    message = f"{len(errors)} validation {label}:\n" + "".join(f"  {e}\n" for e in errors)
    return ApiError(400, message.rstrip(), "Bad Request", param)


def field_error(kind: str, loc: str, msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    error = {"type": kind, "loc": loc, "msg": msg, "input": _summarize(value)}
    if ctx:
        error["ctx"] = ctx
    return error


def validator_error(
    body: dict, message: str, parameter: str | None = None, value: Any = None
) -> ApiError:
    error = {
        "type": "value_error",
        "loc": "body",
        "msg": f"Value error, {_with_suffix(message, parameter, value)}",
        "input": _summarize(body),
        "ctx": {"error": Repr(f"VLLMValidationError({message!r})")},
    }
    return validation_error([error], param=parameter)


def status_error(status: int, message: str) -> ApiError:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return ApiError(status, message, _ERROR_TYPES.get(status, phrase), None)
