// Drives profgate's page in Debian's chromium (headless, through playwright-core) for
// tests/integration/test_ui.py, and prints what it saw as one JSON object; the Python test asserts.
// Usage: node ui_check.mjs BASE_URL GROUP HEAD_START HEAD_END BASE_START BASE_END OUT_DIR
// Every request the page makes is recorded; any that is not to BASE_URL is aborted and reported,
// so "works offline" is checked, not assumed. Screenshots go to OUT_DIR.
import { chromium } from 'playwright-core';

const [base, group, headStart, headEnd, baseStart, baseEnd, outDir] = process.argv.slice(2);
const origin = new URL(base).origin;
const out = { external: [], pageErrors: [], consoleErrors: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin)) return route.continue();
    out.external.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') out.consoleErrors.push(m.text()); });
  const frames = () => page.locator('#chart svg g.frame');

  // 1. The page, a group from ListProfilingGroups, the "last 24h" button: a flame graph.
  await page.goto(`${base}/ui/`);
  await page.waitForFunction((g) => [...document.querySelectorAll('#groups option')].some((o) => o.value === g), group);
  out.groups = await page.$$eval('#groups option', (os) => os.map((o) => o.value));
  await page.fill('#group', group);
  await page.click('button[data-period="PT24H"]');
  await page.waitForFunction(() => document.querySelectorAll('#chart svg g.frame').length > 20 &&
    document.querySelectorAll('#top-table tbody tr').length > 0);
  await page.waitForTimeout(400); // let the 250 ms transition settle before measuring and the screenshot
  out.status = await page.textContent('#status');
  out.frames = await frames().count();
  out.counters = await page.$$eval('#counter option', (os) => os.map((o) => o.value));
  out.counter = await page.inputValue('#counter');
  out.top = await page.$$eval('#top-table tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  out.hash = await page.evaluate(() => location.hash);
  await page.screenshot({ path: `${outDir}/profile.png`, fullPage: false });
  await page.locator('#chart').screenshot({ path: `${outDir}/chart.png` });

  // 2. A tooltip with self and total for every counter.
  const svgWidth = await page.$eval('#chart svg', (s) => s.getBoundingClientRect().width);
  const widths = await page.$$eval('#chart svg g.frame', (gs) => gs.map((g) => {
    const r = g.querySelector('rect');
    return { w: r.getBoundingClientRect().width, y: r.getBoundingClientRect().y, name: g.querySelector('title')?.textContent || '' };
  }));
  // The widest frame that is not the root ("all") nor full width: the one to hover and zoom into.
  let pick = -1;
  widths.forEach((f, i) => { if (f.w < svgWidth * 0.95 && (pick < 0 || f.w > widths[pick].w)) pick = i; });
  out.pickWidth = widths[pick].w;
  out.svgWidth = svgWidth;
  await frames().nth(pick).hover();
  await page.waitForSelector('.d3-flame-graph-tip', { state: 'visible' });
  out.tooltip = await page.textContent('.d3-flame-graph-tip');

  // 3. Zoom: a click makes the frame as wide as the graph; reset zoom restores it.
  await frames().nth(pick).click();
  await page.waitForTimeout(500);
  out.zoomedWidth = await frames().nth(pick).locator('rect').evaluate((r) => r.getBoundingClientRect().width);
  await page.click('#reset-zoom');
  await page.waitForTimeout(500);
  out.resetWidth = await frames().nth(pick).locator('rect').evaluate((r) => r.getBoundingClientRect().width);

  // 4. Search: the top function's name highlights frames.
  const term = out.top[0][0];
  out.searchTerm = term;
  await page.fill('#search', term);
  await page.waitForFunction(() => /match/.test(document.getElementById('search-info').textContent));
  await page.waitForTimeout(400);
  out.searchInfo = await page.textContent('#search-info');
  out.highlighted = await page.$$eval('#chart svg g.frame rect', (rs) =>
    rs.filter((r) => ['#E600E6', 'rgb(230, 0, 230)'].includes(r.getAttribute('fill') || r.style.fill)).length);
  await page.screenshot({ path: `${outDir}/search.png` });

  // 5. The diff: two ranges, a differential flame graph and the frames that changed most.
  await page.click('#mode-diff');
  for (const [id, v] of [['#base-start', baseStart], ['#base-end', baseEnd], ['#head-start', headStart], ['#head-end', headEnd]])
    await page.fill(id, v.replace(/:00Z$/, '').replace(/Z$/, ''));
  await page.click('#compare');
  await page.waitForFunction(() => !document.getElementById('changed').hidden &&
    document.querySelectorAll('#changed-table tbody tr').length > 0 &&
    document.querySelectorAll('#chart svg g.frame').length > 20);
  await page.waitForTimeout(400);
  out.diffStatus = await page.textContent('#status');
  out.changed = await page.$$eval('#changed-table tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  out.diffFills = await page.$$eval('#chart svg g.frame rect', (rs) => rs.map((r) => r.getAttribute('fill') || r.style.fill));
  out.diffHash = await page.evaluate(() => location.hash);
  await page.screenshot({ path: `${outDir}/diff.png` });

  // 6. speedscope's own importer, from profgate's copy of its release, on profgate's speedscope file.
  const ssHref = await page.getAttribute('#open-speedscope', 'href');
  out.speedscopeHref = ssHref;
  const ss = await context.newPage();
  ss.on('pageerror', (e) => out.pageErrors.push(`speedscope: ${e}`));
  await ss.goto(new URL(ssHref, `${base}/ui/`).href);
  await ss.waitForFunction(() => / - speedscope$/.test(document.title), null, { timeout: 30000 });
  out.speedscopeTitle = await ss.title();
  await ss.waitForTimeout(500);
  out.speedscopeText = (await ss.textContent('body')).slice(0, 2000);
  await ss.screenshot({ path: `${outDir}/speedscope.png` });
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
