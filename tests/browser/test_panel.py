"""The control panel in a real Chromium, against real servers: what a scientist does with it."""

from __future__ import annotations

import enum
import io
import zipfile
from pathlib import Path
from typing import Annotated, Any

import httpx2
import msgspec
import pytest
from browsing import PHONE, WIDE, Serve, open_panel, screenshot
from example_rig import expected_view, mean_difference, rig_server
from PIL import Image
from playwright.sync_api import expect

import labthings_async as lt
from labthings_async.examples.microscope import Microscope

pytestmark = pytest.mark.browser

README = {"width": 1280, "height": 1000}
"""The window of the README's picture of the panel (docs/panel.png)."""

# The machine is shared and slow; each expectation may wait this long.
expect.set_options(timeout=20_000)


class Bench(lt.Thing):
    """Quick actions, to fill the invocation list."""

    @lt.action
    async def tick(self, n: int = 0) -> int:
        """Return at once."""
        return n

    @lt.action
    async def fail(self) -> None:
        """Fail at once."""
        raise ValueError("no sample loaded")


class Colour(enum.Enum):
    """A choice."""

    RED = "red"
    BLUE = "blue"


class Sample(msgspec.Struct, frozen=True):
    """A nested object."""

    name: str
    depth: Annotated[float, msgspec.Meta(ge=0)] = 1.0


