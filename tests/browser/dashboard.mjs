// The dashboard in a real browser: Debian's chromium, headless, driven by
// playwright-core (web/package.json). Called by tests/scripts/dashboard.sh.
//
//   node tests/browser/dashboard.mjs live RAGD_URL PROM_URL PROM_PID OUT_DIR
//     the page over the real stack: every panel that has data in Prometheus
//     draws it (series count and last value agree with Prometheus's own
//     answer to the same query at the same times), GPU panels say "no GPU",
//     the firing-alerts strip is there; then Prometheus is stopped and the
//     page says so; no JavaScript error; screenshots in OUT_DIR.
//   node tests/browser/dashboard.mjs load RAGD_URL OUT_DIR
//     the page over a fake Prometheus of many series: it renders them all;
//     prints the time to the first full render.
//
// Prints "  ok   ..." / "  FAIL ..." lines (tests/scripts' format) and exits
// 1 if any check failed.
import { chromium } from '../../web/node_modules/playwright-core/index.mjs';

const [mode, ragd, ...rest] = process.argv.slice(2);
let fails = 0, checks = 0;
function check(what, ok, detail = '') {
  checks++;
  if (!ok) fails++;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail ? `\n       ${detail}` : ''}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  // Chromium's sandbox needs user namespaces, which root, containers and a
  // chroot (CI's fresh Debian) do not give; the browser loads nothing but
  // ragd's own page on loopback.
  args: ['--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const jsErrors = [];
page.on('pageerror', (e) => jsErrors.push(`uncaught: ${e.message}`));
page.on('console', (m) => {
  // a resource answering 502 while Prometheus is down is the page's case to
  // handle, not a JavaScript error
  if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) jsErrors.push(m.text());
});

async function open() {
  const t0 = Date.now();
  await page.goto(`${ragd}/dashboard`);
  await page.waitForFunction(() => window.ragdDashboard && window.ragdDashboard.state === 'ready', null,
                             { timeout: 60000 });
  return { wall: Date.now() - t0, d: await page.evaluate(() => window.ragdDashboard) };
}

// What the page drew in a panel's DOM: charts and stat tiles.
const drawn = (title) => page.evaluate((t) => {
  const box = document.querySelector(`section.panel[data-title="${CSS.escape(t)}"]`);
  return { canvas: box.querySelectorAll('.uplot canvas').length, tiles: box.querySelectorAll('.stat').length,
           message: box.querySelector('.message').hidden ? null : box.querySelector('.message').textContent };
}, title);

async function prometheus(prom, req) {
  const path = req.start !== undefined ? 'query_range' : 'query';
  const r = await fetch(`${prom}/api/v1/${path}?` + new URLSearchParams(req));
  const body = await r.json();
  return body.data.result;
}

// Last values as Prometheus writes them, NaN and all.
const same = (a, b) => String(a) === String(b) || (Number(a) === Number(b));

async function live(prom, promPid, out) {
  const { d } = await open();
  check('the page renders (no Prometheus error)', d.error === null, d.error);
  const titles = Object.keys(d.panels);
  check(`every panel of the Grafana dashboard is on the page (${titles.length})`, titles.length >= 30);
  let withData = 0;
  for (const [title, p] of Object.entries(d.panels)) {
    // Prometheus's own answer to the very requests the page made
    const want = [];
    for (const req of p.requests) {
      const res = await prometheus(prom, req);
      for (const s of res) want.push(req.start !== undefined ? s.values[s.values.length - 1][1] : s.value[1]);
    }
    const gpu = p.requests.some((r) => /gpu_/.test(r.query));
    const dom = await drawn(title);
    if (want.length === 0) {
      check(`${title}: nothing in Prometheus, and the page says ${gpu ? '"no GPU"' : 'so'}`,
            p.series.length === 0 && (gpu ? dom.message === 'no GPU' : /No data/.test(dom.message || '')),
            `series ${p.series.length}, message ${dom.message}`);
      continue;
    }
    withData++;
    const got = p.series.map((s) => s.raw);
    const agree = got.length === want.length && got.every((v, i) => same(v, want[i]));
    check(`${title}: ${want.length} series, last values as Prometheus answers`, agree,
          `page ${JSON.stringify(got.slice(0, 5))} vs Prometheus ${JSON.stringify(want.slice(0, 5))}`);
    const shown = p.kind === 'stat' ? dom.tiles === want.length : dom.canvas > 0;
    check(`${title}: drawn (${p.kind === 'stat' ? `${dom.tiles} tiles` : 'a chart'})`, shown && !dom.message,
          JSON.stringify(dom));
  }
  check(`panels with data: ${withData}`, withData >= 25);
  const strip = await page.textContent('#alerts');
  check('the firing-alerts strip says what fires', /No alerts firing|·/.test(strip) || d.alerts.length > 0, strip);
  // the screenshot over the last 5 minutes: a test stack is young
  const before = await page.evaluate(() => window.ragdDashboard.updated);
  await page.click('#ranges button:text-is("5m")');
  await page.waitForFunction((t) => window.ragdDashboard.updated !== t && !document.querySelector('.message:not([hidden])')?.textContent.includes('loading'),
                             before, { timeout: 20000 }).catch(() => {});
  await sleep(500);
  await page.screenshot({ path: `${out}/dashboard.png`, fullPage: true });

  // Prometheus goes away: the page says so, and keeps going
  process.kill(Number(promPid), 'SIGTERM');
  for (let i = 0; i < 100; i++) {
    try { await fetch(`${prom}/-/ready`); } catch (e) { break; }
    await sleep(100);
  }
  await page.evaluate(() => window.ragdDashboard.refresh());
  await page.waitForFunction(() => window.ragdDashboard.error !== null, null, { timeout: 20000 });
  const banner = await page.textContent('#banner');
  const visible = await page.isVisible('#banner');
  check('Prometheus stopped: the page says it is unreachable', visible && /Prometheus is unreachable/.test(banner), banner);
  const msg = (await drawn('Request Rate')).message;
  check('Prometheus stopped: panels say so', msg === 'Prometheus unavailable', msg);
  await page.screenshot({ path: `${out}/dashboard-prometheus-down.png` });
}

async function load(out) {
  const { wall, d } = await open();
  const series = Object.values(d.panels).reduce((n, p) => n + p.series.length, 0);
  const instances = new Set(Object.values(d.panels).flatMap((p) => p.series.map((s) => (/10\.0\.0\.\d+/.exec(s.name) || [])[0]).filter(Boolean)));
  check(`many series: the page drew ${series} series of ${instances.size} instances`, series >= 1000 && instances.size === 10);
  const charts = await page.evaluate(() => document.querySelectorAll('.uplot').length);
  const want = Object.values(d.panels).filter((p) => p.kind === 'timeseries').length;
  check(`many series: every time-series panel has its chart (${charts} of ${want})`, charts === want && want >= 20);
  check('many series: the fake alert is in the strip', /FakeAlert/.test(await page.textContent('#alerts')));
  console.log(`  first full render with 10 instances and ${series} series: ${d.renderMs} ms after navigation (${wall} ms to ready, as the test saw it)`);
  await page.screenshot({ path: `${out}/dashboard-1000-series.png` });
}

try {
  if (mode === 'live') await live(rest[0], rest[1], rest[2]);
  else await load(rest[0]);
  check('no JavaScript error in the page', jsErrors.length === 0, jsErrors.join('\n       '));
} catch (e) {
  check(`the browser test ran to its end`, false, e.stack);
} finally {
  await browser.close();
}
console.log(`${checks - fails}/${checks} browser checks passed`);
process.exit(fails ? 1 : 0);
