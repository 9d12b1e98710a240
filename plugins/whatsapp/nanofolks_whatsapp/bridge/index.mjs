#!/usr/bin/env node
// nanofolks WhatsApp bridge: WhatsApp Web (baileys) on one side, a local websocket on the other.
//
// Started by the nanofolks-whatsapp plugin (the gateway, or `nanofolks channels login whatsapp`):
//
//   NANOFOLKS_BRIDGE_TOKEN=<secret> node index.mjs --auth-dir DIR [--port 0] [--host 127.0.0.1]
//                                                  [--login] [--parent-pipe] [--selftest]
//
// The token comes from the environment, never the command line (another local user can read
// command lines in `ps`, not our environment). The protocol is documented in
// docs/channels/whatsapp.md ("The bridge protocol"); every frame is one JSON object.
//
// stdout carries machine-readable lines for the parent ({"type":"listening","port":N}); stderr
// carries what a person reads (the QR code, "linked as ..."). The bridge does not retry a lost
// WhatsApp connection itself: it reports it and exits, and the gateway restarts the channel with
// backoff (one retry policy, the gateway's).

import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WebSocketServer, WebSocket } from 'ws';

const VERSION = '0.1.0';
// Close codes we send to the Python side; 4000-4999 is the range for applications.
const CLOSE_GOING_AWAY = 1001;
const CLOSE_WHATSAPP_ENDED = 4000;

