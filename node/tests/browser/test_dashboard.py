"""The dashboard (`GET /ui`) in a real browser against live 3-node clusters under load."""

import subprocess
import shutil
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ARTIFACTS, CHROMIUM_FLAGS, IDS, KEY, get_json


def wait(driver, what, timeout=15):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: what(d))


def texts(driver, selector, attribute=None):
    """Read in one script: the table is redrawn every second, so elements found earlier go stale."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]),"
        " e => arguments[1] ? e.getAttribute(arguments[1]) : e.textContent)", selector, attribute)


def rows(driver):
    return texts(driver, "#nodes tbody tr", "data-node")


def numbers(driver):
    """Every node's load and rate cells."""
    return texts(driver, "#nodes tbody td[data-field=load], #nodes tbody td[data-field=calls]")


def log_lines(driver):
    return texts(driver, "#log li")


def act(driver, button, count):
    """Clicks an action button and waits for one result line per node."""
    before = len(log_lines(driver))
    driver.find_element(By.ID, button).click()
    wait(driver, lambda d: len(log_lines(d)) >= before + count)
    return log_lines(driver)[: len(log_lines(driver)) - before]


def set_value(driver, element_id, value):
    e = driver.find_element(By.ID, element_id)
    e.clear()
    e.send_keys(value)


def test_the_page_lists_every_node_and_its_numbers_move(open_cluster, browser):
    browser.get(open_cluster.ui)
    wait(browser, lambda d: sorted(rows(d)) == sorted(IDS))
    # Rates need two frames; then they change from one second to the next under Poisson load.
    wait(browser, lambda d: all(t != "–" for t in numbers(d)))
    first = numbers(browser)
    wait(browser, lambda d: numbers(d) != first, timeout=10)
    # The flows picture has an arrow for some forwarding (node alpha gets 10x gamma's traffic, K=2).
    wait(browser, lambda d: texts(d, "#flows line[data-flow]"))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def series(driver):
    """Each node's chart row: [node, points, since (Unix ms)], read in one script."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#series .series-row'),"
        " e => [e.dataset.node, Number(e.dataset.points), Number(e.dataset.since)])")


def test_a_page_opened_after_traffic_ran_draws_every_nodes_last_minutes(open_cluster, browser):
    """Each node keeps its last five minutes: a page opened now draws them at once, not only what
    arrives after it opened."""
    want = 8
    deadline = time.time() + 30
    while min(len(get_json(a, "/events/history")["t"]) for a in open_cluster.addrs) < want:
        assert time.time() < deadline, "the nodes did not keep 8 seconds of history within 30 s"
        time.sleep(0.5)
    # The history holds the traffic that ran.
    assert sum(get_json(open_cluster.addrs[0], "/events/history")["calls"]) > 0
    opened_ms = time.time() * 1000
    browser.get(open_cluster.ui)
    wait(browser, lambda d: sorted(r[0] for r in series(d)) == sorted(IDS)
         and all(r[1] >= want for r in series(d)))
    rows = series(browser)
    # Points from well before the page opened: only the nodes' own history can have drawn them.
    assert all(since < opened_ms - (want - 3) * 1000 for _, _, since in rows), (rows, opened_ms)


def test_a_scheduler_switch_in_the_page_is_in_effect_on_every_node(open_cluster, browser):
    browser.get(open_cluster.ui)
    wait(browser, lambda d: len(rows(d)) == 3)
    set_value(browser, "sched-name", "NoScheduler")
    set_value(browser, "sched-params", "false")
    results = act(browser, "sched-apply", 3)
    assert all("→ 200" in r for r in results), results
    for addr in open_cluster.addrs:
        assert get_json(addr, "/configuration/scheduler") == {"name": "NoScheduler", "parameters": ["false"]}
    # And the page shows it, from every node's own snapshot.
    wait(browser, lambda d: [t.split("(")[0] for t in texts(d, "#nodes td[data-field=scheduler]")] == ["NoScheduler"] * 3)


def test_the_page_works_in_a_narrow_window(open_cluster, browser):
    browser.set_window_size(400, 900)
    try:
        browser.get(open_cluster.ui)
        wait(browser, lambda d: len(rows(d)) == 3)
        # Wide parts scroll inside their own box; the page itself does not scroll sideways.
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        browser.set_window_size(1280, 1400)


def test_with_a_cluster_key_a_signed_action_succeeds_and_a_wrong_key_is_refused(keyed_cluster, browser):
    browser.get(keyed_cluster.ui)
    wait(browser, lambda d: len(rows(d)) == 3 and d.find_element(By.ID, "key").is_displayed())
    set_value(browser, "key", KEY)
    set_value(browser, "k", "3")
    set_value(browser, "q", "1")
    results = act(browser, "kq-apply", 3)
    assert all("→ 200" in r for r in results), results
    for addr in keyed_cluster.addrs:
        conf = get_json(addr, "/configuration")
        assert (conf["parallel_running_functions_max"], conf["queue_length_max"]) == (3, 1), conf
    set_value(browser, "key", "not-the-key-but-long-enough")
    set_value(browser, "k", "5")
    results = act(browser, "kq-apply", 3)
    assert all("→ 401" in r and "signature does not match" in r for r in results), results
    for addr in keyed_cluster.addrs:
        assert get_json(addr, "/configuration")["parallel_running_functions_max"] == 3
    # A learner reset is signed the same way (empty body).
    set_value(browser, "key", KEY)
    results = act(browser, "reset-learners", 3)
    assert all("→ 200" in r for r in results), results


def test_chromium_dump_dom_shows_every_machine_id(open_cluster, tmp_path):
    out = subprocess.run(
        [shutil.which("chromium"), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", "--virtual-time-budget=8000", open_cluster.ui],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    for mid in IDS:
        assert f'data-node="{mid}"' in out, out[:2000]


def test_the_plain_script_hmac_matches_webcrypto(open_cluster, browser):
    """Outside a secure context (http:// to a LAN address) the page signs with its own SHA-256/HMAC; on
    127.0.0.1 WebCrypto exists, so both can be compared on the same inputs (key and message lengths
    around the 64-byte block and the 56-byte padding edge)."""
    browser.get(open_cluster.ui)
    mismatches = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          const bad = [];
          for (const kl of [1, 16, 35, 64, 65, 130]) for (const ml of [0, 1, 55, 56, 64, 119, 1000]) {
            const key = crypto.getRandomValues(new Uint8Array(kl));
            const msg = crypto.getRandomValues(new Uint8Array(ml));
            const k = await crypto.subtle.importKey("raw", key, {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
            const want = hex(await crypto.subtle.sign("HMAC", k, msg));
            if (hex(hmacSha256(key, msg)) !== want) bad.push(`hmac ${kl}/${ml}`);
            if (hex(sha256(msg)) !== hex(await crypto.subtle.digest("SHA-256", msg))) bad.push(`sha ${ml}`);
          }
          return bad;
        })().then(done, (e) => done([String(e)]));
    """)
    assert mismatches == []