class Recorder(lt.Thing):
    """An action taking every kind of input the form makes fields for."""

    @lt.action
    def record(
        self,
        count: Annotated[int, msgspec.Meta(ge=1, le=5)],
        colour: Colour,
        label: str,
        sample: Sample,
        note: str | None = None,
        fast: bool = False,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Echo what it was given."""
        return {
            "count": count,
            "colour": colour.value,
            "label": label,
            "sample": msgspec.to_builtins(sample),
            "note": note,
            "fast": fast,
            "tags": tags,
        }


def action_card(page: Any, name: str) -> Any:
    return page.locator(f".action[data-action={name}]")


def property_value(page: Any, thing: str, name: str) -> Any:
    return page.locator(f"#thing-{thing} .property[data-property={name}] output")


def property_box(page: Any, thing: str, name: str) -> Any:
    return page.locator(f"#thing-{thing} .property[data-property={name}]")


def microscope_url(serve: Serve, **things: lt.Thing) -> str:
    return serve(lt.ThingServer({"microscope": Microscope(), **things}))


def move_to(page: Any, x: str, y: str) -> Any:
    """Fill in and send the microscope's move_to form; returns the action's card."""
    card = action_card(page, "move_to")
    card.get_by_label("x").fill(x)
    card.get_by_label("y").fill(y)
    card.get_by_role("button", name="Invoke").click()
    return card


def test_the_panel_shows_each_thing_with_live_values_wide_and_on_a_phone(
    page: Any, serve: Serve
) -> None:
    url = microscope_url(serve)
    open_panel(page, f"{url}/")
    expect(page.get_by_role("heading", name="Microscope")).to_be_visible()
    expect(page.locator("#thing-microscope .description").first).to_have_text(
        "A simulated microscope with a motorised stage and a camera."
    )
    expect(property_value(page, "microscope", "speed")).to_have_text("500")
    expect(property_value(page, "microscope", "exposure")).to_have_text("normal")
    expect(property_value(page, "microscope", "position")).to_contain_text('"x": 0')
    expect(page.locator("#connection")).to_have_text("Live")
    screenshot(page, "panel-wide")
    page.set_viewport_size(PHONE)
    # Nothing wider than the phone's screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "panel-phone")
    screenshot(page, "panel-phone-full", full_page=True)


def test_invoking_from_the_form_shows_progress_reach_100_and_the_output(
    page: Any, serve: Serve
) -> None:
    url = microscope_url(serve)
    open_panel(page, f"{url}/")
    card = move_to(page, "300", "400")

    view = card.locator(".invocation-view")
    expect(view.locator(".status")).to_have_text("completed")
    expect(view.locator(".progress-text")).to_have_text("100% · step 20 of 20")
    assert view.locator("progress").evaluate("bar => bar.value") == 100
    expect(view.locator(".result pre")).to_contain_text('"x": 300')
    expect(view.locator(".log")).to_contain_text("arrived at")
    # The list shows it too, and the properties the move changed are read again.
    row = page.locator("#invocation-rows tr").first
    expect(row.locator(".status")).to_have_text("completed")
    expect(row).to_contain_text("move_to")
    expect(property_value(page, "microscope", "moves")).to_have_text("1")
    expect(property_value(page, "microscope", "position")).to_contain_text('"y": 400')
    view.scroll_into_view_if_needed()
    screenshot(page, "invocation-completed")


def test_cancelling_a_long_action_shows_cancelled(page: Any, serve: Serve) -> None:
    url = microscope_url(serve)
    open_panel(page, f"{url}/")
    card = move_to(page, "10000", "10000")
    view = card.locator(".invocation-view")
    expect(view.locator(".status")).to_have_text("running")
    expect(view.locator(".progress-text")).to_contain_text("step")
    view.get_by_role("button", name="Cancel").click()
    expect(view.locator(".status")).to_have_text("cancelled")
    expect(view.locator(".invocation-error")).to_contain_text("cancelled")
    expect(view.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(page.locator("#invocation-rows tr").first.locator(".status")).to_have_text("cancelled")


def test_an_invalid_value_shows_the_servers_error_beside_its_field(page: Any, serve: Serve) -> None:
    url = microscope_url(serve)
    open_panel(page, f"{url}/")
    card = action_card(page, "move_to")
    y = card.get_by_label("y")
    card.get_by_label("x").fill("1")
    y.fill("20000")
    card.get_by_role("button", name="Invoke").click()
    expect(y).to_have_attribute("aria-invalid", "true")
    error_id = y.evaluate("input => input.getAttribute('aria-describedby').split(' ').pop()")
    error = page.locator(f"#{error_id}")
    expect(error).to_be_visible()
    expect(error).to_contain_text("<= 10000")
    expect(card.get_by_label("x")).not_to_have_attribute("aria-invalid", "true")
    assert card.locator(".invocation-view").count() == 0, "nothing was invoked"
    # The focus is on the field to fix.
    assert y.evaluate("input => document.activeElement === input")
    screenshot(page, "invalid-input")

    # A property write the server refuses: the reason beside the property's field.
    speed = property_box(page, "microscope", "speed")
    speed.get_by_label("New value of speed").fill("-5")
    speed.get_by_role("button", name="Set").click()
    expect(speed.locator(".field-error")).to_contain_text("> 0")
    expect(property_value(page, "microscope", "speed")).to_have_text("500")

    # Fixed, the error goes and the invocation runs.
    y.fill("2")
    card.get_by_role("button", name="Invoke").click()
    expect(card.locator(".invocation-view .status")).to_have_text("completed")
    expect(y).not_to_have_attribute("aria-invalid", "true")


def test_the_form_has_a_field_for_each_kind_of_input_and_sends_what_was_entered(
    page: Any, serve: Serve
) -> None:
    url = serve(lt.ThingServer({"recorder": Recorder()}))
    open_panel(page, f"{url}/")
    card = action_card(page, "record")
    count = card.get_by_label("count")
    assert count.get_attribute("type") == "number"
    assert (count.get_attribute("min"), count.get_attribute("max")) == ("1", "5")
    expect(card.locator(".hint").first).to_have_text("integer · ≥ 1 · ≤ 5")
    assert card.get_by_label("colour").evaluate("e => e.tagName") == "SELECT"
    assert card.get_by_label("fast").get_attribute("type") == "checkbox"
    assert card.get_by_role("group", name="sample").count() == 1
    count.fill("3")
    card.get_by_label("colour").select_option(label="blue")
    card.get_by_label("label").fill("A1")
    card.get_by_label("name").fill("slide 4")
    card.get_by_label("fast").check()
    card.get_by_label("tags").fill('["x", "y"]')
    card.get_by_role("button", name="Invoke").click()
    result = card.locator(".invocation-view .result pre")
    expect(result).to_contain_text('"count": 3')
    assert msgspec.json.decode(result.inner_text()) == {
        "count": 3,
        "colour": "blue",
        "label": "A1",
        "sample": {"name": "slide 4", "depth": 1.0},
        "note": None,
        "fast": True,
        "tags": ["x", "y"],
    }
    screenshot(page, "form-kinds")
    # Text that is not JSON is caught before anything is sent, beside its field.
    card.get_by_label("tags").fill("[x")
    card.get_by_role("button", name="Invoke").click()
    expect(card.get_by_label("tags")).to_have_attribute("aria-invalid", "true")


def test_a_property_changed_in_one_tab_updates_in_another(context: Any, serve: Serve) -> None:
    url = microscope_url(serve)
    first, second = context.new_page(), context.new_page()
    open_panel(first, f"{url}/")
    open_panel(second, f"{url}/")
    speed = property_box(first, "microscope", "speed")
    speed.get_by_label("New value of speed").fill("1234")
    speed.get_by_role("button", name="Set").click()
    expect(property_value(second, "microscope", "speed")).to_have_text("1234")
    # And an action run from the second shows live in the first.
    action_card(second, "autofocus").get_by_role("button", name="Invoke").click()
    expect(first.locator("#invocation-rows tr").first).to_contain_text("autofocus")
    expect(first.locator("#invocation-rows tr").first.locator(".status")).to_have_text("completed")
    expect(property_value(first, "microscope", "exposure")).to_have_text("normal")


def test_invocations_started_by_other_clients_appear_live_and_open(page: Any, serve: Serve) -> None:
    url = microscope_url(serve, bench=Bench())
    open_panel(page, f"{url}/")
    with httpx2.Client(timeout=10) as http:
        started = http.post(f"{url}/microscope/autofocus", json={"steps": 3}).json()
        failed = http.post(f"{url}/bench/fail", json={}).json()
    row = page.locator(f"#invocation-rows tr[data-id='{started['id']}']")
    expect(row.locator(".status")).to_have_text("completed")
    expect(row.locator(".col-id")).to_have_text(started["id"][:8])
    expect(row.locator(".col-progress .progress-text")).to_have_text("100%")
    row.get_by_role("button").click()
    opened = page.locator("#opened-slot .invocation-view")
    expect(opened.locator(".result pre")).to_have_text("0")
    expect(opened.locator(".log")).to_contain_text("focused at")
    # Filtering by status keeps only the failures.
    page.get_by_label("Status", exact=True).select_option("error")
    expect(page.locator("#invocation-rows tr")).to_have_count(1)
    expect(page.locator(f"#invocation-rows tr[data-id='{failed['id']}']")).to_be_visible()
    page.get_by_label("Status", exact=True).select_option("")
    page.get_by_label("Thing", exact=True).select_option("bench")
    expect(page.locator("#invocation-rows tr")).to_have_count(1)
    page.locator(f"#invocation-rows tr[data-id='{failed['id']}'] button").click()
    expect(opened.locator(".invocation-error")).to_contain_text("no sample loaded")
    # It never reported progress and has ended: its bar is still, not "working".
    assert opened.locator("progress").evaluate("bar => bar.position") == 0


def test_the_invocation_list_stays_bounded(page: Any, serve: Serve) -> None:
    url = serve(lt.ThingServer({"bench": Bench()}))
    open_panel(page, f"{url}/")
    with httpx2.Client(timeout=10) as http:
        for n in range(250):
            assert http.post(f"{url}/bench/tick", json={"n": n}).status_code == 201
    expect(page.locator("#list-note")).to_have_text("Showing the newest 200 of 250.")
    expect(page.locator("#invocation-rows tr")).to_have_count(200)
    # Newest first.
    newest = page.locator("#invocation-rows tr").first
    newest.get_by_role("button").click()
    expect(page.locator("#opened-slot .result pre")).to_have_text("249")


def test_a_thing_url_opened_in_a_browser_shows_that_things_panel(page: Any, serve: Serve) -> None:
    url = microscope_url(serve, bench=Bench())
    open_panel(page, f"{url}/microscope/")
    expect(page.get_by_role("heading", name="Microscope", level=2)).to_be_visible()
    expect(page.locator("article.thing")).to_have_count(1)
    expect(page.get_by_label("Thing", exact=True)).to_be_disabled()
    # Its Thing Description is a link away, as JSON.
    href = page.get_by_role("link", name="Thing Description").get_attribute("href")
    assert href == "microscope/?format=json"
    page.goto(f"{url}/{href}")
    assert '"title":"Microscope"' in page.locator("body").inner_text().replace(" ", "")


def test_the_panel_works_with_the_keyboard_and_labels_every_field(page: Any, serve: Serve) -> None:
    url = microscope_url(serve)
    open_panel(page, f"{url}/")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter((element) => element.offsetParent !== null)
            .filter((element) => !(element.labels && element.labels.length)
                && !element.getAttribute('aria-label') && !element.textContent.trim())
            .map((element) => element.outerHTML)"""
    )
    assert unlabelled == []
    card = action_card(page, "capture")
    card.get_by_label("width").focus()
    page.keyboard.press("Tab")  # to height
    page.keyboard.press("Tab")  # to Invoke
    assert card.get_by_role("button", name="Invoke").evaluate("b => document.activeElement === b")
    page.keyboard.press("Enter")
    view = card.locator(".invocation-view")
    expect(view.locator(".status")).to_have_text("completed")
    # The progress bar has a name, and status changes are announced.
    assert view.locator("progress").get_attribute("aria-labelledby")
    expect(page.locator("#announcer")).to_contain_text("capture completed")


