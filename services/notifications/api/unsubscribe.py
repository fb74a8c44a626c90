"""The one-click unsubscribe (RFC 8058): no login, the link's token is the credential.

``GET`` shows a page that asks to confirm (mail scanners and previews fetch links: a GET must not
unsubscribe); ``POST`` (the mail client's one-click ``List-Unsubscribe=One-Click``, or the page's
button) mutes the topic for the contact's e-mail. The page is in French and Dutch, both, since the
link does not say which one the reader prefers without looking the contact up.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse

from services.runtime.http import api_router
from services.runtime.uow import Context, UnitOfWork

from ..handlers import contacts
from ..repository import NotificationsRepository

router = api_router(tags=["unsubscribe"])
Token = Annotated[str, Path(min_length=5, max_length=120, pattern=r"^[0-9]+\.[A-Za-z:*]+\.[A-Za-z0-9_=-]+$")]

PAGE = """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}}
button{{font-size:1rem;padding:.6rem 1.2rem;background:#0b4f8a;color:#fff;border:0;border-radius:4px;cursor:pointer}}
button:focus{{outline:3px solid #f0b400;outline-offset:2px}}</style></head>
<body><main>{body}</main></body></html>"""


async def as_the_link(request: Request) -> UnitOfWork[NotificationsRepository]:
    """A unit of work for a public route whose credential is the link itself: the system acts."""
    uow: UnitOfWork[NotificationsRepository] = request.app.state.runtime.unit_of_work(Context.system())
    return uow


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


@router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="The page of a one-click unsubscribe link: asks to confirm (no login)",
)
async def get_unsubscribe(token: Token) -> HTMLResponse:
    action = html.escape(f"/unsubscribe/{token}")
    return page(
        "Se désabonner — Uitschrijven",
        f"""<h1>Se désabonner <span lang="nl">/ Uitschrijven</span></h1>
<p>Ne plus recevoir ces messages par e-mail ?</p>
<p lang="nl">Deze berichten niet meer per e-mail ontvangen?</p>
<form method="post" action="{action}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Me désabonner <span lang="nl">/ Mij uitschrijven</span></button></form>
<p>Les messages critiques (vos échéances, vos réunions) restent envoyés.
<span lang="nl">Kritieke berichten (uw deadlines, uw vergaderingen) worden nog verstuurd.</span></p>""",
    )


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="One-click unsubscribe (RFC 8058 List-Unsubscribe-Post): no login, the token is the credential",
    responses={404: {"description": "Not a genuine link, or its contact was erased", "content": {"text/html": {}}}},
)
async def post_unsubscribe(
    token: Token, uow: UnitOfWork[NotificationsRepository] = Depends(as_the_link)
) -> HTMLResponse:
    done = await contacts.unsubscribe(uow, token)
    if done is None:
        return page(
            "Lien inconnu — Onbekende link",
            '<h1>Lien inconnu <span lang="nl">/ Onbekende link</span></h1>'
            '<p>Ce lien n\'est pas (ou plus) valable.</p><p lang="nl">Deze link is niet (meer) geldig.</p>',
            404,
        )
    return page(
        "Désabonné — Uitgeschreven",
        '<h1>C\'est fait <span lang="nl">/ Gedaan</span></h1>'
        "<p>Vous ne recevrez plus ces messages par e-mail.</p>"
        '<p lang="nl">U ontvangt deze berichten niet meer per e-mail.</p>',
    )
