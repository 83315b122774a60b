"""Helpers shared by the /docs browser tests (test_docs_*.py): open the page and an operation,
fill and submit the Authorize dialog, execute an operation and read what the page shows.

The page's structure these rely on (covet/openapi/assets/docs.js): each operation is a
``section.op`` whose id is its operationId, with a ``.op-toggle`` button (aria-expanded); its
"Try it out" area shows ``.result .status`` ("201 Created · 12 ms") and ``.result pre.body``; the
Authorize dialog holds one form per scheme and flow, named after the scheme.
"""
import json
import re
from typing import Dict, Optional

from playwright.sync_api import Locator, Page, expect


def open_docs(page: Page, url: str) -> None:
    """Load the docs page at ``url`` and wait until its operations are drawn."""
    page.goto(url)
    expect(page.locator("section.op").first).to_be_visible()


def open_op(page: Page, op_id: str) -> Locator:
    """Open the operation ``op_id`` (if closed) and give its section."""
    section = page.locator("section.op[id='%s']" % op_id)
    toggle = section.locator(".op-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    return section


def execute(section: Locator, status: int) -> str:
    """Press Execute, wait for the answer with ``status`` and give the body the page shows."""
    section.get_by_role("button", name=re.compile("^Execute")).click()
    expect(section.locator(".result .status")).to_have_text(re.compile(r"^%d \S.* \u00b7 \d+ ms$" % status))
    return section.locator(".result pre.body").inner_text()


def execute_json(section: Locator, status: int):
    return json.loads(execute(section, status))


def body_box(section: Locator) -> Locator:
    return section.get_by_role("textbox", name=re.compile(r"^Request body"))


def auth_dialog(page: Page) -> Locator:
    """Open the Authorize dialog from the header and give it."""
    page.locator("#cv-authorize").click()
    dialog = page.get_by_role("dialog", name="Available authorizations")
    expect(dialog).to_be_visible()
    return dialog


def scheme_form(dialog: Locator, name: str) -> Locator:
    return dialog.get_by_role("form", name=name, exact=True)


def scheme_section(dialog: Locator, name: str) -> Locator:
    return dialog.get_by_role("region", name=re.compile("^" + re.escape(name) + " "))


def authorize(page: Page, scheme: str, fields: Dict[str, str], form_name: Optional[str] = None) -> Locator:
    """Open the dialog, fill the form of ``scheme`` (``fields``: label -> value), submit it, wait
    until the scheme says Authorized, close the dialog; give the dialog."""
    dialog = auth_dialog(page)
    form = scheme_form(dialog, form_name or scheme)
    for label, value in fields.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name=re.compile("^Authorize")).click()
    expect(scheme_section(dialog, scheme).locator(".state")).to_have_text(re.compile("^Authorized"))
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    return dialog


def curl_text(section: Locator) -> str:
    return section.locator(".result pre.curl").inner_text()