function parseArgs(argv) {
  const options = { host: '127.0.0.1', port: 0, authDir: null, login: false, parentPipe: false, selftest: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--host') options.host = argv[++i];
    else if (arg === '--port') options.port = Number.parseInt(argv[++i], 10);
    else if (arg === '--auth-dir') options.authDir = argv[++i];
    else if (arg === '--login') options.login = true;
    else if (arg === '--parent-pipe') options.parentPipe = true;
    else if (arg === '--selftest') options.selftest = true;
    else fail(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) fail('--port must be 0-65535');
  if (!options.selftest && !options.authDir) fail('--auth-dir is required');
  return options;
}

function fail(message) {
  process.stderr.write(`nanofolks-whatsapp-bridge: ${message}\n`);
  process.exit(2);
}

function say(message) {
  process.stderr.write(`${message}\n`);
}

function tell(parentLine) {
  process.stdout.write(`${JSON.stringify(parentLine)}\n`);
}

const digest = (text) => createHash('sha256').update(String(text)).digest();

function tokenMatches(header, token) {
  const match = /^Bearer (.+)$/.exec(header || '');
  // Comparing digests keeps the comparison constant-time whatever the length sent.
  return Boolean(match) && timingSafeEqual(digest(match[1]), digest(token));
}

// "1234567890:12@s.whatsapp.net" -> "1234567890@s.whatsapp.net" (drop the device part).
const bareJid = (jid) => (jid || '').replace(/:\d+(?=@)/, '');

function messageText(content) {
  if (!content) return '';
  return (
    content.conversation ||
    content.extendedTextMessage?.text ||
    content.imageMessage?.caption ||
    content.videoMessage?.caption ||
    content.documentMessage?.caption ||
    ''
  );
}

// Chats that are not conversations: status updates, broadcast lists, channels ("newsletters").
const notAConversation = (jid) => jid === 'status@broadcast' || /@(broadcast|newsletter)$/.test(jid);

/**
 * The `message` frame for one baileys message, or null when it is not for the crew: our own,
 * not a conversation, history replayed from before `startedAt`, or without text.
 * `me` lists the linked account's bare jids (phone and lid form); `extract` unwraps ephemeral,
 * view-once and edited messages (baileys' extractMessageContent).
 */
export function messageFrame(msg, { startedAt = 0, me = [], extract = (message) => message } = {}) {
  const key = msg?.key || {};
  const chat = key.remoteJid || '';
  if (!chat || notAConversation(chat) || key.fromMe) return null;
  const ts = Number(msg.messageTimestamp || 0);
  if (ts && ts < startedAt) return null;
  const content = extract(msg.message);
  const text = messageText(content);
  if (!text) return null; // text only: media without a caption, reactions and receipts are not handed on
  const isGroup = chat.endsWith('@g.us');
  let from = isGroup ? key.participant || '' : chat;
  let lid = null;
  const alt = isGroup ? key.participantAlt : key.remoteJidAlt;
  // Newer WhatsApp addresses people by a "lid" (not a phone number); prefer the phone-number form.
  if (from.endsWith('@lid')) {
    lid = from;
    if (alt && alt.endsWith('@s.whatsapp.net')) from = alt;
  }
  const context = content?.extendedTextMessage?.contextInfo;
  const mentioned = Boolean(
    (context?.mentionedJid || []).some((jid) => me.includes(bareJid(jid))) ||
      (context?.participant && me.includes(bareJid(context.participant))),
  );
  return {
    type: 'message',
    id: key.id || '',
    from: bareJid(from),
    lid: lid && bareJid(lid),
    chat,
    text,
    pushName: msg.pushName || '',
    ts,
    fromMe: false,
    isGroup,
    mentioned,
  };
}

class Bridge {
  constructor(options, token) {
    this.options = options;
    this.token = token;
    this.state = 'connecting';
    this.detail = {};
    this.lastQr = null;
    this.clients = new Set();
    this.sock = null;
    this.closing = false;
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.wss = new WebSocketServer({
        host: this.options.host,
        port: this.options.port,
        maxPayload: 1 << 20,
        verifyClient: (info, done) => {
          // A web page the user visits could open a websocket to 127.0.0.1; browsers always send
          // Origin, our Python client never does.
          if (info.req.headers.origin) return done(false, 403, 'browser connections are not allowed');
          if (!tokenMatches(info.req.headers.authorization, this.token)) return done(false, 401, 'bad token');
          return done(true);
        },
      });
      this.wss.once('error', reject);
      this.wss.once('listening', () => resolve(this.wss.address().port));
      this.wss.on('connection', (ws) => this.accept(ws));
    });
  }

  accept(ws) {
    this.clients.add(ws);
    ws.on('close', () => this.clients.delete(ws));
    ws.on('error', () => this.clients.delete(ws));
    ws.on('message', (data) => this.command(ws, data));
    ws.send(JSON.stringify({ type: 'status', state: this.state, ...this.detail }));
    if (this.state === 'qr' && this.lastQr) ws.send(JSON.stringify({ type: 'qr', data: this.lastQr }));
  }

  broadcast(frame) {
    const text = JSON.stringify(frame);
    for (const ws of this.clients) if (ws.readyState === WebSocket.OPEN) ws.send(text);
  }

  setState(state, detail = {}) {
    this.state = state;
    this.detail = detail;
    this.broadcast({ type: 'status', state, ...detail });
  }

  async command(ws, data) {
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      ws.send(JSON.stringify({ type: 'error', error: 'not JSON' }));
      return;
    }
    const reply = (extra) => ws.send(JSON.stringify({ ref: frame.ref ?? null, ...extra }));
    try {
      if (frame.type === 'ping') {
        reply({ type: 'pong', state: this.state, version: VERSION });
      } else if (frame.type === 'send') {
        if (typeof frame.to !== 'string' || typeof frame.text !== 'string') throw new Error('send needs "to" and "text"');
        const sent = await this.connected().sendMessage(frame.to, { text: frame.text });
        reply({ type: 'sent', to: frame.to, id: sent?.key?.id ?? null });
      } else if (frame.type === 'typing') {
        if (typeof frame.to !== 'string') throw new Error('typing needs "to"');
        await this.connected().sendPresenceUpdate('composing', frame.to);
        reply({ type: 'typed', to: frame.to });
      } else {
        throw new Error(`unknown command type ${JSON.stringify(frame.type)}`);
      }
    } catch (error) {
      reply({ type: 'error', error: error?.message || String(error) });
    }
  }

  connected() {
    if (!this.sock || this.state !== 'connected') throw new Error(`WhatsApp is not connected (state: ${this.state})`);
    return this.sock;
  }

  async connectWhatsApp() {
    // Imported here so that --selftest runs with only `ws` installed.
    const baileys = await import('@whiskeysockets/baileys');
    const { default: pino } = await import('pino');
    const makeWASocket = baileys.default;
    const { DisconnectReason } = baileys;
    const logger = pino({ level: 'silent' });
    const authDir = this.options.authDir;
    mkdirSync(authDir, { recursive: true, mode: 0o700 });
    chmodSync(authDir, 0o700);
    const { state, saveCreds } = await baileys.useMultiFileAuthState(authDir);
    let version;
    try {
      ({ version } = await baileys.fetchLatestBaileysVersion());
    } catch {
      version = undefined; // baileys' built-in version is the fallback
    }
    // Messages older than this are history replayed on reconnect, not news.
    const startedAt = Math.floor(Date.now() / 1000);
    const sock = makeWASocket({
      auth: { creds: state.creds, keys: baileys.makeCacheableSignalKeyStore(state.keys, logger) },
      ...(version ? { version } : {}),
      logger,
      // Shown on the phone under Linked Devices; an OS/browser pair WhatsApp knows links reliably.
      browser: baileys.Browsers.ubuntu('nanofolks'),
      syncFullHistory: false,
      markOnlineOnConnect: false,
    });
    this.sock = sock;
    sock.ev.on('creds.update', saveCreds);
    sock.ev.on('connection.update', (update) => this.onConnectionUpdate(update, DisconnectReason));
    sock.ev.on('messages.upsert', (event) => this.onMessages(event, baileys, startedAt));
  }

  async onConnectionUpdate({ connection, lastDisconnect, qr }, DisconnectReason) {
    if (qr) {
      this.lastQr = qr;
      this.setState('qr');
      this.broadcast({ type: 'qr', data: qr });
      if (this.options.login) {
        const { default: qrcode } = await import('qrcode-terminal');
        say('\nScan this QR code with WhatsApp: Settings > Linked Devices > Link a device\n');
        qrcode.generate(qr, { small: true }, (art) => say(art));
      }
    }
    if (connection === 'open') {
      const me = bareJid(this.sock?.user?.id);
      this.lastQr = null;
      this.setState('connected', { me, name: this.sock?.user?.name ?? null });
      if (this.options.login) say(`WhatsApp linked as ${me}`);
      return;
    }
    if (connection !== 'close' || this.closing) return;
    const code = lastDisconnect?.error?.output?.statusCode;
    this.sock = null;
    if (code === DisconnectReason.restartRequired) {
      // WhatsApp asks for exactly this right after a QR code is scanned: reconnect to finish linking.
      this.connectWhatsApp().catch((error) => this.end(`could not reconnect: ${error?.message || error}`, 1));
    } else if (code === DisconnectReason.loggedOut && this.options.login) {
      say('WhatsApp says this device was logged out; starting a fresh link.');
      for (const name of readdirSync(this.options.authDir)) rmSync(join(this.options.authDir, name), { recursive: true, force: true });
      this.connectWhatsApp().catch((error) => this.end(`could not reconnect: ${error?.message || error}`, 1));
    } else if (code === DisconnectReason.loggedOut) {
      this.setState('logged_out');
      this.end('WhatsApp logged this device out', 3);
    } else if (code === DisconnectReason.timedOut && this.options.login && this.state === 'qr') {
      this.setState('disconnected', { reason: 'the QR code was not scanned in time' });
      this.end('the QR code was not scanned in time', 4);
    } else {
      const reason = lastDisconnect?.error?.message || `status ${code}`;
      this.setState('disconnected', { reason });
      this.end(`WhatsApp connection closed: ${reason}`, 5);
    }
  }

  onMessages({ messages, type }, baileys, startedAt) {
    if (type !== 'notify') return;
    const me = [this.sock?.user?.id, this.sock?.user?.lid].filter(Boolean).map(bareJid);
    for (const msg of messages) {
      // No read receipts: the bridge does not know allowFrom, and marking a stranger's message
      // (on what may be the user's own number) as read would be wrong.
      const frame = messageFrame(msg, { startedAt, me, extract: baileys.extractMessageContent });
      if (frame) this.broadcast(frame);
    }
  }

  end(message, exitCode) {
    if (this.closing) return;
    this.closing = true;
    if (message) say(message);
    for (const ws of this.clients) ws.close(exitCode === 0 ? CLOSE_GOING_AWAY : CLOSE_WHATSAPP_ENDED, (message || '').slice(0, 120));
    try {
      this.sock?.end(undefined);
    } catch {
      // already closed
    }
    this.wss?.close();
    // Let the close frames leave before the process goes (the event loop may also empty first).
    process.exitCode = exitCode;
    setTimeout(() => process.exit(exitCode), 200);
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const token = (process.env.NANOFOLKS_BRIDGE_TOKEN || '').trim();
  if (token.length < 16) fail('NANOFOLKS_BRIDGE_TOKEN (at least 16 characters) must be set in the environment');
  process.umask(0o077); // the auth state is a login: owner-only files
  const bridge = new Bridge(options, token);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => bridge.end(null, 0));
  if (options.parentPipe) {
    // The parent keeps our stdin open; when it ends, the parent is gone (even after kill -9).
    process.stdin.on('end', () => bridge.end(null, 0));
    process.stdin.on('close', () => bridge.end(null, 0));
    process.stdin.resume();
  }
  let port;
  try {
    port = await bridge.listen();
  } catch (error) {
    fail(`cannot listen on ${options.host}:${options.port}: ${error?.message || error}`);
  }
  tell({ type: 'listening', port, pid: process.pid, version: VERSION });
  if (options.selftest) return;
  try {
    await bridge.connectWhatsApp();
  } catch (error) {
    bridge.setState('disconnected', { reason: error?.message || String(error) });
    bridge.end(`cannot start WhatsApp: ${error?.message || error}`, 1);
  }
}

// Run only as a program: a test may import messageFrame without starting a bridge.
const invokedAs = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (import.meta.url === invokedAs) main();
