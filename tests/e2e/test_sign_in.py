"""A shared dashboard: with sign-in on, nothing shows before a user added with `slmops users add` signs in, and what
they make records their name; served beyond this machine without sign-in, the app refuses to show anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_browser import _require_browser
from tests.support.app_server import browser_page, running_app

pytestmark = pytest.mark.e2e


def test_sign_in_guards_every_page_and_names_what_a_user_makes(slmops_home: Path, tmp_path: Path, monkeypatch):
    from playwright.sync_api import expect

    from slmops_engine.data import list_datasets
    from slmops_engine.users import add_user

    _require_browser()
    add_user("ada", "correct horse battery")
    monkeypatch.setenv("SLMOPS_SIGN_IN", "1")
    with running_app(slmops_home, tmp_path / "streamlit.log") as (url, _), browser_page() as page:
        page.goto(f"{url}/data")
        expect(page.get_by_text("Sign in to SLMOps Studio")).to_be_visible()
        expect(page.get_by_role("heading", name="Data")).to_have_count(0)  # no page before sign-in
        page.get_by_role("textbox", name="Name").fill("ada")
        page.get_by_role("textbox", name="Password").fill("wrong password")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Wrong name or password.")).to_be_visible()
        expect(page.get_by_role("heading", name="Data")).to_have_count(0)

        page.get_by_role("textbox", name="Password").fill("correct horse battery")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Signed in as ada")).to_be_visible()
        page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Home").click()
        page.get_by_label("Project name").fill("shared")
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_role("heading", name="shared")).to_be_visible()
        page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Data").click()
        page.get_by_text("The sample dataset").click()
        page.get_by_role("button", name="Load the sample dataset").click()
        expect(page.get_by_text("Loaded “Brightwave support routing (sample)”", exact=False)).to_be_visible()
        [dataset] = list_datasets(1)
        assert dataset.created_by == "ada"  # the signed-in person, not the account the server runs as

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("Sign in to SLMOps Studio")).to_be_visible()


def test_served_beyond_this_machine_without_sign_in_it_shows_nothing(slmops_home: Path, tmp_path: Path):
    from playwright.sync_api import expect

    _require_browser()
    with running_app(slmops_home, tmp_path / "streamlit.log", address="0.0.0.0") as (url, _), browser_page() as page:
        page.goto(url)
        expect(page.get_by_text("This dashboard is reachable beyond this machine")).to_be_visible()
        expect(page.get_by_label("Project name")).to_have_count(0)
