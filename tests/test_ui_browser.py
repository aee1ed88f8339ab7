"""`wbrun ui` in a real headless Chromium (Debian's chromium + chromium-driver, Selenium)
against stores made by real `wbrun` runs.  One browser session for the module.

Without a browser these tests skip, saying why, except when $CI is set: there they fail.
A screenshot of the page is kept for each failing test (the path is printed)."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers_ui import HOSTILE, UiServer, run_wbrun, start_training, train
from tests.helpers_ui import wait_for as wait_plain

pytestmark = pytest.mark.slow
CHROMIUM = os.environ.get("WBRUN_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = os.environ.get("WBRUN_TEST_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    for path, what in ((CHROMIUM, "chromium"), (DRIVER, "chromedriver")):
        if not os.access(path, os.X_OK):
            return f"no {what} at {path} (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def driver():
    reason = _missing_browser()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900", "--disable-extensions"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(DRIVER), options=options)
    browser.implicitly_wait(0)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("uibrowser") / "wandb"
    root.mkdir(parents=True)
    ids = {
        "a": train(root, project="mnist", name="adam-small", lr=0.01, opt="adam", steps=120),
        "b": train(root, project="mnist", name="sgd-small", lr=0.01, opt="sgd", steps=120),
        "c": train(root, project="mnist", name="adam-big", lr=0.05, opt="adam", steps=120),
        "d": train(root, project="mnist", name="sgd-big", lr=0.05, opt="sgd", steps=120),
        "hostile": train(root, project="cifar", name=HOSTILE, lr=0.03, opt="adam", steps=50),
    }
    return root, ids


@pytest.fixture(scope="module")
def server(store):
    srv = UiServer(store[0])
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, tmp_path_factory):
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before and "driver" in request.fixturenames:
        browser = request.getfixturevalue("driver")
        folder = Path(os.environ.get("WBRUN_TEST_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "screenshots")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{request.node.name}.png"
        browser.save_screenshot(str(path))
        print(f"screenshot of the failing page: {path}")


def wait_for(predicate, timeout: float = 20, interval: float = 0.1):
    """wait_for, retrying when the page replaced an element under the test's feet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    def attempt():
        try:
            return predicate()
        except (StaleElementReferenceException, NoSuchElementException):
            return None
    return wait_plain(attempt, timeout=timeout, interval=interval)


def texts(driver, selector) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);", selector)


def attr(driver, selector, name):
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
        selector, name)


def css(driver, selector):
    return driver.find_elements("css selector", selector)


def wait_css(driver, selector, count=None, timeout=20):
    def ready():
        found = css(driver, selector)
        return found if (found and (count is None or len(found) == count)) else None
    return wait_for(ready, timeout=timeout, interval=0.1)


def row_names(driver) -> list[str]:
    return texts(driver, "#runs-table tr.run-row a.run-link")


def open_workspace(driver, server, project="mnist", query=""):
    driver.get(f"{server.base}/projects/{project}{query}")
    wait_css(driver, "#runs-table tr.run-row")


def type_into(driver, element_id, text):
    box = driver.find_element("id", element_id)
    box.clear()
    box.send_keys(text)


def test_projects_page_lists_projects(driver, server):
    driver.get(server.base + "/")
    rows = wait_css(driver, "#projects tbody tr", count=2)
    assert {r.get_attribute("data-project") for r in rows} == {"mnist", "cifar"}
    assert "4" in rows[0].text or "4" in rows[1].text


def test_filter_narrows_rows_and_shows_the_caret(driver, server):
    open_workspace(driver, server)
    assert len(row_names(driver)) == 4
    type_into(driver, "filter", "config.opt = 'adam'")
    wait_for(lambda: sorted(row_names(driver)) == ["adam-big", "adam-small"])
    assert "filter=config.opt" in driver.current_url
    type_into(driver, "filter", "loss <")
    error = wait_for(lambda: driver.find_element("id", "filter-error").text)
    assert "expected" in error and error.splitlines()[-1].strip() == "^"
    driver.refresh()
    wait_for(lambda: driver.find_element("id", "filter-error").text)
    assert driver.find_element("id", "filter").get_attribute("value") == "loss <"


def test_search_sort_and_url_state(driver, server):
    open_workspace(driver, server, query="?search=small")
    wait_for(lambda: sorted(row_names(driver)) == ["adam-small", "sgd-small"])
    open_workspace(driver, server)
    header = wait_css(driver, '#runs-table th[data-key="name"]')[0]
    header.click()
    wait_for(lambda: row_names(driver) == ["adam-big", "adam-small", "sgd-big", "sgd-small"])
    assert "sort=name" in driver.current_url
    wait_css(driver, '#runs-table th[data-key="name"]')[0].click()
    wait_for(lambda: row_names(driver) == ["sgd-small", "sgd-big", "adam-small", "adam-big"])
    assert "sort=-name" in driver.current_url


