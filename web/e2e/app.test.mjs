// End-to-end test of the web app in a real Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) against a real `coditect dev` server on 127.0.0.1 and a
// real PostgreSQL (the private one of scripts/test-services.sh).
//
// Needs: CODITECT_TEST_PG_URL (a superuser URL; trust auth), the binary in CODITECT_BIN
// (default ../bin/coditect, built with the web app embedded). Optional: CHROMIUM
// (default /usr/bin/chromium), SCREENSHOT_DIR (default ../bin/test-logs/screenshots).
//
// Run with `node --test e2e/` from web/ (scripts/checks/web.sh does).
import { spawn, execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const here = new URL('.', import.meta.url).pathname;
const bin = resolve(here, '..', process.env.CODITECT_BIN ?? '../bin/coditect');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = resolve(here, '..', process.env.SCREENSHOT_DIR ?? '../bin/test-logs/screenshots');
const pgURL = process.env.CODITECT_TEST_PG_URL;
const psql = join(process.env.CODITECT_TEST_PG_BINDIR ?? '/usr/lib/postgresql/15/bin', 'psql');

const run = randomBytes(4).toString('hex');
const dbName = `coditect_web_${run}`;
const password = 'correct horse battery staple';

let server, base, dataDir, browser, logs = '';

/** Runs SQL as the test server's superuser. */
function sql(statement, db = 'postgres') {
  const u = new URL(pgURL);
  u.pathname = '/' + db;
  execFileSync(psql, [u.toString(), '-v', 'ON_ERROR_STOP=1', '-q', '-c', statement], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The URL of role on the test database (the test server trusts 127.0.0.1). */
function dbURL(role) {
  const u = new URL(pgURL);
  u.username = role;
  u.pathname = '/' + dbName;
  return u.toString();
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitFor(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- server log ---\n${logs.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

before(async () => {
  assert.ok(pgURL, 'CODITECT_TEST_PG_URL must be set (source the env of scripts/test-services.sh)');
  mkdirSync(shots, { recursive: true });
  // The same roles every CODITECT database uses (postgres.EnsureRoles); a fresh database.
  sql(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coditect_owner') THEN CREATE ROLE coditect_owner LOGIN CREATEROLE; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coditect_app') THEN CREATE ROLE coditect_app LOGIN NOSUPERUSER NOBYPASSRLS; END IF;
  END $$`);
  sql(`ALTER ROLE coditect_app LOGIN`);
  sql(`CREATE DATABASE ${dbName} OWNER coditect_owner`);

  dataDir = mkdtempSync(join(tmpdir(), 'coditect-web-e2e-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['dev', '--data-dir', dataDir, '--addr', `127.0.0.1:${port}`], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? dataDir,
      DATABASE_URL: dbURL('coditect_app'),
      DATABASE_OWNER_URL: dbURL('coditect_owner'),
      CODITECT_BASE_URL: base,
      CODITECT_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => (logs += d));
  server.stderr.on('data', (d) => (logs += d));
  server.on('exit', (code) => (logs += `\n[server exited: ${code}]\n`));
  await waitFor('the server to be ready', async () => (await fetch(base + '/readyz')).ok);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  if (pgURL) {
    try {
      sql(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    } catch (err) {
      console.error('dropping the test database:', err.message);
    }
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A new browser context (its own cookies) with a page that fails the test on script errors or CSP violations. */
async function newPage(viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport, baseURL: base });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/.test(msg.text())) page.problems.push(`CSP: ${msg.text()}`);
  });
  return page;
}

/** Runs axe-core on the page; fails on serious or critical violations. */
async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `axe-core found serious or critical violations on ${name}`,
  );
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** The accept link of the newest invitation email to address (the dev server writes mail to files). */
async function invitationToken(address) {
  const dir = join(dataDir, 'mail');
  return waitFor(`an invitation email to ${address}`, async () => {
    for (const f of readdirSync(dir).sort().reverse()) {
      // Quoted-printable: soft line breaks and =3D.
      const text = readFileSync(join(dir, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      if (!text.includes(address)) continue;
      const m = text.match(/\/invitations\/accept\?token=([A-Za-z0-9_\-.~%]+)/);
      if (m) return decodeURIComponent(m[1]);
    }
    return undefined;
  });
}

/** The RFC 6238 code of a base32 secret (SHA-1, 6 digits, 30 s). */
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, '0');
}

async function signUp(page, { name, email, org, slug }) {
  await page.goto('/signup');
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Organization name').fill(org);
  await page.getByLabel('Organization URL name (optional)').fill(slug);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`**/o/${slug}`);
  await page.getByRole('heading', { level: 1, name: 'Workspaces' }).waitFor();
}

/** A card on the board, by title. */
const card = (page, title) => page.locator('li.task-card', { hasText: title });
/** Which column a card is in. */
const columnOf = async (page, title) => card(page, title).evaluate((el) => el.closest('section.column').dataset.status);

test('a team works in the web app, and another tenant cannot see its work', async (t) => {
  const slug = `acme-${run}`;
  const owner = { name: 'Ada Owner', email: `ada-${run}@example.com`, org: 'Acme Web', slug };
  const page = await newPage();
  let projectURL;

  await t.test('the app is served with its security headers', async () => {
    const res = await page.goto('/');
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-security-policy'], /script-src 'self'/);
    await page.waitForURL('**/login');
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await axe(page, 'log in');
    await shot(page, '01-login');
  });

  await t.test('sign-up shows the API field errors next to the fields', async () => {
    await page.goto('/signup');
    await page.getByLabel('Your name').fill('Ada');
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByLabel('Password').fill('short');
    await page.getByLabel('Organization name').fill('Acme');
    await page.getByRole('button', { name: 'Create account' }).click();
    const email = page.getByLabel('Email');
    await page.locator('input[name=email][aria-invalid=true]').waitFor();
    const describedBy = await email.getAttribute('aria-describedby');
    assert.ok(describedBy, 'the email field names its error');
    assert.ok((await page.locator(`[id="${describedBy}"]`).textContent()).length > 0);
    await axe(page, 'sign up with errors');
    await shot(page, '02-signup-errors');
  });

  await t.test('sign up, then create a workspace, a project and tasks', async () => {
    await signUp(page, owner);
    await page.getByText('No workspaces yet').waitFor();
    await axe(page, 'workspaces (empty)');
    const ws = page.getByRole('form', { name: 'Create workspace' });
    await ws.getByLabel('Name').fill('Engineering');
    await ws.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByRole('link', { name: 'Engineering' }).click();
    await page.getByRole('heading', { level: 1, name: 'Engineering' }).waitFor();
    const pf = page.getByRole('form', { name: 'Create project' });
    await pf.getByLabel('Name').fill('Website');
    await pf.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('link', { name: 'Website' }).click();
    await page.getByRole('heading', { level: 1, name: 'Website' }).waitFor();
    projectURL = new URL(page.url()).pathname;
    assert.match(projectURL, new RegExp(`^/o/${slug}/projects/[0-9a-f-]{36}$`));
    for (const title of ['Write the copy', 'Ship the site', 'Tell everyone']) {
      await page.getByLabel('New task').fill(title);
      await page.getByRole('button', { name: 'Add task' }).click();
      await card(page, title).waitFor();
    }
    assert.equal(await columnOf(page, 'Write the copy'), 'todo');
  });

  await t.test('move tasks on the board by drag and drop and by keyboard', async () => {
    const patched = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/tasks/'));
    await card(page, 'Write the copy').dragTo(page.locator('section.column[data-status=in_progress]'));
    assert.equal((await patched).status(), 200);
    assert.equal(await columnOf(page, 'Write the copy'), 'in_progress');

    const patched2 = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/tasks/'));
    await card(page, 'Ship the site').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal((await patched2).status(), 200);
    assert.equal(await columnOf(page, 'Ship the site'), 'in_progress');
    assert.equal(await card(page, 'Ship the site').evaluate((el) => el === document.activeElement), true, 'focus stays on the moved card');

    // The server has the new statuses: they survive a reload.
    await page.reload();
    await card(page, 'Write the copy').waitFor();
    assert.equal(await columnOf(page, 'Write the copy'), 'in_progress');
    assert.equal(await columnOf(page, 'Ship the site'), 'in_progress');
    assert.equal(await columnOf(page, 'Tell everyone'), 'todo');
    await axe(page, 'project board');
    await shot(page, '03-board');
  });

  await t.test('edit a task: assignee and due date', async () => {
    await card(page, 'Tell everyone').getByRole('button', { name: 'Tell everyone' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit task' });
    await dialog.getByLabel('Assignee').selectOption({ label: 'You (owner)' });
    await dialog.getByLabel('Due date').fill('2030-01-15');
    await axe(page, 'edit task');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await card(page, 'Tell everyone').getByText('You (owner)').waitFor();
    await page.getByRole('button', { name: 'List' }).click();
    await page.getByRole('cell', { name: 'Tell everyone', exact: true }).waitFor();
    await page.getByLabel('Filter by status').selectOption('in_progress');
    // The status filter hides the tasks in other states.
    await page.getByRole('cell', { name: 'Tell everyone', exact: true }).waitFor({ state: 'detached' });
    await page.getByRole('cell', { name: 'Write the copy', exact: true }).waitFor();
    await page.getByLabel('Filter by status').selectOption('');
    await shot(page, '04-list');
  });

  const invitee = `bob-${run}@example.com`;
  await t.test('invite a member', async () => {
    await page.getByRole('link', { name: 'Members' }).click();
    await page.getByRole('heading', { level: 1, name: 'Members' }).waitFor();
    const form = page.getByRole('form', { name: 'Invite someone' });
    await form.getByLabel('Email').fill(invitee);
    await form.getByLabel('Role').selectOption('member');
    await form.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByRole('list', { name: 'Pending invitations' }).getByText(invitee, { exact: true }).waitFor();
    await axe(page, 'members');
    await shot(page, '05-members');
  });

  await t.test('the invitee accepts in another browser and sees the project', async () => {
    const token = await invitationToken(invitee);
    const bob = await newPage();
    await bob.goto(`/invitations/accept?token=${encodeURIComponent(token)}`);
    await bob.getByRole('heading', { name: 'Join Acme Web' }).waitFor();
    await axe(bob, 'accept invitation');
    await shot(bob, '06-accept-invitation');
    await bob.getByLabel('Your name').fill('Bob Member');
    await bob.getByLabel('Password').fill(password);
    await bob.getByRole('button', { name: 'Accept invitation' }).click();
    await bob.waitForURL(`**/o/${slug}`);
    await bob.getByRole('link', { name: 'Engineering' }).click();
    await bob.getByRole('link', { name: 'Website' }).click();
    await bob.getByRole('heading', { level: 1, name: 'Website' }).waitFor();
    await card(bob, 'Write the copy').waitFor();
    assert.equal(await columnOf(bob, 'Write the copy'), 'in_progress');
    // Members are people, by name and email, not account ids.
    await bob.getByRole('link', { name: 'Members' }).click();
    await bob.getByRole('cell', { name: /Ada Owner \(owner\)/ }).waitFor();
    await bob.getByText(owner.email, { exact: true }).waitFor();
    assert.deepEqual(bob.problems, []);
    await bob.context().close();
  });

  await t.test('another tenant gets the not-found screen for that project', async () => {
    const eve = await newPage();
    await signUp(eve, { name: 'Eve Other', email: `eve-${run}@example.com`, org: 'Other Co', slug: `other-${run}` });
    await eve.goto(projectURL);
    await eve.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
    assert.equal(await eve.getByText('Website').count(), 0);
    await eve.goto(`/o/${slug}/members`);
    await eve.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
    await axe(eve, 'not found');
    await shot(eve, '07-other-tenant-not-found');
    assert.deepEqual(eve.problems, []);
    await eve.context().close();
  });

  await t.test('API keys: the secret is shown once', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    const form = page.getByRole('form', { name: 'Create API key' });
    await form.getByLabel('Name').fill('CI');
    await form.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.locator('.secret-value').textContent();
    assert.match(secret, /^cdk_/);
    const res = await fetch(`${base}/v1/orgs/${slug}/workspaces`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(res.status, 200, 'the shown secret works');
    await axe(page, 'API keys');
    await shot(page, '08-api-keys');
    await page.reload();
    await page.getByRole('cell', { name: 'CI', exact: true }).waitFor();
    assert.equal(await page.locator('.secret-value').count(), 0);
  });

  await t.test('audit log with a filter', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('cell', { name: 'task.update' }).first().waitFor();
    await page.getByLabel('Action').fill('project.create');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('cell', { name: 'task.update' }).first().waitFor({ state: 'detached' });
    await page.getByRole('cell', { name: 'project.create' }).waitFor();
    await axe(page, 'audit log');
    await shot(page, '09-audit-log');
  });

  await t.test('billing degrades gracefully, account settings enrol MFA, log in with the TOTP step', async () => {
    await page.getByRole('link', { name: 'Billing' }).click();
    await page.getByRole('heading', { level: 1, name: 'Billing' }).waitFor();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    await page.locator('.loading').first().waitFor({ state: 'detached' });
    await axe(page, 'billing');
    await shot(page, '10-billing');

    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('list', { name: 'Active sessions' }).waitFor();
    await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const secret = (await page.locator('form code.secret-value').textContent()).trim();
    await axe(page, 'account (MFA enrolment)');
    await shot(page, '11-account-mfa');
    await page.getByLabel('Code from the app').fill(totp(secret));
    await page.getByRole('button', { name: 'Verify and turn on' }).click();
    const recovery = (await page.locator('ul.codes code').first().textContent()).trim();
    await page.getByRole('button', { name: 'I saved them' }).click();

    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await page.waitForURL('**/login');
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await page.getByLabel('Authentication code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.locator('input[name=totp_code][aria-invalid=true]').waitFor();
    // A recovery code also passes the second step (the enrolment code cannot be replayed).
    await page.getByLabel('Authentication code').fill(recovery);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`**/o/${slug}`);
    await page.getByRole('link', { name: 'Engineering' }).waitFor();
  });

  await t.test('phone width', async () => {
    const phone = await page.context().newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(projectURL);
    await card(phone, 'Write the copy').waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
    await axe(phone, 'project board (phone)');
    await shot(phone, '12-board-phone');
    await phone.close();
  });

  assert.deepEqual(page.problems, []);
  await page.context().close();
});
