"""Read the documentation site in headless Chromium, as a reader would, and fail on what a reader would notice.

    python tools/check_site.py [--screenshots DIR] [--tabs N]

Serves `docs/` on 127.0.0.1 and drives Debian's `chromium` over the DevTools protocol. Checks that every page
loads with no console error and no request off this machine; every internal link and `#anchor` resolves; the API
entries of the main objects are there; math is typeset by the site's own MathJax; the search finds "kernel";
at 400 px nothing scrolls sideways. The pages are read in N tabs at once (default 2), the problems listed in page order. Screenshots of the home page and two module pages at desktop and phone width
go to `build/screenshots/`. Exit status 1 with one line per problem."""
import argparse, asyncio, base64, functools, http.server, json, os, re, shutil, socketserver, subprocess, sys
import tempfile, threading, time
from pathlib import Path
from urllib.parse import urldefrag, urlparse, unquote

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT/'docs'
MAIN_OBJECTS = ('SingleKernelDataset', 'ImplicitSlicePrior', 'KLPenalty', 'TRIP', 'MarkovDWP')
SHOTS = (('index', 'index.html'), ('kernels', 'kernels.html'), ('priors', 'priors.html'),
         ('entry', 'kernels.html#markovdwp_nb.kernels.SingleKernelDataset'))
WIDTHS = {'desktop': (1280, 900, False), 'phone': (400, 860, True)}


def chromium() -> str:
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        if shutil.which(name): return shutil.which(name)
    sys.exit('check_site: no chromium: apt-get install chromium (make test installs it when it runs as root)')


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


