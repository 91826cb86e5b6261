"""data·inclusion exports and imports, the operators' CSV import, HSDS-shaped reads.

Exports and HSDS reads are public (no personal data). Imports need a token of an operator
of the network, or the platform admin key. `POST /v1/imports/csv` answers the report (201
when something was imported, 422 when nothing could be, 200 when everything was already
there); with `Accept: application/x-ndjson` it streams one JSON line per written row
(`{"event": "progress", "done", "total"}`) and ends with `{"event": "report", "status",
"report"}`, so a client can show a progress bar. The import goes on if the client leaves.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from email.parser import BytesParser
from email.policy import default as email_policy
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from services.directory.api.deps import Actor, Settings
from services.directory.interchange import csv_format, hsds
from services.directory.interchange.csv_import import import_csv
from services.directory.interchange.data_inclusion import (
    export_services,
    export_structures,
    live_offers,
)
from services.directory.interchange.data_inclusion_import import (
    DataInclusionImport,
    import_data_inclusion,
)
from services.directory.interchange.report import ImportContext, ImportReport, check_can_import
from services.directory.models import Network
from services.kit.auth import Principal
from services.kit.errors import ApiError
from services.kit.http import RuntimeDep, SessionDep
from services.kit.i18n import translate
from services.kit.runtime import ServiceRuntime

log = logging.getLogger("relais.directory.interchange")
router = APIRouter(tags=["interchange"])
MAX_CSV_BYTES = 5 * 1024 * 1024
NDJSON = "application/x-ndjson"
NetworkQuery = Annotated[str | None, Query(description="network id (default: all)")]
_running: set[asyncio.Task[None]] = set()


async def _check_network(session: SessionDep, network: str | None) -> None:
    if network and await session.get(Network, network) is None:
        raise ApiError(404, "not_found", what="Réseau", id=network)


@router.get("/v1/exports/data-inclusion/structures")
async def export_di_structures(
    session: SessionDep, settings: Settings, network: NetworkQuery = None
) -> list[dict[str, Any]]:
    """Active members as data·inclusion v1 structures (valid against the official package)."""
    await _check_network(session, network)
    return await export_structures(session, network_id=network, base_url=settings.base_url)


@router.get("/v1/exports/data-inclusion/services")
async def export_di_services(
    session: SessionDep, settings: Settings, network: NetworkQuery = None
) -> list[dict[str, Any]]:
    """Published offers as data·inclusion v1 services (a région becomes its départements)."""
    await _check_network(session, network)
    return await export_services(session, network_id=network, base_url=settings.base_url)


@router.get("/v1/hsds/services")
async def hsds_services(
    session: SessionDep,
    settings: Settings,
    network: NetworkQuery = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Published offers as Open Referral HSDS 3 services, paginated as the HSDS API says."""
    await _check_network(session, network)
    rows, total = await live_offers(session, network, limit=per_page, offset=(page - 1) * per_page)
    return hsds.page(
        rows, total=total, page_number=page, per_page=per_page, base_url=settings.base_url
    )


async def _context(runtime: ServiceRuntime, who: Principal, network_id: str) -> ImportContext:
    async with runtime.db.session() as session:
        await check_can_import(session, who, network_id)
    return ImportContext(runtime.db.session, who, runtime.emit, runtime.clock, network_id)


def _answer(report: ImportReport) -> JSONResponse:
    return JSONResponse(report.model_dump(mode="json"), status_code=report.http_status)


@router.post(
    "/v1/imports/data-inclusion",
    response_model=ImportReport,
    responses={201: {"model": ImportReport}, 422: {"model": ImportReport}},
)
async def import_di(body: DataInclusionImport, who: Actor, runtime: RuntimeDep) -> JSONResponse:
    """data·inclusion structures and services into a network; a report per item."""
    ctx = await _context(runtime, who, body.network_id)
    return _answer(await import_data_inclusion(ctx, body))


async def _csv_text(request: Request) -> str:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_CSV_BYTES:
        raise _too_big()
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise _too_big()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        body = _uploaded_file(body, content_type)
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")  # spreadsheets on Windows


def _too_big() -> ApiError:
    return ApiError(413, "validation", summary="fichier de plus de 5 Mo : découpez-le")


def _uploaded_file(body: bytes, content_type: str) -> bytes:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=email_policy).parsebytes(head + body)
    if message.is_multipart():
        for part in message.iter_parts():
            if part.get_filename() or part.get_param("name", header="content-disposition") in (
                "file",
                "fichier",
            ):
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else b""
    raise ApiError(422, "validation", summary="aucun fichier dans le formulaire (champ « file »)")


@router.post(
    "/v1/imports/csv",
    response_model=ImportReport,
    responses={201: {"model": ImportReport}, 422: {"model": ImportReport}},
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def import_csv_route(
    request: Request,
    who: Actor,
    runtime: RuntimeDep,
    network: Annotated[str, Query(description="the network the structures join")],
) -> Any:
    """An operator's CSV of structures and offers (columns: `relais directory csv-modele`)."""
    ctx = await _context(runtime, who, network)
    text = await _csv_text(request)
    try:
        csv_format.read_rows(text)  # an unreadable file is a 422 before anything streams
    except csv_format.CsvFileError as exc:
        raise ApiError(422, "validation", summary=str(exc)) from None
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(_stream(ctx, text), media_type=NDJSON)
    return _answer(await import_csv(ctx, text))


async def _stream(ctx: ImportContext, text: str) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def progress(done: int, total: int) -> None:
        queue.put_nowait({"event": "progress", "done": done, "total": total})

    async def run() -> None:
        try:
            report = await import_csv(ctx, text, progress)
            dump = report.model_dump(mode="json")
            queue.put_nowait({"event": "report", "status": report.http_status, "report": dump})
        except ApiError as exc:
            message = translate(exc.code, "fr", **exc.params)
            queue.put_nowait({"event": "error", "status": exc.status, "message": message})
        except Exception:
            log.exception("CSV import failed")
            queue.put_nowait({"event": "error", "status": 500, "message": "erreur interne"})
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(run(), name="csv-import")
    _running.add(task)  # keep a reference: the import finishes even if the client leaves
    task.add_done_callback(_running.discard)
    while (message := await queue.get()) is not None:
        yield (json.dumps(message, ensure_ascii=False) + "\n").encode()
