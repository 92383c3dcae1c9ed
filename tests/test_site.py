"""The course site (`make docs`, docs/site.md) in a real browser.

build/site/ is served on localhost and opened in headless Chromium (Debian's `chromium`
package), driven over the DevTools protocol. For the home page and one notebook page the
test asserts the page title, that every image loaded (naturalWidth > 0, at least one per
page) and that the console logged no error (a script error, a failed resource load), and
it saves a screenshot of each (site_home.png, site_notebook.png) into build/screenshots/,
never into the checkout; the copies the README shows in docs/figures/ are refreshed on
purpose with `MINIMAL_UNET_SCREENSHOTS=docs/figures pytest tests/test_site.py`.

Without the built site, Chromium or websocket-client (the docs extra) the tests skip and
say which; CI (.ci/run) sets MINIMAL_UNET_REQUIRE_SITE=1 after `make docs`, and then any
of those missing is a failure, not a skip.
"""

import base64
import functools
import http.server
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "build" / "site"
FIGURES = REPO / os.environ.get("MINIMAL_UNET_SCREENSHOTS", "build/screenshots")
REQUIRED = os.environ.get("MINIMAL_UNET_REQUIRE_SITE") == "1"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1280,900", "about:blank",
]
PAGES = [  # (path under the site, words the title must contain, screenshot name)
    ("index.html", ["minimal_unet"], "site_home.png"),
    ("notebooks/06_training.html", ["Training", "minimal_unet"], "site_notebook.png"),
]


def _unavailable(reason):
    if REQUIRED:
        pytest.fail(f"MINIMAL_UNET_REQUIRE_SITE=1 but {reason}")
    pytest.skip(reason)


def _chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").is_file():
        _unavailable(f"{SITE} has no index.html: run `make docs` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class DevTools:
    """A minimal DevTools-protocol client for one page target: commands, and the events
    received so far."""

    def __init__(self, websocket_url):
        import websocket

        self.socket = websocket.create_connection(websocket_url, timeout=60,
                                                  suppress_origin=True)
        self.ids = itertools.count(1)
        self.events = []

    def call(self, method, **params):
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, timeout_s=60):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(event.get("method") == method for event in self.events):
                return
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(f"no {method} within {timeout_s} s")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self):
        self.socket.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """(DevTools port) of a headless Chromium with a fresh profile."""
    chromium = _chromium()
    if chromium is None:
        _unavailable("chromium is not installed (`make docs` installs Debian's package)")
    try:
        import websocket  # noqa: F401
    except ImportError:
        _unavailable("websocket-client (the docs extra) is missing")
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        active_port = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active_port.is_file() and active_port.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit code {process.poll()})")
            time.sleep(0.2)
        yield int(active_port.read_text().split()[0])
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _new_page(port):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank",
                                     method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _console_errors(events):
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append(" ".join(str(arg.get("value", arg.get("description")))
                                   for arg in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry']['text']} ({params['entry'].get('url', '')})")
    return errors


@pytest.mark.parametrize("path, title_words, screenshot", PAGES, ids=[p for p, _, _ in PAGES])
def test_page_in_chromium(site_url, browser, path, title_words, screenshot):
    target = _new_page(browser)
    page = DevTools(target["webSocketDebuggerUrl"])
    try:
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Page.navigate", url=f"{site_url}/{path}")
        page.wait_for("Page.loadEventFired")
        # Lazy images would load only when scrolled to: load every one, then wait for all.
        images = page.evaluate("""(async () => {
            const images = Array.from(document.images);
            images.forEach(image => { image.loading = "eager"; });
            await Promise.all(images.map(image => image.decode().catch(() => null)));
            return images.map(image => [image.getAttribute("src").slice(0, 80),
                                        image.naturalWidth]);
        })()""")
        title = page.evaluate("document.title")
        # The notebook's screenshot shows its first figure (an output of the executed cell).
        page.evaluate("""(async () => {
            const figure = document.querySelector(".jp-OutputArea img");
            if (figure) { figure.scrollIntoView({block: "center"}); }
            await new Promise(done => setTimeout(done, 300));
        })()""")
        FIGURES.mkdir(parents=True, exist_ok=True)
        shot = page.call("Page.captureScreenshot", format="png")
        (FIGURES / screenshot).write_bytes(base64.b64decode(shot["data"]))
        time.sleep(0.5)  # late console messages
        page.call("Runtime.evaluate", expression="0")  # drain the events received so far
        errors = _console_errors(page.events)
    finally:
        page.close()
    for word in title_words:
        assert word in title, f"{path}: title {title!r} lacks {word!r}"
    assert images, f"{path}: no image on the page"
    broken = [src for src, width in images if not width]
    assert broken == [], f"{path}: images that did not load: {broken}"
    assert errors == [], f"{path}: console errors: {errors}"


# Without a browser: what the site holds.

NOTEBOOK_SCRIPTS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
API_MODULES = {  # module -> its source files, as the API reference must cover them
    "ops": REPO / "minimal_unet" / "ops" / "__init__.py",
    "model": REPO / "minimal_unet" / "model.py",
    "gradcheck": REPO / "minimal_unet" / "gradcheck.py",
    "metrics": REPO / "minimal_unet" / "metrics.py",
    "weight_map": REPO / "minimal_unet" / "weight_map.py",
    "infer": REPO / "minimal_unet" / "infer.py",
    "train": REPO / "minimal_unet" / "train.py",
    "validation": REPO / "minimal_unet" / "validation.py",
}


def _public_names(source_file):
    """Public top-level functions and classes of a module, read from its source: `__all__`
    where it has one, otherwise every top-level `def`/`class` not starting with `_`."""
    import ast

    tree = ast.parse(source_file.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__"
                                                for t in node.targets):
            return list(ast.literal_eval(node.value))
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")]


def _site_builder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_site", REPO / "docs" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("module_name", sorted(API_MODULES))
def test_api_reference_has_every_public_function(module_name):
    """Each public function and class has a section with its docstring's first line."""
    import importlib

    page = _site_builder().api_page(module_name)
    module = importlib.import_module(f"minimal_unet.{module_name}")
    names = _public_names(API_MODULES[module_name])
    assert names, module_name
    for name in names:
        assert f"## `{name}`" in page, f"minimal_unet.{module_name}.{name} is not in the API page"
        first_line = getattr(module, name).__doc__.strip().splitlines()[0]
        assert first_line in page, f"{name}: docstring missing from the API page"


@pytest.mark.parametrize("script", NOTEBOOK_SCRIPTS, ids=[p.stem for p in NOTEBOOK_SCRIPTS])
def test_notebook_page_shows_its_outputs(script):
    """The site's notebook page holds the executed outputs: one figure at least per
    `plt.show()` / `display(` of its source, and printed output."""
    page = SITE / "notebooks" / f"{script.stem}.html"
    if not page.is_file():
        _unavailable(f"{page} is missing: run `make docs` first")
    html = page.read_text()
    source = script.read_text()
    figures_expected = source.count("plt.show(") + source.count("display(")
    assert html.count("jp-OutputArea-output") > 0, f"{page.name}: no outputs"
    assert html.count('src="data:image/png') >= figures_expected, f"{page.name}: figures missing"