GREY_PIXELS = """(image) => {
    if (!image.complete || !image.naturalWidth) return null;
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const grey = [];
    for (let i = 0; i < rgba.length; i += 4) grey.push(rgba[i]);
    return [canvas.width, canvas.height, grey];
}"""
"""The picture an <img> shows now: width, height and its grey levels, row by row."""


def shown_picture(image: Any) -> Image.Image | None:
    """What the live view shows now, as the browser decoded it (None before the first frame)."""
    shown = image.evaluate(GREY_PIXELS)
    if shown is None:
        return None
    width, height, grey = shown
    return Image.frombytes("L", (width, height), bytes(grey))


def rig_card(page: Any, thing: str, action: str) -> Any:
    return page.locator(f"#thing-{thing} .action[data-action={action}]")


def test_the_rigs_live_view_follows_the_stage_and_outputs_show_as_image_and_link(
    page: Any, serve: Serve, tmp_path: Path
) -> None:
    url = serve(rig_server(tmp_path))
    open_panel(page, f"{url}/")
    frame = page.locator("#thing-camera img.camera-frame")
    frame.scroll_into_view_if_needed()  # A view off the screen holds no connection.
    expect(frame).to_have_attribute("src", f"{url}/camera/stream")
    # The real camera's frames, each new: its cells wobble from one to the next.
    seen: set[bytes] = set()
    for _ in range(200):
        shown = shown_picture(frame)
        if shown is not None:
            seen.add(shown.tobytes())
        if len(seen) >= 3:
            break
        page.wait_for_timeout(50)
    assert len(seen) >= 3, f"the live view showed {len(seen)} different frames only"
    first = shown_picture(frame)
    assert first is not None
    assert mean_difference(first, expected_view(0, 0)) < 4  # The slide's centre.

    # Moved from the page, the stage takes the live view with it.
    move = rig_card(page, "stage", "move_to")
    move.get_by_label("x").fill("600")
    move.get_by_label("y").fill("-400")
    move.get_by_role("button", name="Invoke").click()
    expect(move.locator(".invocation-view .status")).to_have_text("completed")
    expect(property_value(page, "stage", "position")).to_contain_text('"x": 600')
    there, origin = expected_view(600, -400), expected_view(0, 0)
    frame.scroll_into_view_if_needed()  # Back to the view, which plays again.
    page.wait_for_function(
        "(image) => image.complete && image.naturalWidth === 320", arg=frame.element_handle()
    )
    for _ in range(200):
        shown = shown_picture(frame)
        if shown is not None and mean_difference(shown, there) < 4:
            break
        page.wait_for_timeout(50)
    assert shown is not None
    assert mean_difference(shown, there) < mean_difference(shown, origin) / 4

    # Paused, the view lets its connection go; played, it comes back.
    page.get_by_role("button", name="Pause").click()
    expect(frame).not_to_have_attribute("src", f"{url}/camera/stream")
    page.get_by_role("button", name="Play").click()
    expect(frame).to_have_attribute("src", f"{url}/camera/stream")

    # A scan's ZIP file, a file that is no image, is a download link.
    scan = rig_card(page, "scanner", "scan")
    scan.get_by_label("columns").fill("2")
    scan.get_by_label("rows").fill("2")
    scan.get_by_label("pitch").fill("300")
    scan.get_by_role("button", name="Invoke").click()
    expect(scan.locator(".invocation-view .status")).to_have_text("completed")
    expect(scan.locator(".progress-text")).to_have_text("100% · tile 4 of 4")
    link = scan.locator(".result a[download]")
    expect(link).to_have_text("Download output")
    href = link.get_attribute("href")
    assert href is not None and href.startswith(f"{url}/blob/")
    with zipfile.ZipFile(io.BytesIO(page.request.get(href).body())) as tiles:
        assert len(tiles.namelist()) == 4
    expect(property_value(page, "stage", "position")).to_contain_text('"x": 150')

    # A picture is shown as the image it is: the view where the scan left the stage.
    capture = rig_card(page, "camera", "capture")
    capture.get_by_role("button", name="Invoke").click()
    image = capture.locator(".result img")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("alt", "Output (image/jpeg)")
    page.wait_for_function(
        "(image) => image.complete && image.naturalWidth === 320", arg=image.element_handle()
    )
    captured = shown_picture(image)
    assert captured is not None
    assert mean_difference(captured, expected_view(150, 150)) < 4
    # The README's picture (docs/panel.png): the live view, a finished capture
    # showing its picture, the invocations.
    page.set_viewport_size(README)
    page.evaluate("window.scrollTo(0, 0)")
    expect(frame).to_have_attribute("src", f"{url}/camera/stream")
    bottom = capture.bounding_box()
    screenshot(page, "panel-rig", height=bottom["y"] + bottom["height"] + 16)


def test_wide_screen_layout_puts_the_invocations_beside_the_things(page: Any, serve: Serve) -> None:
    url = microscope_url(serve)
    page.set_viewport_size(WIDE)
    open_panel(page, f"{url}/")
    things = page.locator("#things").bounding_box()
    invocations = page.locator("#invocations").bounding_box()
    assert invocations["x"] > things["x"] + things["width"] - 1
    page.set_viewport_size(PHONE)
    things = page.locator("#things").bounding_box()
    invocations = page.locator("#invocations").bounding_box()
    assert invocations["y"] > things["y"]
