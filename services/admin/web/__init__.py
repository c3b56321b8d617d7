"""The web inspector: static pages under ``/admin/ui/`` that call the admin API from the browser.

The pages are plain HTML with one stylesheet and one script (``static/``), all served by this process:
nothing comes from another origin, so the inspector works with no internet access. The browser keeps the
token the user pastes (admin or ``tenant:<name>``) in ``sessionStorage`` and sends it as
``Authorization: Bearer`` with every API call; the pages themselves hold no data and need no token, so
serving them is not authenticated (the API is). A tenant token sees only its tenant because the API
answers only that.

Every page is sent with a strict Content-Security-Policy (scripts, styles and fetches from this origin
only, no inline script or style, no framing, no forms to elsewhere); the script only ever writes data
as text (``textContent``), since bodies and headers come from webhook senders.
"""

from hookgate.admin.web.pages import CONTENT_SECURITY_POLICY, PAGES, UI_PREFIX, add_inspector_pages

__all__ = ["CONTENT_SECURITY_POLICY", "PAGES", "UI_PREFIX", "add_inspector_pages"]
