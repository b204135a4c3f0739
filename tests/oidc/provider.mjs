// A small but real OpenID Connect provider (oidc-provider 9.x) for hunthub's tests. Loopback only, in memory.
//
//   node tests/oidc/provider.mjs config.json
//
// config.json:
//   {
//     "port": 43123,
//     "issuer": "http://127.0.0.1:43123",          // or http://localhost:43123
//     "host": "127.0.0.1",                          // optional: address to bind (default 127.0.0.1)
//     "access_token_ttl": 3600, "id_token_ttl": 3600, "refresh_token_ttl": 86400,   // seconds, optional
//     "rotate_refresh_tokens": false,               // optional: true = every refresh returns a new refresh token
//     "clients": [{"client_id": "...", "client_secret": "...", "redirect_uris": ["http://127.0.0.1:8000/cb"],
//                  "post_logout_redirect_uris": ["http://127.0.0.1:8000/"]}],
//     "accounts": [{"sub": "...", "username": "...", "password": "...", "email": "...", "name": "...",
//                   "groups": ["..."], "email_verified": true}]
//   }
//
// Prints "READY <issuer>" once listening and one line per request (method, path without query, status).

import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Provider } from 'oidc-provider';

const MAX_FORM_BYTES = 64 * 1024;

function fail(message) {
  process.stderr.write(`test-idp: ${message}\n`);
  process.exit(2);
}

function loadConfig(path) {
  if (!path) fail('usage: node provider.mjs CONFIG.json');
  let cfg;
  try {
    cfg = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`cannot read config ${path}: ${err.message}`);
  }
  const port = Number(cfg.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('config: "port" must be a TCP port number');
  const issuer = cfg.issuer ?? `http://127.0.0.1:${port}`;
  const url = URL.parse(issuer);
  if (!url || url.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(url.hostname)) {
    fail('config: "issuer" must be http://127.0.0.1:PORT or http://localhost:PORT');
  }
  if (Number(url.port) !== port || (url.pathname !== '/' && url.pathname !== '')) {
    fail('config: "issuer" must be the origin the provider listens on, without a path');
  }
  const clients = cfg.clients ?? [];
  const accounts = cfg.accounts ?? [];
  if (!Array.isArray(clients) || !clients.length) fail('config: "clients" must be a non-empty list');
  if (!Array.isArray(accounts)) fail('config: "accounts" must be a list');
  for (const c of clients) {
    if (!c.client_id || !c.client_secret || !Array.isArray(c.redirect_uris) || !c.redirect_uris.length) {
      fail('config: every client needs client_id, client_secret and redirect_uris');
    }
  }
  const seen = new Set();
  for (const a of accounts) {
    if (!a.sub || !a.username || typeof a.password !== 'string') {
      fail('config: every account needs sub, username and password');
    }
    if (seen.has(a.username) || seen.has(`sub:${a.sub}`)) fail(`config: duplicate account ${a.username}`);
    seen.add(a.username);
    seen.add(`sub:${a.sub}`);
  }
  const seconds = (name, dflt) => {
    const value = cfg[name] ?? dflt;
    if (!Number.isInteger(value) || value <= 0) fail(`config: "${name}" must be a positive whole number of seconds`);
    return value;
  };
  return {
    port,
    host: cfg.host ?? '127.0.0.1',
    issuer: url.origin,
    clients,
    accounts,
    accessTokenTTL: seconds('access_token_ttl', 3600),
    idTokenTTL: seconds('id_token_ttl', 3600),
    refreshTokenTTL: seconds('refresh_token_ttl', 24 * 3600),
    rotateRefreshTokens: cfg.rotate_refresh_tokens,
  };
}

const cfg = loadConfig(process.argv[2]);

const accountsBySub = new Map(cfg.accounts.map((a) => [a.sub, a]));
const accountsByUsername = new Map(cfg.accounts.map((a) => [a.username, a]));

