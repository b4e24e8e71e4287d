// The peer of `make bench-vs-express`: an idiomatic Express 5 + ioredis server, one process
// (no cluster mode, no in-process cache). Its session middleware and routes read Redis as a
// Redis-backed Express backend does: GET session:<sha256(token)>, then the cached JSON bytes
// the gateway serves for the same request (the benchmark writes them under the bx: prefix).
'use strict';

const crypto = require('node:crypto');
const express = require('express');
const Redis = require('ioredis');

const port = Number(process.env.PORT || 3900);
const redis = new Redis({
  host: process.env.REDIS_HOST || '127.0.0.1',
  port: Number(process.env.REDIS_PORT || 6379),
  password: process.env.REDIS_PASSWORD || undefined,
  keyPrefix: 'bx:',
});

const app = express();
app.disable('x-powered-by');

function tokenOf(req) {
  const auth = req.get('authorization');
  if (auth && auth.startsWith('Bearer ')) return auth.slice(7);
  const cookie = req.get('cookie') || '';
  const found = cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith('snaproom_session='));
  return found ? found.slice('snaproom_session='.length) : null;
}

// Session middleware: the signed-in user's id, or none.
app.use(async (req, res, next) => {
  const token = tokenOf(req);
  if (!token) return next();
  try {
    const hash = crypto.createHash('sha256').update(token).digest('hex');
    const session = await redis.get(`session:${hash}`);
    if (session) req.user = JSON.parse(session);
    next();
  } catch (err) {
    next(err);
  }
});

function sendJson(res, body, signedIn) {
  res.set('content-type', 'application/json');
  res.set('cache-control', signedIn ? 'private, no-cache' : 'public, no-cache');
  if (signedIn) res.set('vary', 'Cookie, Authorization');
  res.send(body);
}

function requireUser(req, res) {
  if (req.user) return true;
  res.status(401).json({ detail: 'Not authenticated' });
  return false;
}

app.get('/api/health', (req, res) => res.json({ status: 'healthy' }));

app.get('/api/auth/me', async (req, res, next) => {
  if (!requireUser(req, res)) return;
  try {
    const body = await redis.getBuffer(`me:${req.user.user_id}`);
    if (!body) return res.status(404).json({ detail: 'User not found' });
    sendJson(res, body, true);
  } catch (err) {
    next(err);
  }
});

app.get('/api/users/:id', async (req, res, next) => {
  try {
    const body = await redis.getBuffer(`user:${req.params.id}`);
    if (!body) return res.status(404).json({ detail: 'User not found' });
    sendJson(res, body, Boolean(req.user));
  } catch (err) {
    next(err);
  }
});

app.get('/api/messages/:id', async (req, res, next) => {
  if (!requireUser(req, res)) return;
  try {
    const [a, b] = [Number(req.user.user_id), Number(req.params.id)].sort((x, y) => x - y);
    const body = await redis.getBuffer(`conversation:${a}:${b}`);
    if (!body) return res.status(404).json({ detail: 'User not found' });
    sendJson(res, body, true);
  } catch (err) {
    next(err);
  }
});

const server = app.listen(port, '127.0.0.1', () => console.log(`express peer on :${port}`));
process.on('SIGTERM', () => server.close(() => redis.quit().then(() => process.exit(0))));