def test_group_by_shows_group_rows(driver, server):
    open_workspace(driver, server)
    type_into(driver, "group-by", "config.opt")
    groups = wait_css(driver, "#runs-table tr.group-row", count=2)
    labels = sorted(g.get_attribute("data-group") for g in groups)
    assert labels == ["config.opt: adam", "config.opt: sgd"]
    assert all("2 runs" in g.text for g in groups)


def test_selected_runs_are_the_chart_series(driver, server):
    open_workspace(driver, server)
    loss = '.chart[data-metric="loss"]'
    wait_for(lambda: attr(driver, loss, "data-series") == "4")
    assert len(css(driver, "#runs-table input.eye:checked")) == 4
    assert len(css(driver, loss + " .u-legend .u-series")) == 5  # the x value and one per run
    css(driver, "#runs-table input.eye")[0].click()
    wait_for(lambda: attr(driver, loss, "data-series") == "3")
    assert len(css(driver, loss + " .u-legend .u-series")) == 4
    assert "sel=" in driver.current_url


def test_open_a_run_and_walk_its_tabs(driver, server, store):
    _root, ids = store
    open_workspace(driver, server)
    link = [a for a in css(driver, "#runs-table a.run-link") if a.text == "adam-small"][0]
    link.click()
    wait_for(lambda: driver.find_element("id", "run-name").text == "adam-small")
    facts = wait_css(driver, "#overview-facts [data-fact]")
    assert {"Author", "Command", "Host", "OS", "Python", "Start time", "State"} <= {
        f.get_attribute("data-fact") for f in facts}
    assert "0.01" in driver.find_element("id", "config-table").text
    for tab in ("charts", "system", "logs", "files", "artifacts"):
        driver.find_element("id", f"tab-{tab}").click()
        wait_for(lambda t=tab: driver.find_element("id", f"pane-{t}").is_displayed())
    driver.find_element("id", "tab-charts").click()
    wait_css(driver, '#pane-charts .chart[data-metric="loss"] canvas')
    driver.find_element("id", "tab-logs").click()
    green = wait_css(driver, "#log span.ansi-fg2")
    assert green[0].text == "step 0"
    assert "\x1b" not in driver.find_element("id", "log").text
    driver.find_element("id", "tab-files").click()
    assert "output.log" in wait_css(driver, "#files-table")[0].text
    driver.find_element("id", "tab-artifacts").click()
    wait_css(driver, "#pane-artifacts .card", count=2)
    assert driver.current_url.endswith("#artifacts")


def test_a_running_run_grows_without_reload(driver, server, store):
    root, _ids = store
    proc = start_training(root, project="live", name="growing", steps=80, delay=0.2)
    try:
        run = wait_for(lambda: json.loads(run_wbrun(root, "runs", "ls", "--format", "json", "--project",
                                                    "live").stdout), timeout=30)
        run_id = run[0]["id"]
        driver.get(f"{server.base}/runs/{run_id}#charts")
        wait_for(lambda: driver.find_element("id", "run-state").text == "running", timeout=20)
        driver.execute_script("window.__notReloaded = true;")
        chart = '#pane-charts .chart[data-metric="loss"]'
        wait_css(driver, chart)
        first = int(attr(driver, chart, "data-points"))
        wait_for(lambda: int(attr(driver, chart, "data-points")) > first, timeout=20)
        driver.find_element("id", "tab-logs").click()
        lines = lambda: driver.find_element("id", "log").text.count("loss=")
        seen = wait_for(lines, timeout=10)
        wait_for(lambda: driver.find_element("id", "run-state").text == "finished", timeout=60)
        assert lines() > seen or seen == 80
        wait_for(lambda: lines() == 80, timeout=10)
        assert driver.execute_script("return window.__notReloaded === true;")
        driver.find_element("id", "tab-charts").click()
        wait_for(lambda: attr(driver, chart, "data-points") == "80", timeout=10)
    finally:
        proc.wait(60)


def test_tag_and_note_on_the_page_agree_with_runs_ls(driver, server, store):
    root, ids = store
    driver.get(f"{server.base}/runs/{ids['d']}")
    wait_for(lambda: driver.find_element("id", "run-name").text == "sgd-big")
    type_into(driver, "tag-input", "keeper")
    driver.find_element("id", "tag-add").click()
    wait_for(lambda: "keeper" in driver.find_element("css selector", '[data-fact="Tags"]').text)
    type_into(driver, "note-input", "best so far <b>?</b>")
    driver.find_element("id", "note-save").click()
    wait_for(lambda: driver.find_element("css selector", '[data-fact="Description"]').text == "best so far <b>?</b>")
    listed = {r["id"]: r for r in json.loads(run_wbrun(root, "runs", "ls", "--format", "json").stdout)}
    assert listed[ids["d"]]["tags"] == ["keeper"]
    assert listed[ids["d"]]["notes"] == "best so far <b>?</b>"


