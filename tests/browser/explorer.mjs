// Drives stateright's Explorer, served by `lbq explore --variant livelock`, in headless
// Chromium (Debian's /usr/bin/chromium through playwright-core; no browser download).
//
//   node tests/browser/explorer.mjs --url http://127.0.0.1:PORT/ --lasso 0/1/0/... \
//        --turn 3 --screenshot target/browser/explorer-livelock.png
//
// --lasso is the Explorer path of the livelock lasso's last state (printed by `lbq
// explore`), --turn how many of its last steps are one turn of the loop. Checks that:
//   1. the page follows the lasso to its last state (every step loaded), and marks the
//      state one turn back as the same state (the loop closes);
//   2. the Properties list shows `assign_can_return` with a counterexample found;
//   3. the steps of the loop's turn are named in HAProxy's words (pendconn_add,
//      pendconn_must_try_again, assign_server), in the selected state's pane and in the
//      "Path of Actions" list itself: every entry there says who ran and what the step
//      did (`T1: S2 pendconn_add → backend queue`), not the actor's name alone, and so
//      do the "Next Action Choices";
//   4. the property's own link leads to a state whose per-state verdict is the
//      counterexample.
// With --actor-url (the Explorer of `lbq explore --model actor`): follows the first
// --actor-steps next actions from the initial state and checks that every entry of its
// Path of Actions says what the step did (`client → backend: … S1 arrives`,
// `T1 → backend: run S1's next section: S1 assign_server → …`).
// Saves a screenshot of the lasso's last state (and one of the property's link target
// beside it). Exits 1 on any failure.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const T0 = Date.now();
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PROPERTY = 'assign_can_return';
const LOOP_STEPS = ['pendconn_add', 'pendconn_must_try_again', 'assign_server'];
// A step model entry: the actor, a colon, then what the step did.
const STEP_ENTRY = /^(T\d+|CLI|client|timer S\d+): \S.*/;

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['url', 'lasso', 'turn', 'screenshot']) {
    if (!args[k]) throw new Error(`missing --${k}`);
  }
  for (const k of ['url', 'actor-url']) {
    if (args[k] && new URL(args[k]).hostname !== '127.0.0.1') {
      throw new Error(`--${k} must be on 127.0.0.1: ${args[k]}`);
    }
  }
  return args;
}

