// Which WhatsApp messages the bridge hands to the crew, and how it names their sender
// (run by test_whatsapp_bridge.py with `node --test`, next to a copy of index.mjs).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { messageFrame } from './index.mjs';

const ME = ['15550001111@s.whatsapp.net', '99990001111@lid'];
const NOW = 1_800_000_000;

const direct = (extra = {}) => ({
  key: { remoteJid: '1234567890@s.whatsapp.net', id: 'ABC', fromMe: false, ...extra.key },
  message: { conversation: 'hello crew' },
  pushName: 'Ada',
  messageTimestamp: NOW,
  ...extra.msg,
});

test('a direct text message becomes a message frame', () => {
  assert.deepEqual(messageFrame(direct(), { startedAt: NOW - 5, me: ME }), {
    type: 'message',
    id: 'ABC',
    from: '1234567890@s.whatsapp.net',
    lid: null,
    chat: '1234567890@s.whatsapp.net',
    text: 'hello crew',
    pushName: 'Ada',
    ts: NOW,
    fromMe: false,
    isGroup: false,
    mentioned: false,
  });
});

test('own messages, status updates, broadcasts, channels and replayed history are not handed on', () => {
  assert.equal(messageFrame(direct({ key: { fromMe: true } }), { me: ME }), null);
  for (const chat of ['status@broadcast', '1234@broadcast', '120363@newsletter']) {
    assert.equal(messageFrame(direct({ key: { remoteJid: chat } }), { me: ME }), null, chat);
  }
  assert.equal(messageFrame(direct(), { startedAt: NOW + 1, me: ME }), null);
});

test('media without a caption is skipped, a caption or an extended text is the text', () => {
  assert.equal(messageFrame(direct({ msg: { message: { imageMessage: { mimetype: 'image/jpeg' } } } })), null);
  const captioned = messageFrame(direct({ msg: { message: { imageMessage: { caption: 'look' } } } }));
  assert.equal(captioned.text, 'look');
  const extended = messageFrame(direct({ msg: { message: { extendedTextMessage: { text: 'a link' } } } }));
  assert.equal(extended.text, 'a link');
});

test('a sender known by a lid is named by phone number when WhatsApp gives one, the lid kept', () => {
  const frame = messageFrame(
    direct({ key: { remoteJid: '55512345@lid', remoteJidAlt: '1234567890@s.whatsapp.net' } }),
    { me: ME },
  );
  assert.equal(frame.from, '1234567890@s.whatsapp.net');
  assert.equal(frame.lid, '55512345@lid');
  assert.equal(frame.chat, '55512345@lid'); // replies go back to the chat as WhatsApp addressed it
  const lidOnly = messageFrame(direct({ key: { remoteJid: '55512345@lid' } }), { me: ME });
  assert.equal(lidOnly.from, '55512345@lid');
});

test('in groups the sender is the participant (device suffix dropped) and mentions are detected', () => {
  const group = (contextInfo) => ({
    key: { remoteJid: '120363025246125486@g.us', participant: '1234567890:3@s.whatsapp.net', id: 'G1' },
    message: { extendedTextMessage: { text: '@crew help', contextInfo } },
    messageTimestamp: NOW,
  });
  const plain = messageFrame(group(undefined), { me: ME });
  assert.equal(plain.from, '1234567890@s.whatsapp.net');
  assert.equal(plain.isGroup, true);
  assert.equal(plain.mentioned, false);
  assert.equal(messageFrame(group({ mentionedJid: ['15550001111@s.whatsapp.net'] }), { me: ME }).mentioned, true);
  assert.equal(messageFrame(group({ mentionedJid: ['99990001111@lid'] }), { me: ME }).mentioned, true);
  assert.equal(messageFrame(group({ participant: '15550001111:7@s.whatsapp.net' }), { me: ME }).mentioned, true);
  assert.equal(messageFrame(group({ mentionedJid: ['4444@s.whatsapp.net'] }), { me: ME }).mentioned, false);
});
