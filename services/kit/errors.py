"""API errors as data: a code, params and a status; rendered in the caller's language."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.kit.i18n import negotiate, translate

log = logging.getLogger("relais.http")


class ApiError(Exception):
    def __init__(self, status: int, code: str, *, details: Any = None, **params: object) -> None:
        super().__init__(code)
        self.status, self.code, self.params, self.details = status, code, params, details


def request_lang(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))


def _body(request: Request, code: str, details: Any = None, **params: object) -> dict[str, Any]:
    lang = negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))
    error: dict[str, Any] = {"code": code, "message": translate(code, lang, **params)}
    if details is not None:
        error["details"] = details
    return {"error": error}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            _body(request, exc.code, exc.details, **exc.params), status_code=exc.status
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "problem": err["msg"]}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{f['field'] or 'corps'} : {f['problem']}" for f in fields)
        return JSONResponse(_body(request, "validation", fields, summary=summary), status_code=422)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", ref, request.method, request.url.path)
        return JSONResponse(_body(request, "internal", ref=ref), status_code=500)
