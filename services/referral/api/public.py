"""`/v1/public`: the porteur's own door (no token) — the self-referral form and the private link.

The link is a capability URL: whoever holds it acts for the porteur, so its answers are never
cached, never leak through a Referer, never get indexed, and its secret is masked in access
logs. Bodies are capped before they are parsed (413).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from services.kit.http import SessionDep
from services.kit.i18n import Lang, negotiate, translate
from services.kit.limits import body_limit_route
from services.referral.api.deps import UseCases
from services.referral.handlers import porteur
from services.referral.models import SelfReferralForm, SelfReferralReceipt

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


router = APIRouter(
    prefix="/v1/public",
    tags=["public"],
    route_class=body_limit_route(porteur.LIMITS.max_body_bytes),
)


def _lang(request: Request) -> Lang:
    return negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))


def _private(response: Response) -> None:
    response.headers.update(PRIVATE_HEADERS)


@router.post("/self-referrals", status_code=201, response_model=SelfReferralReceipt)
async def self_referral(
    body: SelfReferralForm,
    request: Request,
    response: Response,
    session: SessionDep,
    deps: UseCases,
) -> Any:
    """A porteur asks a member to contact them; the answer holds their private link (once)."""
    lang = _lang(request)
    try:
        receipt = await porteur.self_refer(
            session,
            body,
            client_address=request.client.host if request.client else "unknown",
            deps=deps,
            lang=lang,
        )
    except porteur.RateLimited as exc:
        return JSONResponse(
            {"error": {"code": exc.code, "message": translate(exc.code, lang, **exc.params)}},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_seconds), **PRIVATE_HEADERS},
        )
    _private(response)
    return receipt


@router.get("/requests/{secret}")
async def request_status(
    secret: str, request: Request, response: Response, session: SessionDep, deps: UseCases
) -> dict[str, Any]:
    """Where the request stands (French labels by default; `?lang=en`)."""
    _private(response)
    return await porteur.request_status(session, secret, deps=deps, lang=_lang(request))


@router.get("/requests/{secret}/data")
async def request_data(secret: str, session: SessionDep, deps: UseCases) -> JSONResponse:
    """Download everything held about the porteur, decrypted, as a JSON file."""
    data = await porteur.porteur_data(session, secret, deps=deps)
    return JSONResponse(
        jsonable_encoder(data),
        headers={
            "Content-Disposition": f'attachment; filename="relais-{data["reference"]}.json"',
            **PRIVATE_HEADERS,
        },
    )


@router.post("/requests/{secret}/withdraw-consent")
async def request_withdraw_consent(
    secret: str, request: Request, response: Response, session: SessionDep, deps: UseCases
) -> dict[str, Any]:
    """Withdraw consent: the request and any open orientation are cancelled."""
    await porteur.withdraw(session, secret, deps=deps)
    _private(response)
    return await porteur.request_status(session, secret, deps=deps, lang=_lang(request))


@router.post("/requests/{secret}/erase")
async def request_erase(
    secret: str, request: Request, response: Response, session: SessionDep, deps: UseCases
) -> dict[str, Any]:
    """Erase: consent withdrawn, then the project's key destroyed (crypto-shredding)."""
    await porteur.erase(session, secret, deps=deps)
    _private(response)
    return await porteur.request_status(session, secret, deps=deps, lang=_lang(request))


_LINK_IN_LOG = re.compile(r"(/v1/public/requests/)[A-Za-z0-9_-]+")


class MaskPorteurLinks(logging.Filter):
    """Access logs show `/v1/public/requests/***`, never a porteur's secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _LINK_IN_LOG.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _LINK_IN_LOG.sub(r"\1***", record.msg)
        return True


def mask_links_in_access_logs() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskPorteurLinks) for f in access.filters):
        access.addFilter(MaskPorteurLinks())
