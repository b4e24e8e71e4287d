"""The Snaproom web app in a real browser (Debian's chromium) against the gateway on the real
stack (PostgreSQL, Redis Sentinel, Kafka): what a person does, and what they see."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.web_app import (
    SESSION_COOKIE,
    api_connect,
    api_send,
    api_signup,
    bearer,
    session_cookie,
)

expect.set_options(timeout=15_000)

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-battery"


def sign_up(page, app, username: str) -> None:
    page.goto(app.url)
    page.get_by_role("tab", name="Create an account").click()
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_test_id("signed-in-username")).to_have_text(username)


def open_signed_in(new_page, app, token: str, path: str = "#/profile"):
    """A browser holding the session cookie of `token`, on the app at `path`."""
    page = new_page()
    page.context.add_cookies([session_cookie(app.api_url, token)])
    page.goto(f"{app.url}/{path}")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_text("Live", exact=True)).to_be_visible()  # the socket is open
    return page


def shot(page, screenshot_dir, name: str) -> None:
    page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)


def test_signup_opens_the_shell_and_the_session_is_a_cookie_scripts_cannot_read(
        web_app, new_page, unique, screenshot_dir):
    page = new_page()
    page.goto(web_app.url)
    page.get_by_role("tab", name="Create an account").click()
    page.get_by_label("Email").fill(f"ann_{unique}@example.com")
    page.get_by_label("Username").fill(f"ann_{unique}")
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, screenshot_dir, "01-signup")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_test_id("signed-in-username")).to_have_text(f"ann_{unique}")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    shot(page, screenshot_dir, "02-profile")

    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] is True
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    stored = page.evaluate("JSON.stringify([Object.assign({}, localStorage), Object.assign({}, sessionStorage)])")
    assert cookie["value"] not in stored

    page.reload()  # the cookie alone signs the person in again
    expect(page.get_by_test_id("signed-in-username")).to_have_text(f"ann_{unique}")


def test_a_profile_edit_is_seen_by_another_user_from_the_people_list(
        web_app, new_page, unique, screenshot_dir):
    alice, alice_token = api_signup(web_app.api_url, f"alice_{unique}")
    _bob, bob_token = api_signup(web_app.api_url, f"bob_{unique}")

    page_a = open_signed_in(new_page, web_app, alice_token, "#/profile")
    page_a.get_by_role("button", name="Edit profile").click()
    page_a.get_by_label("Display name").fill(f"Alice Liddell {unique}")
    page_a.get_by_label("Bio").fill("Curiouser and curiouser.")
    shot(page_a, screenshot_dir, "03-profile-edit")
    page_a.get_by_role("button", name="Save").click()
    expect(page_a.get_by_test_id("profile-display-name")).to_have_text(f"Alice Liddell {unique}")
    expect(page_a.get_by_role("status").filter(has_text="Profile saved.")).to_be_visible()

    page_b = open_signed_in(new_page, web_app, bob_token, "#/users")
    page_b.get_by_label("Search people").fill(f"alice_{unique}")
    row = page_b.get_by_test_id(f"person-alice_{unique}")
    expect(row).to_contain_text(f"Alice Liddell {unique}")
    expect(row).to_contain_text("online")  # Alice's tab holds a socket
    expect(page_b.get_by_test_id(re.compile(r"^person-"))).to_have_count(1)
    shot(page_b, screenshot_dir, "04-people-search")
    row.get_by_role("link", name=f"Alice Liddell {unique}").click()
    expect(page_b.get_by_test_id("user-display-name")).to_have_text(f"Alice Liddell {unique}")
    expect(page_b.get_by_test_id("user-bio")).to_have_text("Curiouser and curiouser.")
    assert page_b.url.endswith(f"#/users/{alice['id']}")
    shot(page_b, screenshot_dir, "05-user-profile")


def test_a_connection_request_arrives_live_and_its_acceptance_reaches_the_requester(
        web_app, new_page, unique, screenshot_dir):
    _alice, alice_token = api_signup(web_app.api_url, f"alice_{unique}")
    bob, bob_token = api_signup(web_app.api_url, f"bob_{unique}")
    page_b = open_signed_in(new_page, web_app, bob_token, "#/connections")
    expect(page_b.get_by_text("No requests waiting for you.")).to_be_visible()

    page_a = open_signed_in(new_page, web_app, alice_token, f"#/users/{bob['id']}")
    page_a.get_by_role("button", name="Connect").click()
    expect(page_a.get_by_text("Request sent")).to_be_visible()

    incoming = page_b.get_by_test_id(f"incoming-alice_{unique}")  # no reload: pushed
    expect(incoming.get_by_role("button", name="Accept")).to_be_visible()
    expect(incoming.get_by_role("button", name="Reject")).to_be_visible()
    expect(page_b.get_by_test_id("unread-count")).to_have_text("1")
    shot(page_b, screenshot_dir, "06-connections-incoming")
    incoming.get_by_role("button", name="Accept").click()
    expect(page_b.get_by_test_id(f"connection-alice_{unique}")).to_be_visible()
    expect(page_b.get_by_text("No requests waiting for you.")).to_be_visible()

    # Alice's open profile of Bob turns "Request sent" into "Message" by itself.
    expect(page_a.get_by_role("link", name="Message")).to_be_visible()
    page_a.get_by_role("link", name="Connections").click()
    expect(page_a.get_by_test_id(f"connection-bob_{unique}")).to_be_visible()
    expect(page_a.get_by_text("No pending requests from you.", exact=False)).to_be_visible()
    shot(page_a, screenshot_dir, "07-connections")


def test_messages_flow_both_ways_in_real_time_and_older_pages_load(
        web_app, new_page, unique, screenshot_dir):
    alice, alice_token = api_signup(web_app.api_url, f"alice_{unique}")
    bob, bob_token = api_signup(web_app.api_url, f"bob_{unique}")
    api_connect(web_app.api_url, alice_token, bob_token, bob["id"])
    for n in range(24):  # more than the first page (20)
        api_send(web_app.api_url, alice_token, bob["id"], f"earlier message {n}")

    page_a = open_signed_in(new_page, web_app, alice_token, f"#/chat/{bob['id']}")
    page_b = open_signed_in(new_page, web_app, bob_token, f"#/chat/{alice['id']}")
    messages_a = page_a.get_by_test_id("messages")
    expect(messages_a.get_by_text("earlier message 23", exact=True)).to_be_visible()
    expect(messages_a.get_by_text("earlier message 0", exact=True)).to_have_count(0)
    expect(page_a.get_by_role("button", name="Load older messages")).to_be_attached()
    messages_a.evaluate("el => { el.scrollTop = 0; }")  # scrolling up loads the older page
    expect(messages_a.get_by_text("earlier message 0", exact=True)).to_be_attached()
    expect(page_a.get_by_role("button", name="Load older messages")).to_have_count(0)

    page_a.get_by_label("Message").fill(f"Hello Bob, {unique}")
    page_a.get_by_role("button", name="Send").click()
    expect(page_b.get_by_test_id("messages").get_by_text(f"Hello Bob, {unique}")).to_be_visible()

    page_b.get_by_label("Message").fill(f"Hi Alice! {unique}")
    page_b.get_by_role("button", name="Send").click()
    expect(messages_a.get_by_text(f"Hi Alice! {unique}")).to_be_visible()
    expect(page_b.get_by_test_id("messages").get_by_text(f"Hi Alice! {unique}")).to_have_count(1)
    shot(page_a, screenshot_dir, "08-chat")
    shot(page_b, screenshot_dir, "09-chat-other-side")


def wait_offline(api_url: str, token: str, user_id: int) -> None:
    """Until the gateway counts `user_id` offline (their last socket closed)."""
    for _ in range(300):
        answer = httpx.get(f"{api_url}/api/presence", params={"user_ids": str(user_id)},
                           headers=bearer(token), timeout=10)
        assert answer.status_code == 200, answer.text
        if not answer.json()[str(user_id)]["online"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"user {user_id} is still online after their tab closed")


def test_notifications_count_live_show_toasts_and_hold_what_came_while_offline(
        web_app, new_page, unique, screenshot_dir):
    _alice, alice_token = api_signup(web_app.api_url, f"alice_{unique}")
    bob, bob_token = api_signup(web_app.api_url, f"bob_{unique}")
    _carol, carol_token = api_signup(web_app.api_url, f"carol_{unique}")
    api_connect(web_app.api_url, alice_token, bob_token, bob["id"])

    page_b = open_signed_in(new_page, web_app, bob_token, "#/profile")
    expect(page_b.get_by_test_id("unread-count")).to_have_text("1")  # Alice's request

    # A message for a conversation that is not open: a toast with its text.
    api_send(web_app.api_url, alice_token, bob["id"], f"Are you there? {unique}")
    toast = page_b.get_by_label("Alerts").get_by_role("status")
    expect(toast.filter(has_text=f"Are you there? {unique}")).to_be_visible()
    shot(page_b, screenshot_dir, "10-message-toast")

    # A connection request: the unread count goes up by itself.
    httpx.post(f"{web_app.api_url}/api/connections", json={"to_user_id": bob["id"]},
               headers=bearer(carol_token), timeout=15).raise_for_status()
    expect(page_b.get_by_test_id("unread-count")).to_have_text("2")
    page_b.get_by_role("link", name=re.compile("^Notifications")).click()
    item = page_b.get_by_test_id("notification").filter(has_text=f"carol_{unique}")
    expect(item).to_contain_text("sent you a connection request")
    shot(page_b, screenshot_dir, "11-notifications")
    item.get_by_role("button", name="Mark read").click()
    expect(page_b.get_by_test_id("unread-count")).to_have_text("1")
    expect(item.get_by_role("button", name="Mark read")).to_have_count(0)

    # While Bob has no tab open, a message becomes a notification he finds later.
    page_b.context.close()
    wait_offline(web_app.api_url, alice_token, bob["id"])
    api_send(web_app.api_url, alice_token, bob["id"], f"Call me back {unique}")
    page_b2 = open_signed_in(new_page, web_app, bob_token, "#/notifications")
    missed = page_b2.get_by_test_id("notification").filter(has_text=f"Call me back {unique}")
    expect(missed).to_contain_text("sent you a message")
    expect(page_b2.get_by_test_id("unread-count")).to_have_text("2")


def test_log_out_ends_the_session_and_log_in_starts_a_new_one(
        web_app, new_page, unique, screenshot_dir):
    page = new_page()
    sign_up(page, web_app, f"dora_{unique}")
    old_token = next(c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    me = httpx.get(f"{web_app.api_url}/api/auth/me", headers=bearer(old_token), timeout=10)
    assert me.status_code == 401

    page.get_by_label("Email").fill(f"dora_{unique}@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid")
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, screenshot_dir, "12-login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("signed-in-username")).to_have_text(f"dora_{unique}")


def test_while_the_gateway_is_down_the_app_says_so_and_recovers_without_a_reload(
        own_web_app, new_page, unique, screenshot_dir):
    app = own_web_app
    alice, alice_token = api_signup(app.api_url, f"alice_{unique}")
    bob, bob_token = api_signup(app.api_url, f"bob_{unique}")
    api_connect(app.api_url, alice_token, bob_token, bob["id"])
    page = open_signed_in(new_page, app, alice_token, f"#/chat/{bob['id']}")
    expect(page.get_by_text("No messages yet. Say hello!")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    app.gateway.stop()
    unreachable = page.get_by_role("alert").filter(has_text="Cannot reach the Snaproom gateway")
    expect(page.get_by_text("Live updates paused: reconnecting…")).to_be_visible()
    expect(unreachable.first).to_be_visible()  # the banner, and under a form that failed
    page.get_by_label("Message").fill("sent into the void")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("region", name=re.compile("^Conversation with")).get_by_role(
        "alert").filter(has_text="Cannot reach the Snaproom gateway")).not_to_have_count(0)
    shot(page, screenshot_dir, "13-gateway-down")

    app.gateway.start()
    # Sent as soon as the gateway answers: it comes over the reconnected socket, or from the
    # refetch that follows the reconnect. Either way, on screen without a reload.
    api_send(app.api_url, bob_token, alice["id"], f"Back online {unique}")
    expect(page.get_by_test_id("messages").get_by_text(f"Back online {unique}")).to_be_visible()
    expect(unreachable).to_have_count(0)
    expect(page.get_by_text("Live updates paused: reconnecting…")).to_have_count(0)
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    page.get_by_role("button", name="Send").click()  # the text typed while it was down
    expect(page.get_by_test_id("messages").get_by_text("sent into the void")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    shot(page, screenshot_dir, "14-gateway-recovered")