def test_hostile_name_fires_no_dialog(driver, server, store):
    from selenium.common.exceptions import NoAlertPresentException

    _root, ids = store
    open_workspace(driver, server, project="cifar")
    wait_css(driver, ".chart canvas")
    assert row_names(driver) == [HOSTILE]
    assert not css(driver, "#runs-table img")
    driver.get(f"{server.base}/runs/{ids['hostile']}")
    wait_for(lambda: driver.find_element("id", "run-name").text == HOSTILE)
    time.sleep(0.5)
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert not css(driver, "main img")


def test_stop_delete_and_restore_from_the_run_page(driver, server, store):
    """The page's danger buttons call the CLI's core: Stop ends a running run (its wrapper
    records it killed), Delete (after the confirm dialog) moves a run to the trash, Restore
    brings it back; `runs ls` sees each step."""
    root, _ids = store

    def listed(*args):
        return {r["id"]: r for r in json.loads(run_wbrun(root, "runs", "ls", "--format", "json",
                                                          "--project", "actions", *args).stdout)}

    proc = start_training(root, project="actions", name="to-stop", steps=600, delay=0.1)
    try:
        run_id = wait_for(lambda: next(iter(listed()), None), timeout=30)
        driver.get(f"{server.base}/runs/{run_id}")
        wait_for(lambda: driver.find_element("id", "run-state").text == "running", timeout=20)
        driver.find_element("id", "stop").click()
        assert proc.wait(60) != 0
        wait_for(lambda: listed()[run_id]["state"] == "killed", timeout=20)
        driver.get(f"{server.base}/runs/{run_id}")
        wait_for(lambda: driver.find_element("id", "run-state").text == "killed", timeout=20)
        driver.find_element("id", "delete").click()
        driver.switch_to.alert.accept()  # "Move this run to the trash?"
        wait_for(lambda: run_id not in listed(), timeout=20)
        assert run_id in listed("--deleted")
        wait_css(driver, "#restore")
        driver.find_element("id", "restore").click()
        wait_for(lambda: run_id in listed(), timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def test_define_metric_step_metrics_are_the_charts_axes(driver, server, store):
    import subprocess
    import sys

    from tests.helpers_ui import wbrun_env
    from tests.test_ui_api import DEFINED

    root, _ids = store
    subprocess.run([sys.executable, "-c", DEFINED], check=True, env=wbrun_env(root), cwd=root.parent,
                   capture_output=True, timeout=120)
    open_workspace(driver, server, project="dm")
    chart = '.chart[data-metric="val/acc"]'
    wait_css(driver, chart)
    assert attr(driver, chart, "data-x") == "epoch" and attr(driver, chart, "data-points") == "4"
    assert attr(driver, '.chart[data-metric="loss"]', "data-x") == "_step"
    assert not css(driver, '.chart[data-metric="debug"]')  # hidden=True


MEDIA_RUN = """
import numpy as np
import wandb_cli as wandb
from wandb_cli.media import Image, Table
run = wandb.init(project="media", name="pictures")
for step in range(3):
    run.log({"sample": Image(np.full((8, 12, 3), step * 100, dtype=np.uint8)), "loss": 1 / (step + 1)})
run.log({"preds": Table(columns=["id", "text"], data=[[1, "<img src=x onerror=alert(1)>"], [2, "ok"]])})
run.finish()
"""


def test_media_tab_shows_images_by_step_and_tables_as_text(driver, server, store):
    import subprocess
    import sys

    from tests.helpers_ui import wbrun_env

    pytest.importorskip("numpy")
    root, _ids = store
    subprocess.run([sys.executable, "-c", MEDIA_RUN], check=True, env=wbrun_env(root), cwd=root.parent,
                   capture_output=True, timeout=120)
    run_id = json.loads(run_wbrun(root, "runs", "ls", "--format", "json", "--project", "media").stdout)[0]["id"]
    driver.get(f"{server.base}/runs/{run_id}#media")
    panel = '#pane-media [data-media="sample"]'
    wait_css(driver, panel)
    assert attr(driver, panel, "data-count") == "3" and attr(driver, panel, "data-kind") == "image"
    image = f"{panel} img"
    wait_for(lambda: driver.execute_script(
        "const i = document.querySelector(arguments[0]); return i && i.complete && i.naturalWidth;", image) == 12)
    assert "step 2" in driver.find_element("css selector", f"{panel} h3").text
    table = '#pane-media [data-media="preds"] table'
    wait_css(driver, table)
    cells = [c.text for c in driver.find_elements("css selector", f"{table} td")]
    assert cells == ["1", "<img src=x onerror=alert(1)>", "2", "ok"]  # text, never HTML
    assert not css(driver, '#pane-media [data-media="preds"] img')