function digest(text) {
  return createHash('sha256').update(String(text), 'utf8').digest();
}

function checkPassword(username, password) {
  const account = accountsByUsername.get(username);
  // compare against something even for unknown users, so both paths cost the same
  const ok = timingSafeEqual(digest(account ? account.password : randomBytes(16)), digest(password));
  return ok && account ? account : undefined;
}

function claimsOf(account) {
  return {
    sub: account.sub,
    preferred_username: account.username,
    name: account.name ?? account.username,
    email: account.email,
    email_verified: account.email === undefined ? undefined : (account.email_verified ?? true),
    groups: [...(account.groups ?? [])],
  };
}

function esc(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font-family: sans-serif; max-width: 26em; margin: 3em auto; }
label, input, button { display: block; margin: .4em 0; }
.error { color: #b00020; font-weight: bold; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function signingKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: `test-idp-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' }] };
}

// In-memory storage for the provider's models (one process, one test run), with expiry and the indexes the
// provider looks things up by: session uid, device user code, and the tokens belonging to a grant.
function memoryStore() {
  const entries = new Map(); // "Model:id" -> { payload, expiresAt }
  const byGrant = new Map(); // grantId -> Set of "Model:id"
  const index = new Map(); // "uid:..." / "userCode:..." -> id
  const now = () => Date.now();
  const live = (key) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  return (model) => ({
    async upsert(id, payload, expiresIn) {
      const key = `${model}:${id}`;
      const expiresAt = typeof expiresIn === 'number' ? now() + expiresIn * 1000 : Infinity;
      entries.set(key, { payload, expiresAt });
      if (model === 'Session' && payload.uid) index.set(`uid:${payload.uid}`, id);
      if (payload.userCode) index.set(`userCode:${payload.userCode}`, id);
      if (payload.grantId && model !== 'Grant') {
        if (!byGrant.has(payload.grantId)) byGrant.set(payload.grantId, new Set());
        byGrant.get(payload.grantId).add(key);
      }
    },
    async find(id) {
      return live(`${model}:${id}`)?.payload;
    },
    async findByUid(uid) {
      const id = index.get(`uid:${uid}`);
      return id === undefined ? undefined : live(`${model}:${id}`)?.payload;
    },
    async findByUserCode(userCode) {
      const id = index.get(`userCode:${userCode}`);
      return id === undefined ? undefined : live(`${model}:${id}`)?.payload;
    },
    async consume(id) {
      const entry = live(`${model}:${id}`);
      if (entry) entry.payload.consumed = Math.floor(now() / 1000);
    },
    async destroy(id) {
      entries.delete(`${model}:${id}`);
    },
    async revokeByGrantId(grantId) {
      for (const key of byGrant.get(grantId) ?? []) entries.delete(key);
      byGrant.delete(grantId);
    },
  });
}

const configuration = {
  adapter: memoryStore(),
  clients: cfg.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    client_name: c.client_name ?? c.client_id,
    application_type: 'web',
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // Only the registered name: oidc-provider takes client_secret_basic and client_secret_post interchangeably.
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  })),
  jwks: signingKeys(),
  cookies: {
    keys: [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')],
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'groups'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page(
          'Test IdP - sign out',
          `<h1>Sign out of Test IdP?</h1>
${form}
<button id="logout-yes" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button id="logout-no" type="submit" form="op.logoutForm">Stay signed in</button>`,
        );
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Test IdP - signed out', '<h1>Signed out of Test IdP</h1>');
      },
    },
    userinfo: { enabled: true },
    revocation: { enabled: false },
    introspection: { enabled: false },
  },
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async findAccount(ctx, sub) {
    const account = accountsBySub.get(sub);
    if (!account) return undefined;
    return { accountId: account.sub, claims: async () => claimsOf(account) };
  },
  // A refresh token with every authorization_code grant of a client allowed refresh_token: no offline_access needed.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  ...(typeof cfg.rotateRefreshTokens === 'boolean' ? { rotateRefreshToken: cfg.rotateRefreshTokens } : {}),
  ttl: {
    AccessToken: cfg.accessTokenTTL,
    AuthorizationCode: 60,
    IdToken: cfg.idTokenTTL,
    RefreshToken: cfg.refreshTokenTTL,
    Grant: cfg.refreshTokenTTL,
    Interaction: 600,
    Session: 24 * 3600,
  },
  clientBasedCORS: () => false,
  async renderError(ctx, out) {
    ctx.type = 'html';
    const rows = Object.entries(out)
      .map(([key, value]) => `<p class="error"><strong>${esc(key)}</strong>: ${esc(value)}</p>`)
      .join('\n');
    ctx.body = page('Test IdP - error', `<h1>Test IdP error</h1>\n${rows}`);
  },
};