def serve(folder: Path):
    "An HTTP server of `folder` on a free port of 127.0.0.1, in a thread."
    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Page:
    "One browser tab over the DevTools protocol: commands, and the events since the last `reset`."
    def __init__(self, ws):
        self.ws, self.next_id, self.waiting, self.events = ws, 0, {}, []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for message in self.ws:
            data = json.loads(message)
            if 'id' in data and data['id'] in self.waiting: self.waiting.pop(data['id']).set_result(data)
            elif 'method' in data: self.events.append(data)

    async def send(self, method, **params):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        reply = await asyncio.wait_for(future, 30)
        if 'error' in reply: raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get('result', {})

    async def js(self, expression, wait=True):
        reply = await self.send('Runtime.evaluate', expression=expression, awaitPromise=wait, returnByValue=True)
        if 'exceptionDetails' in reply: raise RuntimeError(f'{expression[:60]}: {reply["exceptionDetails"]}')
        return reply['result'].get('value')

    async def open(self, url, width, height, mobile):
        await self.send('Emulation.setDeviceMetricsOverride', width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        self.events.clear()
        await self.send('Page.navigate', url=url)
        for _ in range(300):
            if any(e['method'] == 'Page.loadEventFired' for e in self.events): break
            await asyncio.sleep(0.02)
        await self.js('(window.MathJax && MathJax.startup && MathJax.startup.promise) ? MathJax.startup.promise.then(() => 1) : 1')


def problems_of_events(events, origin) -> list:
    found = []
    for e in events:
        method, p = e['method'], e['params']
        if method == 'Runtime.exceptionThrown': found.append('exception: ' + p['exceptionDetails'].get('text', '') + ' ' +
                                                             str(p['exceptionDetails'].get('exception', {}).get('description', ''))[:200])
        elif method == 'Runtime.consoleAPICalled' and p['type'] in ('error', 'assert'):
            found.append('console error: ' + ' '.join(str(a.get('value', a.get('description', ''))) for a in p['args'])[:200])
        elif method == 'Log.entryAdded' and p['entry']['level'] == 'error':
            found.append('console error: ' + p['entry']['text'][:200] + ' ' + p['entry'].get('url', ''))
        elif method == 'Network.requestWillBeSent':
            url = p['request']['url']
            if not url.startswith((origin, 'data:', 'about:', 'blob:')): found.append(f'request off the machine: {url}')
        elif method == 'Network.responseReceived' and p['response']['status'] >= 400:
            found.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
        elif method == 'Network.loadingFailed' and not p.get('canceled'):
            found.append(f"failed to load: {p.get('errorText')} ({p.get('type')})")
    return found


def ids_of(html_file: Path, cache={}) -> set:
    if html_file not in cache: cache[html_file] = set(re.findall(r'\bid="([^"]+)"', html_file.read_text(errors='replace')))
    return cache[html_file]


def link_problems(page: Path, hrefs: list, origin: str) -> list:
    "Internal links of `page` (absolute URLs from the browser) whose file or `#anchor` does not exist."
    found = []
    for href in hrefs:
        if not href.startswith(origin): continue
        url, fragment = urldefrag(href)
        path = unquote(urlparse(url).path).lstrip('/')
        target = DOCS/path
        if target.is_dir(): target = target/'index.html'
        if not target.exists(): found.append(f'broken link: {href}'); continue
        if fragment and target.suffix == '.html' and unquote(fragment) not in ids_of(target):
            found.append(f'missing anchor: {href}')
    return found


async def read_page(page: Page, rel: str, origin: str) -> tuple:
    "Problems of one page at each width, and the last parts of its API entries' ids."
    problems, ids = [], ids_of(DOCS/rel)
    for width_name, (width, height, mobile) in WIDTHS.items():
        await page.open(f'{origin}/{rel}', width, height, mobile)
        where = f'{rel} ({width}px)'
        problems += [f'{where}: {p}' for p in problems_of_events(page.events, origin)]
        if width_name == 'desktop':
            hrefs = await page.js('[...document.querySelectorAll("a[href]")].map(a => a.href)')
            problems += [f'{rel}: {p}' for p in link_problems(DOCS/rel, hrefs, origin)]
            math = await page.js('[document.querySelectorAll("span.math, div.math").length,'
                                 ' document.querySelectorAll(".math mjx-container, mjx-container").length]')
            if math[0] and math[1] < math[0]: problems.append(f'{where}: {math[0] - math[1]} of {math[0]} formulas not typeset')
        else:
            # the emulated phone widens its layout viewport to fit wide content, so compare with the width asked for
            wide = await page.js(f'[document.documentElement.scrollWidth, {width}, '
                                 '[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > ' + str(width + 1) +
                                 ' && getComputedStyle(e).position !== "fixed" && e.closest("pre, .highlight, .cell_output .output, .table-wrapper, table, .MathJax, mjx-container, .sidebar-drawer, .toc-drawer") === null)'
                                 '.slice(0, 3).map(e => e.tagName + "." + e.className)]')
            if wide[0] > wide[1] or wide[2]: problems.append(f"{where}: wider than the screen ({wide[0]}px, {wide[1]}px shown): {wide[2]}")
    return problems, {i.rsplit('.', 1)[-1] for i in ids if i.startswith('markovdwp_nb.')}


async def open_tab(port: str, first: bool):
    "A websocket to a page target: the browser's first tab, or a new one (Chromium's /json/new, which wants PUT)."
    import urllib.request, websockets
    if first:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list') as reply: targets = json.loads(reply.read())
        ws_url = next(t['webSocketDebuggerUrl'] for t in targets if t['type'] == 'page')
    else:
        request = urllib.request.Request(f'http://127.0.0.1:{port}/json/new?about:blank', method='PUT')
        with urllib.request.urlopen(request) as reply: ws_url = json.loads(reply.read())['webSocketDebuggerUrl']
    ws = await websockets.connect(ws_url, max_size=2**26)
    page = Page(ws)
    for domain in ('Page', 'Runtime', 'Log', 'Network'): await page.send(f'{domain}.enable')
    return ws, page


BROWSER_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-default-apps', '--disable-extensions', '--no-default-browser-check',
                 # the tabs read pages side by side: none is slowed as a background tab
                 '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
                 '--disable-backgrounding-occluded-windows',
                 # a container's /dev/shm may be 64 MB, too small for Chromium's shared memory: use /tmp instead
                 '--disable-dev-shm-usage',
                 '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1']


def stop_browser(browser, profile: Path):
    if browser.poll() is None:
        browser.terminate()
        try: browser.wait(10)
        except subprocess.TimeoutExpired: browser.kill(); browser.wait()
    shutil.rmtree(profile, ignore_errors=True)


