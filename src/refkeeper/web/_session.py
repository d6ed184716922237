"""Sign-in and sign-out. With editor accounts: name and password (argon2, ``_editors``).
On 127.0.0.1 with no accounts: the name to record in history, typed once per session."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .._editors import check_password, count_editors
from ._pages import call, flash, form, redirect, render
from ._security import csrf_token


def _safe_next(value: str | None) -> str:
    # Only a path on this desk: never an open redirect to another site.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


async def signin_page(request: Request):
    accounts = await call(request, count_editors)
    return render(request, "signin.html", {"accounts": accounts > 0, "next": _safe_next(
        request.query_params.get("next")), "error": None, "name": None})


async def signin(request: Request):
    data = await form(request)
    name = " ".join(data.get("name", "").split())
    nxt = _safe_next(data.get("next"))
    accounts = await call(request, count_editors)
    if accounts:
        editor = await call(request, check_password, name, data.get("password", ""))
        if editor is None:
            # The name is kept (a typo in the password is the usual slip); never the password.
            return render(request, "signin.html", {"accounts": True, "next": nxt, "name": name[:100],
                                                   "error": "Wrong name or password."}, status=400)
        name = editor.name
    elif not name or len(name) > 100:
        return render(request, "signin.html", {"accounts": False, "next": nxt, "name": name[:100],
                                               "error": "Type the name to record in history."}, status=400)
    request.session.clear()  # a fresh session (and CSRF token) for whoever signs in
    request.session["editor"] = name
    request.session["signed_in"] = bool(accounts)
    csrf_token(request.session)
    flash(request, f"Signed in as {name}.")
    return redirect(nxt)


async def signout(request: Request):
    request.session.clear()
    return redirect("/signin")


routes = [
    Route("/signin", signin_page, methods=["GET"]),
    Route("/signin", signin, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
]