const provider = new Provider(cfg.issuer, configuration);
provider.on('server_error', (ctx, err) => {
  process.stderr.write(`test-idp: server_error on ${ctx.method} ${ctx.path}: ${err.stack ?? err}\n`);
});

function loginPage(uid, { username = '', error = '' } = {}) {
  return page(
    'Test IdP - sign in',
    `<h1>Test IdP</h1>
${error ? `<p class="error" id="login-error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" type="text" value="${esc(username)}" autofocus required>
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<button id="sign-in" type="submit">Sign in</button>
</form>`,
  );
}

function send(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new Error('form too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

// Grant whatever the client asked for: this IdP never asks for consent.
async function autoConsent(details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return { grantId };
}

async function interaction(req, res, uid, action) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    send(res, 400, page('Test IdP - error', `<p class="error">Sign-in request expired or unknown: ${esc(err.message)}</p>`));
    return;
  }
  if (details.uid !== uid) {
    send(res, 400, page('Test IdP - error', '<p class="error">Sign-in request does not match this browser</p>'));
    return;
  }
  const prompt = details.prompt.name;

  if (req.method === 'GET' && !action) {
    if (prompt === 'login') {
      send(res, 200, loginPage(uid, { username: details.params.login_hint ?? '' }));
      return;
    }
    if (prompt === 'consent') {
      await provider.interactionFinished(req, res, { consent: await autoConsent(details) });
      return;
    }
    send(res, 400, page('Test IdP - error', `<p class="error">Unsupported prompt ${esc(prompt)}</p>`));
    return;
  }

  if (req.method === 'POST' && action === 'login' && prompt === 'login') {
    let form;
    try {
      form = await readForm(req);
    } catch {
      send(res, 413, page('Test IdP - error', '<p class="error">Form too large</p>'));
      return;
    }
    const username = form.get('username') ?? '';
    const account = checkPassword(username, form.get('password') ?? '');
    if (!account) {
      send(res, 401, loginPage(uid, { username, error: 'Invalid username or password' }));
      return;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: account.sub, amr: ['pwd'], remember: true },
    });
    return;
  }

  res.statusCode = 405;
  res.end();
}

const handle = provider.callback();
const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?\/?$/;

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  res.on('finish', () => {
    process.stdout.write(`${req.method} ${path} ${res.statusCode}\n`);
  });
  const m = INTERACTION.exec(path);
  if (!m) {
    handle(req, res);
    return;
  }
  interaction(req, res, m[1], m[2]).catch((err) => {
    process.stderr.write(`test-idp: interaction error: ${err.stack ?? err}\n`);
    if (!res.headersSent) send(res, 500, page('Test IdP - error', '<p class="error">Internal error</p>'));
    else res.end();
  });
});

server.listen(cfg.port, cfg.host, () => {
  process.stdout.write(`READY ${cfg.issuer}\n`);
});
server.on('error', (err) => fail(`cannot listen on ${cfg.host}:${cfg.port}: ${err.message}`));

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
