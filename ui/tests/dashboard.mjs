// The dashboard in a real browser (Debian's chromium driven by
// playwright-core), against a real hookgate and agent that the Rust test
// `tests/api/dashboard_browser.rs` started and filled. It acts as the
// operator and, to see rows arrive live, as GitHub too.
//
// Environment: HOOKGATE_URL, HOOKGATE_TOKEN, GITHUB_SECRET (the signing
// secret of the `pr-agent` test key), AGENT_URL (the test agent: POST /heal
// stops its refusals), SECRETS (comma-separated stored secrets no page may
// show), SCREENSHOTS (folder), CHROMIUM (the browser).
// Prints `RESULT {json}` on success; any failed check exits non-zero.
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env('HOOKGATE_URL');
const TOKEN = env('HOOKGATE_TOKEN');
const GITHUB_SECRET = env('GITHUB_SECRET');
const AGENT_URL = env('AGENT_URL');
const STORED_SECRETS = env('SECRETS').split(',').filter(Boolean);
const SHOTS = env('SCREENSHOTS');
const STEP_MS = 15000;

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

/** A GitHub pull_request call for the `code_changes` route, signed. */
async function sendPullRequest(number, action, deliveryId) {
  const body = JSON.stringify({ action, number, pull_request: { number, title: 'Fix' }, repository: { full_name: 'octo/hello' } });
  const signature = 'sha256=' + createHmac('sha256', GITHUB_SECRET).update(body).digest('hex');
  const res = await fetch(`${BASE}/agents/forward/name/pr-agent/code_changes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': deliveryId, 'x-hub-signature-256': signature },
    body,
  });
  check(res.status === 202, `webhook accepted (${res.status})`);
  return (await res.json()).event_id;
}

async function admin(path) {
  const res = await fetch(BASE + path, { headers: { 'x-api-key': TOKEN } });
  return res.json();
}

/** The page's whole text and markup hold none of the stored secrets. */
async function showsNoSecret(page, where, extra = []) {
  const html = await page.content();
  const text = await page.evaluate(() => document.body.innerText);
  const values = await page.$$eval('input', (inputs) => inputs.map((i) => i.value).join('\n'));
  for (const secret of [...STORED_SECRETS, ...extra]) {
    check(!html.includes(secret) && !text.includes(secret) && !values.includes(secret), `${where} shows no stored secret`);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function signIn(page) {
  await page.goto(`${BASE}/ui/`);
  await page.waitForSelector('#token', { timeout: STEP_MS });
  await shot(page, '01-sign-in');
  // By keyboard: the field has a label, Enter submits.
  await page.getByLabel('Admin token or account key').fill(TOKEN);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Overview' }).waitFor({ timeout: STEP_MS });
  check(!page.url().includes(TOKEN), 'the token is not in the URL');
}

async function overview(page) {
  await page.locator('[data-failing="pr-agent"]').waitFor({ timeout: STEP_MS });
  const row = page.locator('tr[data-agent="pr-agent"]');
  await row.waitFor({ timeout: STEP_MS });
  check((await row.locator('svg.chart').count()) === 1, 'the overview charts the agent\'s hours');
  await shot(page, '02-overview');
  await showsNoSecret(page, 'overview');
}

async function deliveryAppearsLive(page) {
  await page.click('nav >> text=Deliveries');
  await page.locator('tr[data-delivery]').first().waitFor({ timeout: STEP_MS });
  await page.evaluate(() => { window.__notReloaded = true; });
  const id = await sendPullRequest(2, 'opened', `browser-${Date.now()}`);
  await page.locator(`tr[data-delivery="${id}"]`).waitFor({ timeout: STEP_MS });
  check(await page.evaluate(() => window.__notReloaded === true), 'the new delivery appeared without a reload');
  await page.locator(`tr[data-delivery="${id}"] >> text=delivered`).waitFor({ timeout: STEP_MS });
  await shot(page, '03-deliveries');
  await showsNoSecret(page, 'deliveries');
  return id;
}

async function openDelivery(page, id) {
  await page.click(`tr[data-delivery="${id}"] a.status`);
  await page.locator('li.attempt.delivered').waitFor({ timeout: STEP_MS });
  const task = await page.locator('dt:text-is("Task") + dd a').innerText();
  check(/^github:/.test(task), `the delivery names its task by its key (${task})`);
  const attempt = await page.locator('li.attempt').first().innerText();
  check(/HTTP 200/.test(attempt) && /\d+ ms/.test(attempt), `the attempt shows its status code and latency (${attempt.replace(/\n/g, ' ')})`);
  const body = await page.getByLabel('Body').innerText();
  check(body.includes('"action": "opened"') && body.includes('\n'), 'the stored body is pretty-printed JSON');
  await shot(page, '04-delivery');
  await showsNoSecret(page, 'a delivery');
}

async function failedIds(page) {
  await page.goto(`${BASE}/ui/#/deliveries?status=failed`);
  await page.locator('tr[data-delivery]').first().waitFor({ timeout: STEP_MS });
  return page.$$eval('tr[data-delivery]', (rows) => rows.map((r) => r.dataset.delivery));
}

async function retryOne(page, id) {
  await page.goto(`${BASE}/ui/#/deliveries/${id}`);
  await page.locator('[data-field="status"] >> text=failed').waitFor({ timeout: STEP_MS });
  await page.getByRole('button', { name: 'Retry' }).click();
  await page.locator('[data-field="status"] >> text=delivered').waitFor({ timeout: STEP_MS });
  await shot(page, '05-retried');
}

async function bulkRetry(page, ids, dialogs) {
  await page.goto(`${BASE}/ui/#/deliveries?status=failed`);
  for (const id of ids) {
    await page.locator(`tr[data-delivery="${id}"] input[type=checkbox]`).check({ timeout: STEP_MS });
  }
  await page.getByRole('button', { name: `Retry selected (${ids.length})` }).click();
  await page.getByRole('status').waitFor({ timeout: STEP_MS });
  check(dialogs.at(-1) === `Retry ${ids.length} deliveries?`, `the count was asked first (${dialogs.at(-1)})`);
  for (const id of ids) {
    let delivery = {};
    for (let i = 0; i < 60 && delivery.status !== 'delivered'; i++) {
      delivery = await admin(`/deliveries/${id}`);
      if (delivery.status !== 'delivered') await page.waitForTimeout(250);
    }
    check(delivery.status === 'delivered', `bulk-retried ${id} was delivered (${JSON.stringify(delivery)})`);
  }
  await page.goto(`${BASE}/ui/#/deliveries?status=failed`);
  await page.getByText('No deliveries yet.').waitFor({ timeout: STEP_MS });
}

async function tasks(page) {
  await page.click('nav >> text=Tasks');
  await page.locator('a >> text=github:octo/hello#1').click({ timeout: STEP_MS });
  await page.locator('li[data-sequence]').first().waitFor({ timeout: STEP_MS });
  const order = await page.$$eval('li[data-sequence]', (items) => items.map((i) => Number(i.dataset.sequence)));
  check(order.length >= 3 && order.every((n, i) => n === i + 1), `the task's events are in sequence order (${order})`);
  await shot(page, '06-task');
  await showsNoSecret(page, 'a task');
}

async function createGithubKey(page) {
  await page.click('nav >> text=Keys & routes');
  await page.getByRole('form', { name: 'Create a key' }).waitFor({ timeout: STEP_MS });
  await page.selectOption('select[name=agent]', { label: 'pr-agent' });
  const form = page.getByRole('form', { name: 'Create a key' });
  await form.locator('select[name=source]').selectOption('github');
  const sources = await form.locator('select[name=source] option').evaluateAll((os) => os.map((o) => o.value));
  check(sources.includes('discord') && sources.includes('external') && !sources.includes('hmac'),
    `the key form lists GET /providers' triggers (${sources})`);
  await form.locator('input[name=name]').fill('octo/browser');
  await form.locator('input[name=path]').fill('code_changes');
  await form.getByRole('button', { name: 'Create key' }).click();
  const secretBox = page.locator('[data-secret]');
  await secretBox.waitFor({ timeout: STEP_MS });
  const secret = await secretBox.inputValue();
  const webhookUrl = await page.locator('[data-webhook-url]').inputValue();
  check(/^[0-9a-f]{64}$/.test(secret), 'the new secret is shown');
  check(webhookUrl === `${BASE}/agents/forward/name/pr-agent/code_changes`, `the webhook URL is shown (${webhookUrl})`);
  check((await page.getByRole('button', { name: 'Copy the secret' }).count()) === 1, 'the secret has a copy button');
  await shot(page, '07-key-created');
  await page.getByRole('button', { name: 'I have copied it' }).click();
  await page.locator('tr[data-key="octo/browser"]').waitFor({ timeout: STEP_MS });
  await showsNoSecret(page, 'keys after the secret was closed', [secret]);
  await page.reload();
  await page.locator('tr[data-key="octo/browser"]').waitFor({ timeout: STEP_MS });
  await showsNoSecret(page, 'keys after a reload', [secret]);
  return secret;
}

async function routePreview(page) {
  const form = page.getByRole('form', { name: 'Create a route' });
  await form.locator('input[name=route-path]').fill('preview/*');
  await form.locator('input[name=task_key]').fill('pr:{body.pull_request.number}');
  await page.locator('[data-rendered]').waitFor({ timeout: STEP_MS });
  const rendered = await page.locator('[data-rendered]').innerText();
  check(/^pr:\d+$/.test(rendered), `the task key preview renders against a stored delivery (${rendered})`);
  await form.locator('input[name=task_key]').fill('pr:{body.nope}');
  await page.getByText('the delivery has no').waitFor({ timeout: STEP_MS });
  await form.locator('input[name=task_key]').fill('pr:{body.pull_request.number}');
  await form.getByRole('button', { name: 'Create route' }).click();
  await page.locator('tr[data-route="preview/*"]').waitFor({ timeout: STEP_MS });
  await shot(page, '08-keys-and-routes');
}

async function pauseAndResume(page) {
  await page.click('nav >> text=Agents');
  const row = page.locator('tr[data-agent="pr-agent"]');
  await row.getByRole('button', { name: 'Pause' }).click({ timeout: STEP_MS });
  await row.getByText('paused since').waitFor({ timeout: STEP_MS });
  const agentId = (await admin('/agents/name/pr-agent')).id;
  check((await admin(`/agents/${agentId}`)).deliveries_paused_at, 'the agent is paused');
  await shot(page, '09-agents-paused');
  await row.getByRole('button', { name: 'Resume' }).click();
  await row.getByText('running').waitFor({ timeout: STEP_MS });
  check(!(await admin(`/agents/${agentId}`)).deliveries_paused_at, 'the agent runs again');
  await showsNoSecret(page, 'agents');
  await page.click('tr[data-agent="pr-agent"] >> text=pr-agent');
  await page.getByRole('heading', { name: 'Keys' }).waitFor({ timeout: STEP_MS });
  await shot(page, '10-agent');
  await showsNoSecret(page, 'an agent');
}

/** Registers an ACP agent from the Agents page (its internal key shown
 *  once), and is told what is wrong with an A2A agent's card. */
async function registerAgents(page) {
  await page.click('nav >> text=Agents');
  const form = page.locator('form[aria-label="Register an agent"]');
  await form.locator('input[name=agent-name]').fill('form-agent');
  await form.locator('input[name=acp_url]').fill(AGENT_URL);
  await form.getByRole('button', { name: 'Register' }).click();
  const shown = page.locator('[role=dialog] input[data-secret]');
  await shown.waitFor({ timeout: STEP_MS });
  check((await shown.inputValue()).length >= 32, 'the new agent\'s internal key is shown once');
  await page.getByRole('button', { name: 'I have copied it' }).click();
  const row = page.locator('tr[data-agent="form-agent"]');
  await row.getByText('ACP (async)').waitFor({ timeout: STEP_MS });
  check((await admin('/agents/name/form-agent')).acp_url === AGENT_URL, 'the agent is registered at its URL');
  await form.locator('input[name=agent-name]').fill('card-agent');
  await form.locator('select[name=protocol]').selectOption('a2a');
  await form.locator('input[name=agent_card_url]').fill(`${BASE}/no-card-here.json`);
  await form.getByRole('button', { name: 'Register' }).click();
  await form.getByText('cannot be used').waitFor({ timeout: STEP_MS });
  check((await admin('/agents/name/card-agent')).id === undefined, 'an agent whose card cannot be read is not stored');
  await shot(page, '11-register-agent');
}

/** At a phone's width the page itself does not scroll sideways (wide
 *  tables scroll inside their own box). */
async function phoneWidth(browser, storage) {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(`${BASE}/ui/`);
  await phone.evaluate((s) => { for (const [k, v] of Object.entries(s)) sessionStorage.setItem(k, v); }, storage);
  for (const [hash, name] of [['#/overview', 'overview'], ['#/deliveries', 'deliveries'], ['#/keys', 'keys']]) {
    await phone.goto(`${BASE}/ui/${hash}`);
    await phone.reload(); // signs in from the session storage set above
    await phone.locator('nav[aria-label=Pages]').waitFor({ timeout: STEP_MS });
    await phone.locator('h1').first().waitFor({ timeout: STEP_MS });
    await phone.waitForTimeout(300);
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `${name} fits a phone's width (${width} px)`);
    await phone.screenshot({ path: `${SHOTS}/phone-${name}.png`, fullPage: true });
  }
  await phone.close();
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const dialogs = [];
    page.on('dialog', (d) => { dialogs.push(d.message()); d.type() === 'prompt' ? d.accept('60') : d.accept(); });
    page.setDefaultTimeout(STEP_MS);
    await signIn(page);
    await overview(page);
    const live = await deliveryAppearsLive(page);
    await openDelivery(page, live);
    const failed = await failedIds(page);
    check(failed.length >= 3, `there are failed deliveries to retry (${failed.length})`);
    await fetch(`${AGENT_URL}/heal`, { method: 'POST' });
    await retryOne(page, failed[0]);
    await bulkRetry(page, failed.slice(1), dialogs);
    await tasks(page);
    const secret = await createGithubKey(page);
    await routePreview(page);
    await pauseAndResume(page);
    await registerAgents(page);
    const storage = await page.evaluate(() => Object.fromEntries(Object.entries(sessionStorage)));
    await phoneWidth(browser, storage);
    console.log('RESULT ' + JSON.stringify({ live, retried: failed, new_key: 'octo/browser', new_secret: secret }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
