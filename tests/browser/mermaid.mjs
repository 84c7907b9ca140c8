// Renders `lbq check --format mermaid` output with Mermaid itself, in headless Chromium
// (Debian's /usr/bin/chromium through playwright-core; no browser download), so a
// diagram Mermaid cannot parse fails the test.
//
//   node tests/browser/mermaid.mjs DIAGRAMS.mmd target/browser/livelock-mermaid.png
//
// DIAGRAMS.mmd is what `lbq check --format mermaid` prints: one or more diagrams, each
// introduced by a `%% <property> violated …` line. Every diagram must render to an SVG
// with one lane per participant and the `loop forever` block of a lasso; the first lasso
// is kept as a screenshot.

import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const [input, screenshot] = process.argv.slice(2);
if (!input || !screenshot) {
  console.error('usage: mermaid.mjs DIAGRAMS.mmd SCREENSHOT.png');
  process.exit(2);
}
const diagrams = readFileSync(input, 'utf8')
  .split(/^(?=%% )/m)
  .map((d) => d.trim())
  .filter((d) => d.startsWith('%% '));
if (diagrams.length === 0) {
  console.error(`${input}: no diagram`);
  process.exit(1);
}

const profile = mkdtempSync(join(tmpdir(), 'lbq-mermaid-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
// Keep a picture of the first lasso (else of the first diagram).
const shot = Math.max(0, diagrams.findIndex((d) => /\n\s+loop forever\n/.test(d)));
try {
  const page = await context.newPage();
  await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
  await page.addScriptTag({ path: join(here, 'node_modules/mermaid/dist/mermaid.min.js') });
  for (const [i, text] of diagrams.entries()) {
    const title = text.split('\n')[0];
    const result = await page.evaluate(async ({ text, i }) => {
      mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
      try {
        await mermaid.parse(text);
        const { svg } = await mermaid.render(`d${i}`, text);
        document.getElementById('out').innerHTML = svg;
        const actors = document.querySelectorAll('#out rect.actor').length;
        const loops = document.querySelectorAll('#out .loopText').length;
        return { ok: true, actors, loops, bytes: svg.length };
      } catch (e) {
        return { ok: false, error: String(e && e.message ? e.message : e) };
      }
    }, { text, i });
    if (!result.ok) {
      console.error(`FAIL: ${title}: Mermaid cannot render it: ${result.error}`);
      failed = true;
      continue;
    }
    const lasso = /\n\s+loop forever\n/.test(text);
    const bad = result.actors === 0 || (lasso && result.loops === 0);
    console.log(`${bad ? 'FAIL' : 'ok'}: ${title}: ${result.bytes} bytes of SVG, ${result.actors} lane boxes, ${result.loops} loop block(s)`);
    failed ||= bad;
    if (i === shot) {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.locator('#out svg').screenshot({ path: screenshot });
      console.log(`screenshot: ${screenshot}`);
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