def start_browser(tries: int = 2, wait: float = 60.0):
    """Chromium with a fresh profile, and the DevTools port it chose (read from the profile's `DevToolsActivePort`).
    A browser that exits or writes no port within `wait` seconds is started once more; then the check stops with
    the end of Chromium's own error output (a first start on a busy machine can be slow: fonts are cached then)."""
    for attempt in range(1, tries + 1):
        profile = Path(tempfile.mkdtemp(prefix='check-site-'))
        log = (profile.parent/(profile.name + '.log')).open('w+')
        browser = subprocess.Popen([chromium(), *BROWSER_FLAGS, f'--user-data-dir={profile}', 'about:blank'],
                                   stdout=subprocess.DEVNULL, stderr=log)
        port_file, start = profile/'DevToolsActivePort', time.time()
        while time.time() - start < wait and browser.poll() is None:
            if port_file.exists() and port_file.read_text().strip():
                log.close(); os.unlink(log.name)
                return browser, profile, port_file.read_text().split()[0]
            time.sleep(0.05)
        status = f'exited with status {browser.returncode}' if browser.poll() is not None else f'wrote no DevTools port in {wait:.0f}s'
        stop_browser(browser, profile)
        log.seek(0); said = [l.strip() for l in log.read().splitlines() if l.strip()]
        log.close(); os.unlink(log.name)
        print(f'check_site: chromium {status} (try {attempt} of {tries})' + (f': {said[-1][:300]}' if said else ''), file=sys.stderr)
    sys.exit(f'check_site: chromium did not start ({chromium()}); run it by hand to see why')


async def check(port: str, origin: str, shots: Path, tabs: int) -> list:
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob('*.html'))
    opened = [await open_tab(port, first=i == 0) for i in range(tabs)]
    found = {}   # page -> (problems, API ids): the pages are read in `tabs` tabs at once, the report is in page order
    queue = list(pages)
    async def reader(page):
        while queue:
            rel = queue.pop(0)
            found[rel] = await read_page(page, rel, origin)
    try:
        await asyncio.gather(*(reader(page) for _, page in opened))
        problems = [p for rel in pages for p in found[rel][0]]
        api_ids = set().union(*(found[rel][1] for rel in pages))
        for name in MAIN_OBJECTS:
            if name not in api_ids: problems.append(f'no API entry for {name}')
        page = opened[0][1]
        await page.send('Page.bringToFront')   # a tab in the background draws no frames: no screenshot
        shots.mkdir(parents=True, exist_ok=True)
        for label, rel in SHOTS:
            if not (DOCS/rel.split('#')[0]).exists(): continue
            for width_name, (width, height, mobile) in WIDTHS.items():
                await page.open(f'{origin}/{rel}', width, height, mobile)
                if '#' in rel: await page.js(f'document.getElementById({json.dumps(rel.split("#")[1])}).scrollIntoView(); 1')
                await asyncio.sleep(0.2)
                shot = await page.send('Page.captureScreenshot', format='png')
                (shots/f'{label}-{width_name}.png').write_bytes(base64.b64decode(shot['data']))
        # the search: Sphinx's own index, offline (last: it leaves its term highlighted on the pages read after it)
        await page.open(f'{origin}/search.html?q=kernel', 1280, 900, False)
        hits = 0
        for _ in range(100):
            hits = await page.js('document.querySelectorAll("#search-results li, ul.search li").length')
            if hits: break
            await asyncio.sleep(0.1)
        if not hits: problems.append('search.html?q=kernel: no results')
        problems += [f'search: {p}' for p in problems_of_events(page.events, origin)]
    finally:
        for ws, page in opened:
            page.reader.cancel()
            await ws.close()
    print(f'check_site: {len(pages)} pages at {" and ".join(str(w[0]) for w in WIDTHS.values())} px in {tabs} tab(s); screenshots in {shots}')
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--screenshots', default=str(ROOT/'build'/'screenshots'))
    parser.add_argument('--tabs', type=int, default=2, help='pages read at once (default 2: one per core here)')
    args = parser.parse_args()
    if args.tabs < 1: parser.error(f'--tabs: {args.tabs}: at least 1')
    if not (DOCS/'index.html').exists(): sys.exit('check_site: no docs/index.html: run make docs')
    start = time.time()
    server = serve(DOCS)
    origin = f'http://127.0.0.1:{server.server_address[1]}'
    browser, profile, port = start_browser()
    try: problems = asyncio.run(check(port, origin, Path(args.screenshots), args.tabs))
    finally:
        stop_browser(browser, profile)
        server.shutdown()
    for problem in problems: print('  ' + problem)
    print(f'check_site: {len(problems)} problems ({time.time() - start:.0f}s)')
    sys.exit(1 if problems else 0)


if __name__ == '__main__': main()