function check(cond, what) {
  if (!cond) throw new Error(what);
  console.log(`ok (${((Date.now() - T0) / 1000).toFixed(2)} s): ${what}`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const indices = args.lasso.split('/');
  const turn = Number(args.turn);
  check(indices.length > turn && turn > 0, `lasso ${args.lasso} has a loop of ${turn} steps`);
  mkdirSync(dirname(args.screenshot), { recursive: true });

  const profile = mkdtempSync(join(tmpdir(), 'lbq-explorer-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1400, height: 1000 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    // Nothing but the Explorers themselves may be contacted.
    const origins = [args.url, args['actor-url']].filter(Boolean).map((u) => new URL(u).origin);
    await page.route('**/*', (route) =>
      origins.includes(new URL(route.request().url()).origin) ? route.continue() : route.abort(),
    );

    const stepPath = (drop) => '/' + indices.slice(0, indices.length - drop).join('/');
    const selected = async (drop) => {
      await page.waitForFunction(
        (p) => window.app && window.app.selectedStep().path === p,
        stepPath(drop),
      );
      return (await page.locator('section.main-flex-right div.font-small').innerText()).trim();
    };

    // The Explorer's checker runs to completion by itself (lbq explore starts it); wait
    // for it, so the page's first status already has every verdict.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await (await fetch(new URL('.status', args.url))).json();
      if (status.done) break;
      if (Date.now() > deadline) throw new Error('the Explorer\'s checker did not finish in 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }

    // 1. The lasso's last state.
    await page.goto(`${args.url}#/steps/${args.lasso}`);
    const last = await selected(0);
    // Pre-init, Init 0, then one entry per step.
    await page.waitForFunction(
      (n) => document.querySelectorAll('ol.path-list > li').length === n,
      indices.length + 1,
    );
    check(true, `followed the lasso: ${indices.length - 1} steps, at its last state`);
    // The loop closes: the Explorer marks the loop's first state (Pre-init and Init 0 come
    // first in the list) as the same state as the selected last one.
    const entryItem = page.locator('ol.path-list > li').nth(indices.length - turn);
    check(
      (await entryItem.locator('a.is-same-state').count()) === 1,
      `the Explorer marks the state ${turn} steps back as the same state (the loop closes)`,
    );

    // The Path of Actions names each step in HAProxy's words: Pre-init and Init 0, then
    // one entry per step, each the actor and what its step did.
    const entries = (await page.locator('ol.path-list > li').allInnerTexts()).map((t) => t.trim());
    check(
      entries[0] === 'Pre-init' && entries[1] === 'Init 0',
      `the Path of Actions starts with Pre-init, Init 0: ${entries.slice(0, 2).join(', ')}`,
    );
    const stepEntries = entries.slice(2);
    const bare = stepEntries.filter((e) => !STEP_ENTRY.test(e));
    check(
      stepEntries.length === indices.length - 1 && bare.length === 0,
      `all ${stepEntries.length} Path of Actions entries say what the step did` +
        (bare.length ? `; not: ${JSON.stringify(bare.slice(0, 5))}` : ''),
    );
    const turnEntries = stepEntries.slice(stepEntries.length - turn);
    for (const e of turnEntries) console.log(`   path entry: ${e}`);
    for (const name of LOOP_STEPS) {
      check(
        turnEntries.some((e) => e.includes(name)),
        `a Path of Actions entry of the loop's turn names ${name}`,
      );
    }
    check(
      stepEntries.some((e) => e.startsWith('CLI: disable server px/s1')) &&
        stepEntries.some((e) => e.startsWith('client: S1 arrives')),
      'the Path of Actions names the CLI command as typed and the arrivals',
    );
    const choices = (await page.locator('h2:has-text("Next Action Choices") + ul > li').allInnerTexts()).map(
      (t) => t.trim(),
    );
    check(
      choices.length > 0 && choices.every((c) => STEP_ENTRY.test(c)),
      `the ${choices.length} Next Action Choices say what each step would do: ${choices[0]}`,
    );

    // 2. The verdict in the Properties list.
    const item = page.locator('nav li', { hasText: `Always ${PROPERTY}` }).first();
    await page.waitForFunction(
      (name) =>
        [...document.querySelectorAll('nav li')].some(
          (li) => li.innerText.includes(`Always ${name}`) && li.innerText.includes('Counterexample found'),
        ),
      PROPERTY,
    );
    const verdict = (await item.innerText()).trim();
    check(/Counterexample found/.test(verdict), `page shows "${verdict}"`);
    const terminates = (await page.locator('nav li', { hasText: 'Always assign_terminates' }).first().innerText()).trim();
    check(/Counterexample found/.test(terminates), `page shows "${terminates}"`);

    // 3. One turn of the loop, step by step (the Explorer's ?offset=K selects the state K
    // steps before the last one): each step is named in HAProxy's words.
    const seen = [last];
    for (let drop = 1; drop < turn; drop++) {
      await page.evaluate((h) => (window.location.hash = h), `#/steps/${args.lasso}?offset=${drop}`);
      seen.push(await selected(drop));
    }
    for (const s of seen) console.log(`   loop step: ${s.split('\n')[0]}`);
    for (const name of LOOP_STEPS) {
      check(seen.some((s) => s.includes(name)), `a step of the loop names ${name}`);
    }
    // Back to the last state for the picture.
    await page.evaluate((h) => (window.location.hash = h), `#/steps/${args.lasso}?offset=0`);
    const again = await selected(0);
    check(again === last, `back at the lasso's last state: ${last.split('\n')[0]}`);
    const body = await page.locator('body').innerText();
    check(body.includes(PROPERTY), `the page names ${PROPERTY}`);
    await page.screenshot({ path: args.screenshot, fullPage: true });
    console.log(`screenshot: ${args.screenshot}`);

    // 4. The property's link: the state where the Explorer's checker found it, judged
    // violated there by the per-state verdicts.
    await item.locator('a').click();
    await page.waitForFunction(() => window.app && window.app.selectedStep().path.length > 0);
    await page.locator('label', { hasText: 'Current state?' }).locator('input').check();
    const current = page.locator('nav li', { hasText: `Always ${PROPERTY}` }).nth(1);
    await page.waitForFunction(
      (name) =>
        [...document.querySelectorAll('nav li')].filter(
          (li) => li.innerText.includes(`Always ${name}`) && li.innerText.includes('Counterexample found'),
        ).length >= 2,
      PROPERTY,
    );
    check(true, `the property's link shows "${(await current.innerText()).trim()}" for its state`);
    const discovery = args.screenshot.replace(/\.png$/, '-discovery.png');
    await page.screenshot({ path: discovery, fullPage: true });
    console.log(`screenshot: ${discovery}`);

    check(pageErrors.length === 0, `no script error on the page ${pageErrors.join('; ')}`);

    if (args['actor-url']) await actorModel(page, args, pageErrors);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// `lbq explore --model actor`: follow the first next action --actor-steps times and read
// the Path of Actions.
async function actorModel(page, args, pageErrors) {
  const base = args['actor-url'];
  const steps = Number(args['actor-steps'] ?? 6);
  let path = '/0';
  await page.goto(`${base}#/steps${path}`);
  for (let i = 0; i < steps; i++) {
    await page.waitForFunction((p) => window.app && window.app.selectedStep().path === p, path);
    const next = page.locator('h2:has-text("Next Action Choices") + ul > li a[href]');
    await next.first().waitFor();
    // Prefer a request to the backend (a section runs) over a delivery back.
    const texts = await next.allInnerTexts();
    const k = Math.max(0, texts.findIndex((t) => t.includes(' → backend: ')));
    const href = await next.nth(k).getAttribute('href');
    path = href.replace(/^#\/steps/, '');
    await page.evaluate((h) => (window.location.hash = h), href);
  }
  await page.waitForFunction((p) => window.app && window.app.selectedStep().path === p, path);
  await page.waitForFunction(
    (n) => document.querySelectorAll('ol.path-list > li').length === n,
    steps + 2,
  );
  const entries = (await page.locator('ol.path-list > li').allInnerTexts()).map((t) => t.trim()).slice(2);
  for (const e of entries) console.log(`   actor path entry: ${e}`);
  const requests = entries.filter((e) => e.includes(' → backend: '));
  check(
    requests.length > 0 && requests.every((e) => /→ backend: [^:]+: \S/.test(e)),
    `actor model: the ${requests.length} requests to the backend in the Path of Actions say what the section did`,
  );
  check(
    entries.some((e) => e.includes('S1 arrives')) && entries.some((e) => /assign_server|disable server/.test(e)),
    'actor model: the Path of Actions names an arrival and a section in HAProxy\'s words',
  );
  const shot = args.screenshot.replace(/\.png$/, '-actor.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  check(pageErrors.length === 0, `no script error on the actor model's page ${pageErrors.join('; ')}`);
}

main().then(
  () => console.log('explorer.mjs: passed'),
  (e) => {
    console.error(`explorer.mjs: FAILED: ${e.stack || e}`);
    process.exit(1);
  },
);
