// The Equa web interface: pages rendered from the node's JSON-RPC queries, actions sent as the
// command line's own transaction commands to /api/act, where the node's wallet signs them.
'use strict';

let session = { address: null, unlocked: false, csrf: null };
let cache = { assets: null, market: null };
let teardown = [];

// ---------------------------------------------------------------------------------------------
// Elements and requests

function el(tag, props, ...kids) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.append(kid instanceof Node ? kid : String(kid));
  }
  return node;
}

function link(href, text) { return el('a', { href }, text); }

async function request(path, options) {
  const response = await fetch(path, Object.assign({ credentials: 'same-origin' }, options || {}));
  const body = await response.json().catch(() => ({ error: `the interface answered ${response.status}` }));
  if (!response.ok) {
    const error = new Error(body.error || `request failed (${response.status})`);
    error.body = body;
    error.status = response.status;
    throw error;
  }
  return body;
}

function post(path, body, extraHeaders) {
  return request(path, {
    method: 'POST',
    headers: Object.assign({ 'content-type': 'application/json' }, extraHeaders || {}),
    body: JSON.stringify(body),
  });
}

function q(method, ...params) { return post('/api/query', { method, params }); }

function act(args) {
  return post('/api/act', { args: args.map(String) }, { 'x-equa-csrf': session.csrf || '' });
}

/// Every transaction a page submits goes through here. It asks the node what the transaction
/// would do (`/api/preview`: its fee, or what the ledger would refuse, naming the field at
/// fault), shows `confirmation` (the action in words, with its amounts) with Confirm and
/// Cancel, and sends it only on Confirm. Resolves to the `/api/act` result, or to null when
/// the person cancels; throws what the preview or the ledger refused (with `.field`).
/// `progress(text)`, when given, hears what it is waiting for.
async function submitAction(args, confirmation, progress) {
  const say = progress || (() => {});
  args = args.map(String);
  const preview = await post('/api/preview', { args }, { 'x-equa-csrf': session.csrf || '' });
  if (preview.ok === false && preview.error) {
    const refused = new Error(preview.error.message);
    refused.field = preview.error.field;
    throw refused;
  }
  // Accounts by their published names where they have one.
  for (const move of preview.moves || []) {
    if (move.account && move.account !== session.address && !move.name) move.name = await nameOf(move.account);
  }
  say('Waiting for your confirmation…');
  if (!(await confirmDialog(confirmation, preview))) return null;
  say('Waiting for the network to finalize…');
  return act(args);
}

/// A modal question: the lines of `confirmation` (a string or a list of them), the fee and
/// effects of `preview` when there is one, and Confirm / Cancel. Resolves to true on Confirm.
function confirmDialog(confirmation, preview) {
  return new Promise(resolve => {
    const previous = document.activeElement;
    const lines = [].concat(confirmation).filter(Boolean);
    const fee = preview && preview.fee ? (typeof preview.fee === 'object' ? money(preview.fee) : String(preview.fee)) : null;
    const yes = el('button', { type: 'button', 'data-confirm': 'yes' }, 'Confirm');
    const no = el('button', { type: 'button', class: 'secondary', 'data-confirm': 'no' }, 'Cancel');
    const box = el('div', { class: 'dialog card', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'confirm-title', id: 'confirm' },
      el('h2', { id: 'confirm-title' }, 'Please confirm'),
      lines.map(line => el('p', { class: 'confirm-line' }, line)),
      fee ? el('p', { class: 'muted', id: 'confirm-fee' }, `Network fee: ${fee}`) : null,
      preview && preview.moves && preview.moves.length
        ? el('ul', { id: 'confirm-moves' }, preview.moves.map(m => el('li', {},
          `${m.account === session.address ? 'You' : (m.name || short(m.account))}: ${m.change}`))) : null,
      preview && preview.events && preview.events.length
        ? el('ul', { class: 'muted' }, preview.events.map(text => el('li', {}, text))) : null,
      el('div', { class: 'actions' }, yes, no));
    const overlay = el('div', { class: 'overlay' }, box);
    const close = answer => {
      overlay.remove();
      document.removeEventListener('keydown', onKey);
      if (previous && previous.focus) previous.focus();
      resolve(answer);
    };
    const onKey = event => { if (event.key === 'Escape') close(false); };
    yes.addEventListener('click', () => close(true));
    no.addEventListener('click', () => close(false));
    document.addEventListener('keydown', onKey);
    document.body.append(overlay);
    // Cancel has the focus: Enter alone never confirms an irreversible action.
    no.focus();
  });
}

async function assets() {
  if (!cache.assets) cache.assets = await q('equa_getAssets');
  return cache.assets;
}

async function marketParams() {
  if (!cache.market) cache.market = await q('equa_getMarketParams');
  return cache.market;
}

// ---------------------------------------------------------------------------------------------
// Formatting

function money(m) { return m ? `${m.amount} ${m.symbol}` : '–'; }
function fiat(f) { return f ? `${f.amount} ${f.currency}` : '–'; }
function short(address) { return address ? `${address.slice(0, 10)}…${address.slice(-6)}` : '–'; }
function when(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '–'; }
function words(text) { return String(text).replace(/_/g, ' '); }

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d) return `${d} ${d === 1 ? 'day' : 'days'}${h ? ` ${h} h` : ''}`;
  if (h) return `${h} h${m ? ` ${m} min` : ''}`;
  if (m) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${s % 60} s`;
}

/// The chain's clock: the latest block's time carried forward by this device's clock. The ledger
/// judges every deadline by block time, so a device whose clock is wrong must not change what a
/// page offers or warns about. Set again on every page load (`route`).
let clockOffset = 0;
function chainNow() { return Date.now() + clockOffset; }
async function syncClock() {
  const status = await q('equa_status').catch(() => null);
  if (status && status.timestamp_ms) clockOffset = status.timestamp_ms - Date.now();
}

/// A deadline that counts down every second (see `tick`).
function deadline(ms) {
  const node = el('span', { class: 'deadline', 'data-deadline': ms, title: when(ms) });
  renderDeadline(node);
  return node;
}

function renderDeadline(node) {
  const left = Number(node.dataset.deadline) - chainNow();
  node.textContent = left > 0 ? `${duration(left)} left` : `passed ${duration(-left)} ago`;
  node.classList.toggle('passed', left <= 0);
}

setInterval(() => document.querySelectorAll('[data-deadline]').forEach(renderDeadline), 1000);

function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function table(headers, rows, empty) {
  if (!rows.length) return el('p', { class: 'muted' }, empty);
  return el('table', { class: 'responsive' },
    el('thead', {}, el('tr', {}, headers.map(h => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.map(cells => el('tr', {}, cells.map((cell, i) => el('td', { 'data-label': headers[i] }, cell))))));
}

function standing(s, name) {
  return el('span', {},
    name ? el('strong', {}, name) : null, name ? ' ' : null,
    el('span', { class: 'badge' }, s.tier_name),
    ` ${s.completed_trades} trades (${s.counted_trades} counted, ${s.counterparties} counterparties) · ${s.completion_rate} completed · `,
    s.rating ? `★ ${s.rating} (${s.ratings})` : 'no ratings');
}

// ---------------------------------------------------------------------------------------------
// Forms: every wallet action is a `form`, which asks `submitAction` to confirm and send it and
// shows the outcome or the error next to the field it concerns.

let fieldCounter = 0;

function field(spec) {
  const id = `f${++fieldCounter}`;
  let input;
  if (spec.type === 'select') {
    input = el('select', { id, name: spec.name },
      spec.options.map(([value, label]) => el('option', { value, selected: value === spec.value }, label)));
  } else if (spec.type === 'textarea') {
    input = el('textarea', { id, name: spec.name, rows: 2 }, spec.value || '');
  } else {
    input = el('input', {
      id, name: spec.name, type: spec.type || 'text', value: spec.value ?? '',
      inputmode: spec.inputmode, autocomplete: spec.autocomplete || 'off', placeholder: spec.placeholder,
      required: spec.required,
    });
  }
  const error = el('span', { class: 'error', id: `${id}-error`, 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', `${id}-error`);
  return el('div', { class: 'field', 'data-field': spec.name, 'data-match': (spec.match || [spec.name]).join('|') },
    el('label', { for: id }, spec.label), input, spec.hint ? el('span', { class: 'hint' }, spec.hint) : null, error);
}

/// A form that sends `build(values)` (the words of a transaction command) to the wallet, then
/// calls `after(result)`. A `build` that throws an Error with `.field` marks that field.
function form({ title, fields, submit, build, confirm, after, danger, inline, extra }) {
  const status = el('p', { role: 'status', class: 'ok' });
  const alert = el('p', { role: 'alert', class: 'error' });
  const button = el('button', { type: 'submit', class: danger ? 'danger' : null }, submit);
  const node = el('form', { class: inline ? 'row' : 'stack', novalidate: true },
    title ? el('h2', {}, title) : null, fields.map(field), extra || null,
    el('div', { class: 'actions' }, button), alert, status);
  node.addEventListener('submit', async event => {
    event.preventDefault();
    status.textContent = '';
    alert.textContent = '';
    node.querySelectorAll('.field .error').forEach(e => { e.textContent = ''; });
    node.querySelectorAll('[aria-invalid]').forEach(e => e.removeAttribute('aria-invalid'));
    if (!session.unlocked) {
      alert.textContent = 'Unlock the wallet first: enter its password at the top of the page.';
      notify('error', `${submit}: ${alert.textContent}`);
      return;
    }
    const values = Object.fromEntries(new FormData(node).entries());
    button.disabled = true;
    try {
      const args = await build(values);
      const question = confirm ? await confirm(values, args) : `${submit}?`;
      const result = await submitAction(args, question, text => { status.textContent = text; });
      if (!result) {
        status.textContent = 'Cancelled: nothing was sent.';
        return;
      }
      status.textContent = `Done: included in block ${result.receipt.height}.`;
      notify('done', `${submit}: done, included in block ${result.receipt.height}.`);
      if (after) await after(result);
    } catch (error) {
      status.textContent = '';
      showError(node, alert, error);
      notify('error', `${submit}: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

/// The outcome of the last action, kept across pages (an action may move to a new page).
function notify(outcome, text) {
  const notice = document.getElementById('notice');
  notice.textContent = text;
  notice.className = outcome === 'done' ? 'ok' : 'error';
  notice.dataset.outcome = outcome;
  notice.dataset.seq = String(Number(notice.dataset.seq || 0) + 1);
  notice.dataset.at = String(Date.now());
}

function showError(node, alert, error) {
  const message = error.message || String(error);
  const fields = [...node.querySelectorAll('.field')];
  // Errors name what they are about first ("price \"0.955\": …"): the field named earliest wins.
  const lower = message.toLowerCase();
  const position = f => Math.min(...f.dataset.match.split('|').filter(Boolean)
    .map(word => lower.indexOf(word.toLowerCase())).filter(at => at >= 0), Infinity);
  const named = fields.filter(f => position(f) < Infinity).sort((a, b) => position(a) - position(b));
  const target = fields.find(f => f.dataset.field === error.field) || named[0];
  if (target) {
    target.querySelector('.error').textContent = message;
    target.querySelector('input, select, textarea').setAttribute('aria-invalid', 'true');
    target.querySelector('input, select, textarea').focus();
  } else {
    alert.textContent = message;
  }
}

function required(values, name, label) {
  const value = (values[name] || '').trim();
  if (!value) {
    const error = new Error(`${label} is required`);
    error.field = name;
    throw error;
  }
  return value;
}

/// A single button that sends one command, after confirming `confirm` (words, or a function
/// of nothing that returns them).
function button(label, args, after, danger, confirm) {
  const question = typeof confirm === 'function' ? confirm : () => confirm || `${label}?`;
  return form({ fields: [], submit: label, build: () => args, confirm: question, after, danger, inline: true });
}

/// The id a transaction created: `field` of its first event of `kind` (events are typed data).
function newId(result, kind, field) {
  const event = (result.receipt.events || []).find(e => e.kind === kind);
  return event ? String(event[field]) : null;
}

async function assetOptions() {
  return (await assets()).map(a => [a.symbol, `${a.symbol} — ${a.name}`]);
}

// ---------------------------------------------------------------------------------------------
// Session

async function loadSession() {
  session = await request('/api/session');
  renderSession();
}

/// After an unlock: a wallet without a published chat key cannot be written to in a trade, nor
/// show its chat to an arbitrator. Offer to publish one (a transaction, so the user decides).
async function offerChatKey() {
  const previous = document.getElementById('chat-key-offer');
  if (previous) previous.remove();
  const reputation = await q('equa_getReputation', session.address).catch(() => null);
  if (!session.unlocked || !reputation || reputation.chat_key) return;
  const box = el('section', { class: 'card', id: 'chat-key-offer', 'aria-label': 'Publish your chat key' });
  const notNow = el('button', { type: 'button', class: 'secondary', onclick: () => box.remove() }, 'Not now');
  box.append(
    el('p', {}, 'This wallet has not published its chat key: trade partners cannot write to you, and a dispute cannot show your chat to the arbitrator. Publish it now, with the name others will see?'),
    form({
      inline: true, submit: 'Publish chat key',
      fields: [{ name: 'name', label: 'Display name', value: reputation.name || '', match: ['name'] }],
      build: v => ['profile', 'set', '--name', required(v, 'name', 'A display name')],
      confirm: v => `Publish the display name "${v.name.trim()}" and your chat key, so trade partners can send you encrypted messages`,
      after: () => { box.remove(); route(); },
      extra: notNow,
    }));
  document.getElementById('notice').after(box);
}

function renderSession() {
  const previousOffer = document.getElementById('chat-key-offer');
  if (previousOffer && !session.unlocked) previousOffer.remove();
  const box = document.getElementById('session');
  box.replaceChildren();
  const who = el('span', { class: 'mono', title: session.address }, short(session.address));
  if (session.unlocked) {
    box.append(who, el('span', { class: 'badge' }, 'unlocked'),
      el('button', { type: 'button', class: 'secondary', onclick: async () => {
        await post('/api/lock', {}, { 'x-equa-csrf': session.csrf || '' }).catch(() => {});
        await loadSession();
        route();
      } }, 'Lock'));
    return;
  }
  const error = el('span', { class: 'error', role: 'alert', id: 'unlock-error' });
  const password = el('input', { type: 'password', id: 'unlock-password', name: 'password', autocomplete: 'current-password', 'aria-describedby': 'unlock-error' });
  const unlock = el('form', { onsubmit: async event => {
    event.preventDefault();
    error.textContent = '';
    try {
      session = await post('/api/unlock', { password: password.value });
      password.value = '';
      renderSession();
      route();
      offerChatKey();
    } catch (e) {
      error.textContent = e.message;
      password.setAttribute('aria-invalid', 'true');
    }
  } }, who, el('label', { for: 'unlock-password' }, 'Wallet password'), password, el('button', { type: 'submit' }, 'Unlock'), error);
  box.append(unlock);
}

// ---------------------------------------------------------------------------------------------
// Pages

async function marketPage(view) {
  const [assetList, params] = await Promise.all([assets(), marketParams()]);
  const results = el('div');
  const filters = el('form', { class: 'row card', 'aria-label': 'Filter offers' },
    field({ name: 'side', label: 'I want to', type: 'select', options: [['', 'buy or sell'], ['sell', 'buy (maker sells)'], ['buy', 'sell (maker buys)']] }),
    field({ name: 'asset', label: 'Asset', type: 'select', options: [['', 'any']].concat(assetList.map(a => [a.symbol, a.symbol])) }),
    field({ name: 'fiat', label: 'Fiat currency', placeholder: 'EUR', match: ['fiat', 'currency'] }),
    field({ name: 'method', label: 'Payment method', type: 'select', options: [['', 'any']].concat(params.methods.map(m => [m.code, m.name])) }),
    field({ name: 'amount', label: 'Amount', placeholder: 'e.g. 25', inputmode: 'decimal' }),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Search')));
  const alert = el('p', { role: 'alert', class: 'error' });
  async function search() {
    alert.textContent = '';
    filters.querySelectorAll('.field .error').forEach(e => { e.textContent = ''; });
    const values = Object.fromEntries(new FormData(filters).entries());
    const query = {};
    for (const [key, value] of Object.entries(values)) if (value.trim()) query[key] = value.trim();
    if (query.fiat) query.fiat = query.fiat.toUpperCase();
    if (query.amount && !query.asset) {
      showError(filters, alert, Object.assign(new Error('choose the asset the amount is in'), { field: 'asset' }));
      return;
    }
    query.limit = 50;
    try {
      const offers = await q('equa_listOffers', query);
      results.replaceChildren(table(
        ['Offer', 'Price', 'Limits', 'Payment', 'Maker', ''],
        offers.map(o => [
          el('span', {}, el('span', { class: `badge ${o.side}` }, o.side === 'sell' ? 'maker sells' : 'maker buys'), ` #${o.id}`),
          el('strong', {}, `${o.price.amount} ${o.price.currency}`),
          `${o.min_amount.amount}–${money(o.max_amount)}`,
          o.methods.map(m => m.name).join(', '),
          standing(o.maker_standing, o.maker_name),
          link(`#/offer/${o.id}`, o.maker === session.address ? 'Manage' : (o.side === 'sell' ? 'Buy' : 'Sell')),
        ]),
        'No open offers match these filters.'));
    } catch (error) {
      showError(filters, alert, error);
    }
  }
  filters.addEventListener('submit', event => { event.preventDefault(); search(); });
  view.append(el('h1', {}, 'Market'),
    el('p', {}, link('#/offer/new', 'Create an offer')),
    filters, alert, results);
  await search();
}

async function offerPage(view, id) {
  const offer = await q('equa_getOffer', Number(id));
  if (!offer) { view.append(el('h1', {}, `No offer #${id}`)); return; }
  const mine = offer.maker === session.address;
  view.append(el('h1', {}, `Offer #${offer.id}: maker ${offer.side}s ${offer.max_amount.symbol}`),
    el('div', { class: 'card' }, facts([
      ['Price', `${offer.price.amount} ${offer.price.currency} per ${offer.max_amount.symbol}`],
      ['Limits', `${offer.min_amount.amount} – ${money(offer.max_amount)}`],
      ['Payment methods', offer.methods.map(m => `${m.name} (${m.risk} chargeback risk)`).join(', ')],
      ['Payment window', offer.methods.map((m, i) => offer.trade_window_secs[i] > offer.payment_window_secs
        ? `${duration(offer.trade_window_secs[i] * 1000)} by ${m.name} (its minimum; the offer asks ${duration(offer.payment_window_secs * 1000)})`
        : `${duration(offer.trade_window_secs[i] * 1000)} by ${m.name}`).join(' · ')],
      ['Deposits', `buyer ${offer.buyer_deposit_bps / 100}% · seller ${offer.seller_deposit_bps / 100}%`],
      ['Maker', el('span', {}, link(`#/account/${offer.maker}`, short(offer.maker)), ' ', standing(offer.maker_standing, offer.maker_name))],
      offer.terms ? ['Terms', offer.terms] : null,
      offer.min_taker_trades ? ['Takers need', `${offer.min_taker_trades} completed trades`] : null,
    ])));
  if (mine) {
    view.append(el('p', {}, link(`#/offer/${offer.id}/edit`, 'Edit this offer')),
      button('Cancel offer', ['offer', 'cancel', offer.id], () => { location.hash = '#/market'; }, true,
        `Cancel offer #${offer.id}: the ${money(offer.max_amount)} not yet taken and its deposit come back to your wallet; open trades carry on`));
    return;
  }
  const symbol = offer.max_amount.symbol;
  const decimals = await decimalsOf(symbol);
  const makerName = await nameOf(offer.maker);
  const choice = m => m.index === null ? `custom:${m.name}` : m.code;
  // What a take of `values` means, computed as the ledger does: the fiat total is the amount
  // times the price, rounded up to the cent; the payment window is the larger of the offer's
  // and the method's minimum (`trade_window_secs`, per method).
  const terms = values => {
    const index = Math.max(0, offer.methods.findIndex(m => choice(m) === values.method));
    const method = offer.methods[index];
    const windowText = duration(offer.trade_window_secs[index] * 1000);
    const longer = offer.trade_window_secs[index] > offer.payment_window_secs;
    const minor = toMinor(values.amount, decimals);
    const unit = 10n ** BigInt(decimals);
    const fiatMinor = minor === null ? null : (minor * BigInt(offer.price.minor_units) + unit - 1n) / unit;
    const fiatText = fiatMinor === null ? null : `${formatFixed(fiatMinor, 2)} ${offer.price.currency}`;
    return { method, windowText, longer, fiatText };
  };
  const summary = el('p', { id: 'take-summary', 'aria-live': 'polite' });
  const describe = values => {
    const t = terms(values);
    const pay = offer.side === 'sell' ? 'You pay' : 'You receive';
    summary.textContent = `${t.fiatText ? `${pay} ${t.fiatText}` : `Enter an amount to see the ${offer.price.currency} total`} by ${t.method.name}; `
      + `the buyer has ${t.windowText} to pay${t.longer ? ` (the minimum ${t.method.name} requires, longer than the offer's ${duration(offer.payment_window_secs * 1000)})` : ''}.`;
  };
  const takeForm = form({
    title: offer.side === 'sell' ? `Buy ${symbol}` : `Sell ${symbol}`,
    fields: [
      { name: 'amount', label: `Amount (${symbol})`, hint: `between ${offer.min_amount.amount} and ${offer.max_amount.amount}`, inputmode: 'decimal', match: ['amount', 'decimal', 'limit'] },
      { name: 'method', label: 'Payment method', type: 'select', options: offer.methods.map(m => [choice(m), m.name]), match: ['method'] },
    ],
    extra: summary,
    submit: 'Take offer',
    // The take names the revision of the terms shown on this page, so a change by the maker
    // after the page was read fails the take instead of binding the taker to it.
    build: v => ['trade', 'take', offer.id, required(v, 'amount', 'Amount'), symbol, '--method', v.method, '--revision', offer.revision],
    confirm: v => {
      const t = terms(v);
      if (!t.fiatText) {
        throw Object.assign(new Error(`amount "${v.amount.trim()}": write a number with at most ${decimals} decimals`), { field: 'amount' });
      }
      const amount = `${v.amount.trim()} ${symbol}`;
      return offer.side === 'sell'
        ? [`Buy ${amount} from ${makerName} for ${t.fiatText}, paid by ${t.method.name}.`,
          `You must pay within ${t.windowText} of taking, then mark the trade paid. Your deposit of ${offer.buyer_deposit_bps / 100}% is held until the trade ends.`]
        : [`Sell ${amount} to ${makerName} for ${t.fiatText}, paid to you by ${t.method.name}.`,
          `${amount} and your deposit of ${offer.seller_deposit_bps / 100}% go into escrow now; the buyer has ${t.windowText} to pay.`];
    },
    after: result => {
      const trade = newId(result, 'trade_opened', 'trade');
      if (trade) location.hash = `#/trade/${trade}`;
    },
  });
  const update = () => describe(Object.fromEntries(new FormData(takeForm).entries()));
  takeForm.addEventListener('input', update);
  takeForm.addEventListener('change', update);
  update();
  view.append(el('div', { class: 'card' }, takeForm));
}

function offerFields(params, assetChoices, current) {
  const methods = params.methods.map(m => [m.code, `${m.name}${m.currencies && m.currencies.length ? ` (${m.currencies.join(', ')})` : ''}`]);
  return [
    current ? null : { name: 'side', label: 'I want to', type: 'select', options: [['sell', 'sell the asset for fiat'], ['buy', 'buy the asset with fiat']] },
    current ? null : { name: 'symbol', label: 'Asset', type: 'select', options: assetChoices, match: ['asset'] },
    { name: 'max', label: 'Most per trade (total)', value: current ? current.max_amount.amount : '', inputmode: 'decimal', match: ['max', 'decimal', 'amount'] },
    { name: 'min', label: 'Least per trade', value: current ? current.min_amount.amount : '', hint: 'empty: the whole amount', inputmode: 'decimal', match: ['min'] },
    { name: 'price', label: 'Price (fiat per unit)', value: current ? current.price.amount : '', inputmode: 'decimal', match: ['price'] },
    current ? null : { name: 'fiat', label: 'Fiat currency', placeholder: 'EUR', match: ['fiat', 'currency'] },
    current ? null : { name: 'method', label: 'Payment method', type: 'select', options: methods, match: ['method'] },
    { name: 'window', label: 'Payment window (minutes)', value: current ? String(current.payment_window_secs / 60) : '60', inputmode: 'numeric', match: ['window'] },
    current ? null : { name: 'deposit', label: 'Security deposit (basis points)', value: '1500', inputmode: 'numeric', hint: '1500 = 15% of the amount, from each side', match: ['deposit'] },
    { name: 'terms', label: 'Terms', type: 'textarea', value: current ? current.terms : '', match: ['terms'] },
  ].filter(Boolean);
}

async function offerFormPage(view, id) {
  const [params, choices] = await Promise.all([marketParams(), assetOptions()]);
  if (id) {
    const offer = await q('equa_getOffer', Number(id));
    if (!offer) { view.append(el('h1', {}, `No offer #${id}`)); return; }
    view.append(el('h1', {}, `Edit offer #${id}`), el('div', { class: 'card' }, form({
      fields: offerFields(params, choices, offer),
      submit: 'Save changes',
      build: v => {
        const args = ['offer', 'update', id, '--price', required(v, 'price', 'Price'), '--max', required(v, 'max', 'The most per trade'),
          '--window-mins', required(v, 'window', 'The payment window'), '--terms', v.terms || ''];
        if (v.min.trim()) args.push('--min', v.min.trim());
        return args;
      },
      confirm: v => `Change offer #${id}: ${v.price.trim()} ${offer.price.currency} per ${offer.max_amount.symbol}, at most ${v.max.trim()} ${offer.max_amount.symbol} in all, a payment window of ${duration(Number(v.window) * 60000)}. Takers who read the old terms will be refused.`,
      after: () => { location.hash = `#/offer/${id}`; },
    })));
    return;
  }
  // The window a trade gets is the larger of the offer's and the chosen method's minimum.
  const windowNote = el('p', { id: 'window-note', class: 'hint', 'aria-live': 'polite' });
  const windowOf = v => {
    const method = params.methods.find(m => m.code === v.method);
    const asked = Math.max(0, Number(v.window) || 0) * 60;
    return { method, asked, real: Math.max(asked, method ? method.min_window_secs : 0) };
  };
  const createForm = form({
    fields: offerFields(params, choices, null),
    extra: windowNote,
    submit: 'Create offer',
    confirm: v => {
      const w = windowOf(v);
      const what = v.side === 'sell'
        ? `Sell up to ${v.max.trim()} ${v.symbol} at ${v.price.trim()} ${v.fiat.trim().toUpperCase()} each, paid by ${w.method ? w.method.name : v.method}.`
        : `Buy up to ${v.max.trim()} ${v.symbol} at ${v.price.trim()} ${v.fiat.trim().toUpperCase()} each, paying by ${w.method ? w.method.name : v.method}.`;
      const locked = v.side === 'sell'
        ? `${v.max.trim()} ${v.symbol} and your deposit of ${Number(v.deposit) / 100}% are locked in the offer until taken or cancelled.`
        : `Your deposit of ${Number(v.deposit) / 100}% is locked in the offer until taken or cancelled.`;
      return [what, locked, `Buyers get ${duration(w.real * 1000)} to pay.`];
    },
    build: v => {
      const args = ['offer', 'create', v.side, required(v, 'max', 'The most per trade'), v.symbol,
        '--price', required(v, 'price', 'Price'), '--fiat', required(v, 'fiat', 'Fiat currency').toUpperCase(),
        '--method', v.method, '--window-mins', required(v, 'window', 'The payment window'),
        '--deposit-bps', required(v, 'deposit', 'The deposit')];
      if (v.min.trim()) args.push('--min', v.min.trim());
      if (v.terms.trim()) args.push('--terms', v.terms.trim());
      return args;
    },
    after: result => {
      const offer = newId(result, 'offer_created', 'offer');
      location.hash = offer ? `#/offer/${offer}` : '#/market';
    },
  });
  const note = () => {
    const w = windowOf(Object.fromEntries(new FormData(createForm).entries()));
    if (!w.method) { windowNote.textContent = ''; return; }
    windowNote.textContent = w.real > w.asked
      ? `${w.method.name} needs at least ${duration(w.method.min_window_secs * 1000)} to pay: trades by it get ${duration(w.real * 1000)}, not ${duration(w.asked * 1000)}.`
      : `Trades by ${w.method.name} get ${duration(w.real * 1000)} to pay (${w.method.name} needs at least ${duration(w.method.min_window_secs * 1000)}).`;
  };
  createForm.addEventListener('input', note);
  createForm.addEventListener('change', note);
  note();
  view.append(el('h1', {}, 'Create an offer'), el('div', { class: 'card' }, createForm));
}

function roleIn(trade, me) {
  if (me === trade.buyer) return 'buyer';
  if (me === trade.seller) return 'seller';
  if (me && me === trade.arbitrator) return 'arbitrator';
  return 'observer';
}

async function tradesPage(view, arbitratorOnly) {
  const trades = await q('equa_listTrades', session.address);
  const mine = trades.filter(t => (roleIn(t, session.address) === 'arbitrator') === arbitratorOnly);
  view.append(el('h1', {}, arbitratorOnly ? 'Disputes assigned to you' : 'My trades'),
    table(['Trade', 'State', 'Role', 'Amount', 'Fiat', 'Counterparty', 'Deadline'],
      mine.map(t => [
        link(`#/trade/${t.id}`, `#${t.id}`), el('span', { class: 'state' }, words(t.state)), roleIn(t, session.address),
        money(t.amount), fiat(t.fiat_amount),
        short(roleIn(t, session.address) === 'buyer' ? t.seller : t.buyer),
        t.state === 'awaiting_payment' ? deadline(t.payment_deadline_ms)
          : t.state === 'paid' ? deadline(t.release_deadline_ms)
            : t.state === 'disputed' && t.ruling_deadline_ms ? deadline(t.ruling_deadline_ms) : '–',
      ]),
      arbitratorOnly ? 'No disputes are assigned to this wallet.' : 'No trades yet. Take an offer on the market.'));
  if (arbitratorOnly) {
    const arbitrators = await q('equa_listArbitrators');
    const me = arbitrators.find(a => a.account === session.address);
    view.append(el('div', { class: 'card' }, me
      ? el('div', {}, el('p', {}, `You are registered with a bond of ${money(me.bond)}${me.leaving_at_ms ? `, leaving: the bond can be withdrawn after ${when(me.leaving_at_ms)}` : ''}.`),
        me.leaving_at_ms ? button('Withdraw bond', ['arbitrator', 'withdraw-bond'], () => route(), false, `Withdraw your bond of ${money(me.bond)} to your wallet and stop being an arbitrator`)
          : button('Stop taking disputes', ['arbitrator', 'unregister'], () => route(), true, 'Stop taking new disputes: your bond stays locked until the leaving period ends, then you can withdraw it'))
      : form({
        title: 'Become an arbitrator', submit: 'Register as arbitrator',
        fields: [
          { name: 'bond', label: 'Bond (EQA)', inputmode: 'decimal', hint: 'locked while you arbitrate; lost rulings can cost it', match: ['bond', 'decimal'] },
          { name: 'fee', label: 'Fee (basis points of the trade)', value: '100', inputmode: 'numeric', match: ['fee'] },
          { name: 'languages', label: 'Languages', value: 'en', match: ['language'] },
        ],
        build: v => ['arbitrator', 'register', '--bond', required(v, 'bond', 'The bond'), '--fee-bps', required(v, 'fee', 'The fee'), '--languages', required(v, 'languages', 'Languages')],
        confirm: v => `Register as an arbitrator: lock a bond of ${v.bond.trim()} EQA and charge ${Number(v.fee) / 100}% of each disputed trade, paid by the party at fault`,
        after: () => route(),
      })));
    view.append(el('h2', {}, 'Arbitrators'), table(['Arbitrator', 'Bond', 'Fee', 'Languages', 'Cases', 'Median ruling'],
      arbitrators.map(a => [
        el('span', {}, a.name ? el('strong', {}, `${a.name} `) : null, el('span', { class: 'mono' }, short(a.account))),
        money(a.bond), `${a.fee_bps / 100}%`, a.languages, `${a.cases} (${a.open_cases} open)`,
        a.median_ruling_secs === null ? '–' : duration(a.median_ruling_secs * 1000),
      ]), 'No arbitrators are registered.'));
  }
}

/// Dispute reasons (types::market::DisputeReason): the side that may give each, or null for both.
const DISPUTE_REASONS = [
  ['paid-not-released', 'I paid and the seller does not release', 'buyer'],
  ['payment-not-received', 'The payment has not arrived', 'seller'],
  ['wrong-amount', 'The payment arrived with a different amount', 'seller'],
  ['third-party-payment', "The payment came from someone else's account", 'seller'],
  ['unresponsive', 'The other party does not answer', null],
  ['other', 'Another reason (say which in the note)', null],
];
const MAX_DISPUTE_NOTE_BYTES = 280;
/// The longest payment details for one method (client::details::MAX_DETAILS_BYTES).
const MAX_DETAILS_BYTES = 1024;
/// A chat message's ciphertext holds at most 4,096 bytes: the text plus a 12-byte nonce and a
/// 16-byte tag (types::market::MAX_MESSAGE_BYTES, client::chat).
const MAX_CHAT_TEXT_BYTES = 4096 - 28;

/// The UTF-8 length of `text`, which is what the ledger limits.
function utf8Bytes(text) {
  return new TextEncoder().encode(text).length;
}

/// `values[name]`, trimmed, refused in its field when longer than `max` bytes.
function limited(values, name, label, max) {
  const value = (values[name] || '').trim();
  const bytes = utf8Bytes(value);
  if (bytes > max) {
    const error = new Error(`${label} is ${bytes} bytes long; at most ${max} fit`);
    error.field = name;
    throw error;
  }
  return value;
}

function disputeForm(trade, role, what, escrow, after) {
  const reasons = DISPUTE_REASONS.filter(([, , side]) => side === null || side === role);
  return form({
    title: 'Open a dispute', submit: 'Open dispute', danger: true,
    fields: [
      { name: 'reason', label: 'Reason', type: 'select', value: '', options: [['', 'choose…'], ...reasons.map(([value, label]) => [value, label])] },
      { name: 'note', label: `Note (optional, public, at most ${MAX_DISPUTE_NOTE_BYTES} bytes)`, type: 'textarea', match: ['note'],
        hint: 'Everyone can read the reason and the note. Put account details and evidence in the encrypted chat, then show the chat to the arbitrator.' },
    ],
    build: v => {
      const reason = required(v, 'reason', 'The reason');
      const note = limited(v, 'note', 'The note', MAX_DISPUTE_NOTE_BYTES);
      return note ? ['trade', 'dispute', trade.id, '--reason', reason, '--note', note] : ['trade', 'dispute', trade.id, '--reason', reason];
    },
    confirm: v => {
      const reason = DISPUTE_REASONS.find(([value]) => value === v.reason)[1];
      return [`Open a dispute on trade #${trade.id} (${what}): “${reason}”.`,
        `An arbitrator will decide how the escrow of ${escrow} is split. The reason and the note are public.`];
    },
    after,
  });
}

function tradeActions(trade, role, chat, names, decimals) {
  const now = chainNow();
  const id = trade.id;
  const reload = () => {};
  const parts = [];
  const amount = money(trade.amount);
  const fiatText = fiat(trade.fiat_amount);
  const escrow = `${amount} and both deposits`;
  if (role === 'buyer' && trade.state === 'awaiting_payment') {
    parts.push(form({
      inline: true, submit: 'I have paid',
      fields: [{ name: 'reference', label: 'Payment reference (optional, kept private: only its hash is recorded)', match: ['reference'] }],
      build: v => v.reference.trim() ? ['trade', 'paid', id, '--reference', v.reference.trim()] : ['trade', 'paid', id],
      confirm: () => `Mark trade #${id} paid: I have sent ${fiatText} to ${names.seller} by ${trade.method.name}. Only say so once the payment has left your account.`,
      after: reload,
    }));
    // After the window a cancel settles as a timeout: say so before the buyer presses it.
    const late = now > trade.payment_deadline_ms;
    parts.push(button(late ? 'Cancel trade (the payment window has passed: your deposit goes to the seller)' : 'Cancel trade',
      ['trade', 'cancel', id], reload, true,
      late ? `Cancel trade #${id}: the payment window has passed, so your deposit of ${money(trade.buyer_deposit)} goes to ${names.seller}, and ${amount} goes back to the seller.`
        : `Cancel trade #${id}: ${amount} goes back to ${names.seller} and your deposit of ${money(trade.buyer_deposit)} back to you. Do not cancel if you have paid.`));
  }
  if (role === 'seller' && trade.state === 'awaiting_payment' && now > trade.payment_deadline_ms) {
    parts.push(button('Claim timeout', ['trade', 'claim-timeout', id], reload, false,
      `Claim the timeout of trade #${id}: ${names.buyer} did not mark paid in time, so ${amount}, your deposit and the buyer's deposit of ${money(trade.buyer_deposit)} come to you.`));
  }
  if (role === 'seller' && trade.state === 'paid') {
    parts.push(button('Release escrow', ['trade', 'release', id], reload, false,
      [`Release ${amount} to ${names.buyer}: I have received ${fiatText}.`,
        'Check your account first: a release cannot be undone.']));
    parts.push(disputeForm(trade, role, `${amount} for ${fiatText}`, escrow, reload));
  }
  if (role === 'buyer' && trade.state === 'paid' && now > trade.release_deadline_ms) {
    parts.push(disputeForm(trade, role, `${amount} for ${fiatText}`, escrow, reload));
  }
  // A key is sealed to the arbitrator now assigned: none while the pick waits, and a new one
  // after a reassignment (the previous arbitrator's copy stays with it).
  if (trade.state === 'disputed' && trade.arbitrator && (role === 'buyer' || role === 'seller')) {
    const revealed = role === 'buyer' ? chat && chat.revealed_by_buyer : chat && chat.revealed_by_seller;
    if (!revealed) {
      parts.push(button('Show the chat to the arbitrator', ['trade', 'reveal-key', id], reload, false,
        `Let the arbitrator ${names.arbitrator} read this trade's chat, every message so far and later.`));
    }
  }
  if (role === 'arbitrator' && trade.state === 'disputed') {
    // The ruling starts empty: the arbitrator decides every part of it.
    parts.push(form({
      title: 'Rule', submit: 'Rule',
      fields: [
        { name: 'to_buyer', label: `To the buyer (of ${amount}; the seller gets the rest)`, value: '', inputmode: 'decimal', match: ['buyer', 'amount', 'decimal'] },
        { name: 'at_fault', label: 'At fault (pays the arbitration fee)', type: 'select', options: [['', 'choose…'], ['seller', 'the seller'], ['buyer', 'the buyer']], value: '' },
      ],
      build: v => {
        const toBuyer = required(v, 'to_buyer', 'The amount to the buyer');
        required(v, 'at_fault', 'Who is at fault');
        return ['arbitrator', 'rule', id, '--to-buyer', toBuyer, '--at-fault', v.at_fault];
      },
      confirm: v => {
        const toBuyer = toMinor(v.to_buyer, decimals);
        const total = BigInt(trade.amount.minor_units);
        const rest = toBuyer !== null && toBuyer <= total ? `${formatMinor(total - toBuyer, decimals)} ${trade.amount.symbol}` : 'the rest';
        const [fault, other] = v.at_fault === 'buyer' ? [names.buyer, names.seller] : [names.seller, names.buyer];
        const deposit = money(v.at_fault === 'buyer' ? trade.buyer_deposit : trade.seller_deposit);
        // The ledger's rule (market::disputes::rule): the fee comes from the at-fault party's
        // deposit, the rest of that deposit goes to the other party, who keeps its own.
        return [`Rule on trade #${id}: ${v.to_buyer.trim()} ${trade.amount.symbol} to the buyer ${names.buyer} and ${rest} to the seller ${names.seller}.`,
          `${fault} (the ${v.at_fault}) is at fault: its deposit of ${deposit} pays your fee and the rest of it goes to ${other}, who also gets its own deposit back. A ruling is final.`];
      },
      after: reload,
    }));
  }
  if (trade.state === 'disputed' && trade.ruling_deadline_ms && now > trade.ruling_deadline_ms) {
    parts.push(button('Reassign to another arbitrator', ['trade', 'reassign', id], reload, false,
      `Take dispute #${id} from its arbitrator, who missed the ruling deadline, and give it to another one`));
  }
  const settled = ['completed', 'cancelled', 'timed_out', 'resolved'].includes(trade.state);
  if (settled && ((role === 'buyer' && !trade.rated_by_buyer) || (role === 'seller' && !trade.rated_by_seller))) {
    const other = role === 'buyer' ? names.seller : names.buyer;
    parts.push(form({
      inline: true, submit: 'Rate',
      fields: [{ name: 'stars', label: `Rate the ${role === 'buyer' ? 'seller' : 'buyer'}`, type: 'select', value: '5', options: [['5', '★★★★★ 5'], ['4', '★★★★ 4'], ['3', '★★★ 3'], ['2', '★★ 2'], ['1', '★ 1']] }],
      build: v => ['trade', 'rate', id, v.stars],
      confirm: v => `Rate ${other} ${v.stars} of 5 for trade #${id}: the rating is public and final`,
      after: reload,
    }));
  }
  return parts;
}

/// How a settled trade ended and its timeline, from the ledger (`equa_getTradeOutcome`).
function outcomeSection(outcome, trade, names) {
  if (!outcome) return null;
  const s = outcome.settlement;
  return el('section', { class: 'card', id: 'trade-outcome', 'aria-label': 'Outcome and timeline' },
    s || outcome.explanation.length ? el('h2', {}, 'Outcome') : null,
    outcome.explanation.length ? el('p', {}, outcome.explanation[0]) : null,
    s ? facts([
      [`Buyer (${names.buyer})`, el('strong', { 'data-received': 'buyer' }, money(s.to_buyer))],
      [`Seller (${names.seller})`, el('strong', { 'data-received': 'seller' }, money(s.to_seller))],
      s.to_arbitrator.minor_units !== '0' ? [`Arbitrator (${names.arbitrator}), its fee`, el('strong', { 'data-received': 'arbitrator' }, money(s.to_arbitrator))] : null,
      s.at_fault ? ['Found at fault', el('strong', { 'data-at-fault': s.at_fault }, `the ${s.at_fault} (${names[s.at_fault]})`)] : null,
      ['Settled by', s.tx_id ? link(`#/tx/${s.tx_id.replace(/^0x/, '')}`, `the transaction in block ${s.height}`) : link(`#/block/${s.height}`, `block ${s.height}`)],
    ]) : null,
    outcome.explanation.slice(1).filter(line => !s || !line.startsWith('The buyer received')).map(line => el('p', { class: 'muted' }, line)),
    el('h2', {}, 'Timeline'),
    el('ol', { class: 'timeline', id: 'trade-timeline' }, outcome.timeline.map(step => el('li', {}, `${when(step.at_ms)}: ${step.text}`))));
}

async function tradePage(view, id) {
  const summary = el('div', { class: 'card', 'aria-live': 'polite' });
  const actions = el('div', { class: 'card' });
  const messages = el('div', { class: 'chat', role: 'log', 'aria-label': 'Trade chat' });
  const chatNote = el('p', { class: 'muted' });
  let shownState = null;
  let shownMessages = null;
  let chatGeneration = 0;
  let shownChatGeneration = 0;

  async function loadChat(trade) {
    if (!session.unlocked) {
      chatNote.textContent = 'Unlock the wallet to read and write the encrypted chat.';
      messages.replaceChildren();
      detailsBox.replaceChildren();
      shownDetails = null;
      return;
    }
    // Updates can overlap: an answer older than one already shown is dropped.
    const generation = ++chatGeneration;
    const opened = await request(`/api/chat/${id}`).catch(error => ({ messages: [], unavailable: error.message }));
    if (generation < shownChatGeneration) return;
    shownChatGeneration = generation;
    chatNote.textContent = opened.unavailable || '';
    messages.replaceChildren(...opened.messages.map(m => el('div', { class: `msg${m.sender === session.address ? ' mine' : ''}` },
      el('div', { class: 'who' }, `${m.sender === trade.buyer ? 'buyer' : m.sender === trade.seller ? 'seller' : 'arbitrator'} · ${when(m.at_ms)}`),
      m.payment_details ? el('div', { class: 'details-text' }, el('strong', {}, `Payment details for ${m.payment_details.method}: `), m.payment_details.details)
        : m.text !== null ? m.text : el('em', {}, `cannot open: ${m.error}`))));
    messages.scrollTop = messages.scrollHeight;
    const sent = opened.messages.filter(m => m.payment_details).pop();
    await renderDetails(trade, sent ? sent.payment_details : null, !opened.unavailable);
  }

  /// What the buyer pays to: the seller's latest details from the chat; for the seller, a form
  /// to send them while the buyer is to pay.
  async function renderDetails(trade, sent, chatWorks) {
    const role = roleIn(trade, session.address);
    // Redrawn only when what it shows changes, so that a message from the other party does not
    // wipe details being typed.
    const key = JSON.stringify([role, trade.state, sent, chatWorks]);
    if (key === shownDetails) return;
    shownDetails = key;
    // Details are sent only before the buyer pays: new ones after that could only mislead.
    const open = trade.state === 'awaiting_payment';
    const parts = [];
    if (sent) {
      parts.push(el('p', {}, `${role === 'seller' ? 'You sent' : 'The seller sent'} these ${trade.method.name} details, end-to-end encrypted:`),
        el('p', { class: 'details-text', id: 'trade-details' }, sent.details));
    } else if (role === 'buyer' && open) {
      parts.push(el('p', { class: 'muted', id: 'trade-details-missing' }, `The seller has not sent its ${trade.method.name} details yet. Ask in the chat; do not pay to details given anywhere else.`));
    }
    if (role === 'seller' && open && chatWorks) {
      let problem = null;
      const kept = await post('/api/details', {}, { 'x-equa-csrf': session.csrf || '' })
        .catch(error => { problem = error.message; return { details: [] }; });
      if (problem) parts.push(el('p', { role: 'alert', class: 'error' }, `Your kept payment details cannot be read: ${problem}`));
      // Kept by the method's registry code, or by its name for a free-text method.
      const word = (trade.method.index === null ? `custom:${trade.method.name}` : trade.method.code).toLowerCase();
      const mine = kept.details.find(d => d.method.toLowerCase() === word);
      parts.push(form({
        title: sent ? 'Send corrected details' : 'Send your payment details', submit: 'Send payment details',
        fields: [{ name: 'details', label: `Your ${trade.method.name} details`, type: 'textarea', value: mine ? mine.details : '', match: ['details', 'message'],
          hint: mine ? 'The details kept in your wallet for this method.' : 'Keep them in the wallet page to have them filled in next time.' }],
        build: v => {
          required(v, 'details', 'The details');
          return ['trade', 'send-details', id, '--text', limited(v, 'details', 'The details', MAX_DETAILS_BYTES)];
        },
        confirm: v => [`Send these ${trade.method.name} details to ${names.buyer}, encrypted so only the buyer (and an arbitrator the chat is shown to) can read them:`, v.details.trim()],
        after: () => {},
      }));
    }
    detailsBox.replaceChildren(...(parts.length ? [el('h2', {}, 'Payment details'), ...parts] : []));
    detailsBox.hidden = !parts.length;
  }

  let names = null;
  const detailsBox = el('section', { class: 'card', id: 'details-box', 'aria-label': 'Payment details', hidden: true });
  let shownDetails = null;
  const outcomeBox = el('div');
  let shownOutcome = null;
  async function render(trade) {
    const role = roleIn(trade, session.address);
    if (!names || names.arbitratorAddress !== trade.arbitrator) {
      const [buyer, seller, arbitrator] = await Promise.all([nameOf(trade.buyer), nameOf(trade.seller), nameOf(trade.arbitrator)]);
      names = { buyer, seller, arbitrator, arbitratorAddress: trade.arbitrator };
    }
    const outcomeKey = JSON.stringify([trade.state, trade.paid_ms, trade.disputed_ms, trade.arbitrator, trade.settled_ms, trade.chat_revealed_by]);
    if (outcomeKey !== shownOutcome) {
      shownOutcome = outcomeKey;
      const outcome = await q('equa_getTradeOutcome', Number(id)).catch(() => null);
      outcomeBox.replaceChildren(outcomeSection(outcome, trade, names) || '');
    }
    const due = trade.state === 'awaiting_payment' ? ['Pay by', trade.payment_deadline_ms]
      : trade.state === 'paid' ? ['Release by', trade.release_deadline_ms]
        : trade.state === 'disputed' && trade.ruling_deadline_ms ? ['Ruling by', trade.ruling_deadline_ms] : null;
    summary.replaceChildren(
      el('p', {}, 'State: ', el('strong', { class: 'state', id: 'trade-state' }, words(trade.state)), ` · you are the ${role}`),
      facts([
        due ? [due[0], el('span', {}, deadline(due[1]), ` (${when(due[1])})`)] : null,
        ['Amount', money(trade.amount)],
        ['Fiat to pay', el('strong', {}, fiat(trade.fiat_amount))],
        ['Price', `${trade.price.amount} ${trade.price.currency}`],
        ['Payment method', trade.method.name],
        ['Buyer', link(`#/account/${trade.buyer}`, names.buyer)],
        ['Seller', link(`#/account/${trade.seller}`, names.seller)],
        ['Deposits', `buyer ${money(trade.buyer_deposit)} · seller ${money(trade.seller_deposit)}`],
        trade.arbitrator ? ['Arbitrator', link(`#/account/${trade.arbitrator}`, names.arbitrator)] : null,
        trade.dispute_opened_by ? ['Dispute opened by', `the ${trade.dispute_opened_by} (${names[trade.dispute_opened_by]})`] : null,
        trade.dispute_reason_text ? ['Dispute reason', el('span', { id: 'dispute-reason' }, trade.dispute_reason_text,
          trade.dispute_note ? el('span', { class: 'muted' }, ` · “${trade.dispute_note}”`) : null)] : null,
        trade.state === 'disputed' && trade.arbitrator ? ['Chat shown to the arbitrator by',
          trade.chat_revealed_by.length ? trade.chat_revealed_by.map(p => `the ${p}`).join(' and ') : 'nobody yet'] : null,
      ]),
      trade.next.length ? el('div', {}, el('h2', {}, 'Next steps'), el('ul', {}, trade.next.map(s => el('li', {}, s)))) : null);
    // Redraw the actions only when this reader's own options change, so that the other party
    // acting does not wipe a form being filled in.
    const actionKey = JSON.stringify([trade.state, trade.arbitrator, trade.chat_revealed_by, role === 'buyer' ? trade.rated_by_buyer : trade.rated_by_seller,
      trade.next.filter(step => step.startsWith(`${role}:`) || step.startsWith('anyone:'))]);
    if (actionKey !== shownState) {
      shownState = actionKey;
      const chat = await q('equa_getChat', Number(id), 0).catch(() => null);
      const decimals = await decimalsOf(trade.amount.symbol);
      const parts = session.unlocked ? tradeActions(trade, role, chat, names, decimals) : [el('p', { class: 'muted' }, 'Unlock the wallet to act on this trade.')];
      actions.replaceChildren(el('h2', {}, 'Actions'), ...(parts.length ? parts : [el('p', { class: 'muted' }, 'Nothing for you to do now.')]));
    }
    // A reveal gives the arbitrator the chat without a new message: reload on either.
    const chatKey = JSON.stringify([trade.messages, trade.arbitrator, trade.chat_revealed_by]);
    if (chatKey !== shownMessages) {
      shownMessages = chatKey;
      await loadChat(trade);
    }
  }

  const trade = await q('equa_getTrade', Number(id));
  if (!trade) { view.append(el('h1', {}, `No trade #${id}`)); return; }
  const chatForm = form({
    inline: true, submit: 'Send',
    fields: [{ name: 'text', label: 'Message', match: ['message', 'chat key'] }],
    build: v => {
      required(v, 'text', 'A message');
      return ['trade', 'chat', 'send', id, limited(v, 'text', 'The message', MAX_CHAT_TEXT_BYTES)];
    },
    confirm: v => `Send this message, encrypted, to trade #${id}'s chat: “${v.text.trim()}”`,
    after: () => { chatForm.reset(); },
  });
  view.append(el('h1', {}, `Trade #${id}`), summary, detailsBox, outcomeBox, actions,
    el('section', { class: 'card', 'aria-label': 'Chat' }, el('h2', {}, 'Chat (end-to-end encrypted)'), chatNote, messages, chatForm));
  await render(trade);
  const events = new EventSource(`/api/events/trade/${id}`);
  events.addEventListener('update', event => { render(JSON.parse(event.data)); });
  teardown.push(() => events.close());
}

// Lending --------------------------------------------------------------------------------------

function scheduleWords(schedule) {
  return schedule === 'bullet' ? 'repaid at the end' : `${schedule.replace('instalments:', '')} equal instalments`;
}

function loanRow(l) {
  return [
    link(`#/loan/${l.id}`, `#${l.id}`), words(l.state), money(l.principal), `${money(l.funded)}`,
    `${l.rate_percent}% a year`, `${l.term_days} days, ${scheduleWords(l.schedule)}`,
    l.collateral ? money(l.collateral) : 'none',
    el('span', { class: 'mono' }, short(l.borrower)),
  ];
}

async function lendingPage(view) {
  const choices = await assetOptions();
  const [funding, active, offers] = await Promise.all([
    q('equa_listLoans', { state: 'funding' }), q('equa_listLoans', { state: 'active' }), q('equa_listCreditOffers', {}),
  ]);
  const headers = ['Loan', 'State', 'Principal', 'Funded', 'Rate', 'Term', 'Collateral', 'Borrower'];
  view.append(el('h1', {}, 'Lending'),
    el('h2', {}, 'Loan requests collecting lenders'), table(headers, funding.map(loanRow), 'No open loan requests.'),
    el('h2', {}, 'Lenders\u2019 credit offers'),
    table(['Offer', 'Available', 'Least', 'Rate', 'Term', 'Collateral per unit', 'Expires', ''],
      offers.map(o => [
        `#${o.id}`, money(o.remaining), money(o.min_amount), `${o.rate_percent}% a year`, `${o.term_days} days, ${scheduleWords(o.schedule)}`,
        o.collateral_per_unit ? money(o.collateral_per_unit) : 'none', deadline(o.expires_ms),
        o.lender === session.address ? button('Withdraw offer', ['loan', 'cancel-offer', o.id], () => route(), true, `Withdraw credit offer #${o.id}: the ${money(o.remaining)} not lent comes back to your wallet`)
          : form({
            inline: true, submit: 'Borrow',
            fields: [
              { name: 'amount', label: `Amount (${o.remaining.symbol})`, inputmode: 'decimal', match: ['amount', 'decimal'] },
              o.collateral_per_unit ? { name: 'collateral', label: `Collateral (${o.collateral_per_unit.symbol})`, inputmode: 'decimal', match: ['collateral'] } : null,
            ].filter(Boolean),
            build: v => {
              const args = ['loan', 'take-offer', o.id, required(v, 'amount', 'Amount')];
              if (o.collateral_per_unit) args.push('--collateral', required(v, 'collateral', 'Collateral'));
              return args;
            },
            confirm: v => [`Borrow ${v.amount.trim()} ${o.remaining.symbol} at ${o.rate_percent}% a year for ${o.term_days} days (${o.schedule === 'bullet' ? 'repaid at the end' : o.schedule.replace('instalments:', '') + ' equal instalments'}).`,
              o.collateral_per_unit ? `${v.collateral.trim()} ${o.collateral_per_unit.symbol} is locked as collateral until you repay; the lenders take it if you default.` : 'No collateral.'],
            after: result => {
              const loan = newId(result, 'loan_requested', 'loan') || newId(result, 'activated', 'loan');
              if (loan) location.hash = `#/loan/${loan}`; else route();
            },
          }),
      ]), 'No credit offers.'),
    el('h2', {}, 'Active loans'), table(headers, active.map(loanRow), 'No active loans.'),
    el('div', { class: 'grid' },
      el('div', { class: 'card' }, form({
        title: 'Request a loan', submit: 'Request loan',
        fields: [
          { name: 'principal', label: 'Amount to borrow', inputmode: 'decimal', match: ['principal', 'amount', 'decimal'] },
          { name: 'symbol', label: 'Asset', type: 'select', options: choices, match: ['asset'] },
          { name: 'apr', label: 'Interest (basis points a year)', hint: '1200 = 12% a year', inputmode: 'numeric', match: ['rate', 'apr'] },
          { name: 'term', label: 'Term (days)', inputmode: 'numeric', match: ['term'] },
          { name: 'schedule', label: 'Repayment', value: 'bullet', hint: '"bullet" (all at the end) or a number of equal instalments', match: ['schedule', 'instalment'] },
          { name: 'collateral', label: 'Collateral amount (optional)', inputmode: 'decimal', match: ['collateral'] },
          { name: 'collateral_symbol', label: 'Collateral asset', type: 'select', options: choices },
          { name: 'days', label: 'Days for lenders to fund', value: '7', inputmode: 'numeric', match: ['funding', 'deadline'] },
        ],
        build: v => {
          const args = ['loan', 'request', required(v, 'principal', 'The amount'), v.symbol, '--apr-bps', required(v, 'apr', 'The interest rate'),
            '--term-days', required(v, 'term', 'The term'), '--schedule', required(v, 'schedule', 'The repayment'), '--funding-days', required(v, 'days', 'The funding time')];
          if (v.collateral.trim()) args.push('--collateral', v.collateral.trim(), v.collateral_symbol);
          return args;
        },
        confirm: v => [`Ask to borrow ${v.principal.trim()} ${v.symbol} at ${Number(v.apr) / 100}% a year for ${v.term.trim()} days (${v.schedule.trim() === 'bullet' ? 'repaid at the end' : `${v.schedule.trim()} equal instalments`}); lenders have ${v.days.trim()} days to fund it.`,
          v.collateral.trim() ? `${v.collateral.trim()} ${v.collateral_symbol} is locked as collateral now; the lenders take it if you default.` : 'No collateral.'],
        after: result => {
          const loan = newId(result, 'loan_requested', 'loan');
          if (loan) location.hash = `#/loan/${loan}`;
        },
      })),
      el('div', { class: 'card' }, form({
        title: 'Offer credit', submit: 'Offer credit',
        fields: [
          { name: 'amount', label: 'Amount to lend', inputmode: 'decimal', match: ['amount', 'decimal'] },
          { name: 'symbol', label: 'Asset', type: 'select', options: choices, match: ['asset'] },
          { name: 'apr', label: 'Interest (basis points a year)', inputmode: 'numeric', match: ['rate', 'apr'] },
          { name: 'term', label: 'Term (days)', inputmode: 'numeric', match: ['term'] },
          { name: 'schedule', label: 'Repayment', value: 'bullet', match: ['schedule', 'instalment'] },
          { name: 'per_unit', label: 'Collateral per unit lent (optional)', inputmode: 'decimal', match: ['collateral'] },
          { name: 'per_unit_symbol', label: 'Collateral asset', type: 'select', options: choices },
        ],
        build: v => {
          const args = ['loan', 'offer', required(v, 'amount', 'The amount'), v.symbol, '--apr-bps', required(v, 'apr', 'The interest rate'),
            '--term-days', required(v, 'term', 'The term'), '--schedule', required(v, 'schedule', 'The repayment')];
          if (v.per_unit.trim()) args.push('--collateral-per-unit', v.per_unit.trim(), v.per_unit_symbol);
          return args;
        },
        confirm: v => `Offer to lend ${v.amount.trim()} ${v.symbol} at ${Number(v.apr) / 100}% a year for ${v.term.trim()} days: it is locked in the offer until borrowed or withdrawn`,
        after: () => route(),
      }))));
}

const INSTALMENT_STATUS = { paid: 'paid ✓', due: 'due now', next: 'next', later: 'later' };

/// What became of a closed loan, from its record: who holds what now.
function loanOutcome(loan, names) {
  if (loan.state === 'defaulted') {
    const seized = loan.collateral_seized;
    return el('section', { class: 'card', id: 'loan-outcome' }, el('h2', {}, 'Outcome: in default'),
      el('p', {}, `The loan was declared in default: the borrower ${names.borrower} had not paid in time.`),
      seized ? el('p', {}, `The collateral, ${money(seized)}, was seized for the lenders in proportion to what each lent:`) : el('p', {}, 'The loan had no collateral to seize.'),
      seized ? el('ul', {}, loan.lenders.map(p => el('li', {},
        `${names[p.lender] || short(p.lender)}: lent ${money(p.lent)}; collateral claimed ${money(p.collateral_claimed)}, still to claim ${money(p.collateral_claimable)}`))) : null,
      loan.amount_due ? el('p', {}, `The borrower still owes ${money(loan.amount_due.payoff)}; any later repayment goes to the lenders.`) : null);
  }
  if (loan.state === 'repaid') {
    return el('section', { class: 'card', id: 'loan-outcome' }, el('h2', {}, 'Outcome: repaid'),
      el('p', {}, `Repaid in full${loan.closed_ms ? ` on ${when(loan.closed_ms)}` : ''}: ${money(loan.paid_in)} went to the lenders in proportion to what each lent${loan.collateral ? `, and the collateral, ${money(loan.collateral)}, back to the borrower` : ''}.`));
  }
  if (loan.state === 'cancelled' || loan.state === 'expired') {
    return el('section', { class: 'card', id: 'loan-outcome' }, el('h2', {}, `Outcome: ${words(loan.state)}`),
      el('p', {}, `${loan.state === 'cancelled' ? 'The borrower cancelled the request' : 'The request expired without enough funding'}: each lender's funds and the collateral went back.`));
  }
  return null;
}

async function loanPage(view, id) {
  const loan = await q('equa_getLoan', Number(id));
  if (!loan) { view.append(el('h1', {}, `No loan #${id}`)); return; }
  const credit = (await q('equa_getReputation', loan.borrower)).credit;
  const me = session.address;
  const position = loan.lenders.find(p => p.lender === me);
  const due = loan.amount_due;
  const symbol = loan.principal.symbol;
  const decimals = await decimalsOf(symbol);
  const names = { borrower: await nameOf(loan.borrower) };
  for (const p of loan.lenders) names[p.lender] = await nameOf(p.lender);
  const schedule = loan.instalments.length ? el('div', {}, el('h2', {}, 'Schedule'),
    el('p', { class: 'muted' }, 'Interest as scheduled, if each payment is made on its date: it accrues by the millisecond on what is still owed, so paying early costs less and paying late more.'),
    el('div', { id: 'loan-schedule' }, table(['Payment', 'Due', 'Amount', 'Interest', 'Principal', 'Owed after', 'Status'], loan.instalments.map(i => [
      `${i.number} of ${loan.instalments.length}`, when(i.due_ms), money(i.payment), money(i.interest), money(i.principal), money(i.remaining),
      el('span', { class: `status-${i.status}`, 'data-instalment': i.number, 'data-status': i.status }, INSTALMENT_STATUS[i.status] || i.status),
    ]), '')))
    : loan.state === 'funding' ? el('p', { class: 'muted' }, 'The schedule is set when the loan starts, on the amount actually lent.') : null;
  view.append(el('h1', {}, `Loan #${loan.id}`),
    el('div', { class: 'card' }, facts([
      ['State', el('strong', { class: 'state', id: 'loan-state' }, words(loan.state))],
      ['Principal', money(loan.principal)],
      ['Funded', `${money(loan.funded)} by ${loan.lender_count} lender(s)`],
      ['Rate', `${loan.rate_percent}% a year`],
      ['Term', `${loan.term_days} days, ${scheduleWords(loan.schedule)}`],
      ['Collateral', loan.collateral ? money(loan.collateral) : 'none'],
      ['Borrower', link(`#/account/${loan.borrower}`, names.borrower)],
      loan.state === 'funding' ? ['Funding deadline', el('span', {}, deadline(loan.funding_deadline_ms), ` (${when(loan.funding_deadline_ms)})`)] : null,
      loan.next_due_ms ? ['Next payment due', el('span', {}, deadline(loan.next_due_ms), ` (${when(loan.next_due_ms)})`)] : null,
      due ? ['Due now', el('strong', { id: 'owed-now' }, money(due.now))] : null,
      due ? ['To close the loan now', el('span', { id: 'payoff' }, money(due.payoff))] : null,
      due ? ['Principal outstanding', money(due.principal_outstanding)] : null,
      ['Repaid so far', money(loan.paid_in)],
    ])),
    loanOutcome(loan, names),
    schedule,
    el('h2', {}, 'Lenders'),
    table(['Lender', 'Lent', 'Claimed', 'Claimable'], loan.lenders.map(p => [link(`#/account/${p.lender}`, names[p.lender]), money(p.lent), money(p.claimed), money(p.claimable)]), 'No lenders yet.'),
    el('h2', {}, 'Borrower\u2019s credit history'),
    facts([['Loans', credit.loans], ['Repaid on time', credit.repaid_on_time], ['Repaid late', credit.repaid_late], ['Late payments', credit.late_payments], ['Defaults', credit.defaults]]));
  const actions = el('div', { class: 'card' }, el('h2', {}, 'Actions'));
  const notes = el('ul', { class: 'muted', id: 'loan-notes' });
  const again = () => route();
  if (loan.state === 'funding' && me !== loan.borrower) {
    actions.append(form({
      inline: true, submit: 'Fund', fields: [{ name: 'amount', label: `Amount to lend (${symbol})`, inputmode: 'decimal', match: ['amount', 'decimal', 'fund'] }],
      build: v => ['loan', 'fund', loan.id, required(v, 'amount', 'Amount')],
      confirm: v => [`Lend ${v.amount.trim()} ${symbol} to ${names.borrower} on loan #${loan.id} at ${loan.rate_percent}% a year for ${loan.term_days} days.`,
        'It is held until the request is fully funded (then paid to the borrower) or closes (then returned).'],
      after: again,
    }));
  }
  if (loan.state === 'funding' && position) {
    actions.append(button('Withdraw my funding', ['loan', 'withdraw', loan.id], again, true, `Withdraw the ${money(position.lent)} you put into loan request #${loan.id}`));
  }
  if (loan.state === 'funding' && me === loan.borrower) {
    actions.append(button('Accept the funds raised', ['loan', 'accept', loan.id], again, false, `Accept ${money(loan.funded)} raised so far as the whole loan #${loan.id}: it is paid to you now and the schedule starts`));
    actions.append(button('Cancel request', ['loan', 'cancel', loan.id], again, true, `Cancel loan request #${loan.id}: the lenders' funds${loan.collateral ? ` and your collateral, ${money(loan.collateral)},` : ''} go back`));
  }
  if (loan.state === 'active' && me === loan.borrower) {
    // Whether the amount typed reaches what closes the loan (as of the page's latest block).
    const closes = v => {
      const paying = toMinor(v.amount, decimals);
      return paying !== null && !!due && paying >= BigInt(due.payoff.minor_units);
    };
    actions.append(form({
      inline: true, submit: 'Repay', fields: [{ name: 'amount', label: `Amount (${symbol})`, inputmode: 'decimal', value: due ? due.now.amount : '', match: ['amount', 'decimal', 'repay'] }],
      // An amount that reaches what closes the loan is sent as "everything": interest runs until
      // the block that includes the payment, so exactly the figure shown would leave a little
      // principal owed, and the loan open to a default. The ledger takes only what is owed.
      build: v => closes(v) ? ['loan', 'repay', loan.id, '--all'] : ['loan', 'repay', loan.id, required(v, 'amount', 'Amount')],
      confirm: async v => {
        const text = `${v.amount.trim()} ${symbol}`;
        // What is owed as of the latest block, read again: interest has run since the page loaded.
        const fresh = await q('equa_getLoan', loan.id).catch(() => null);
        const owed = fresh && fresh.amount_due ? fresh.amount_due.payoff : due && due.payoff;
        if (closes(v)) {
          return [`You owe ${money(owed)}; repaying ${text} pays what is owed when the block includes it (about ${money(owed)}) and closes the loan.`,
            'Only what is owed is taken; interest runs until that block, so it may be slightly more than shown.'];
        }
        return `Repay ${text} on loan #${loan.id}${owed ? ` (you owe ${money(owed)} in all)` : ''}`;
      },
      after: again,
    }));
    actions.append(button('Repay everything', ['loan', 'repay', loan.id, '--all'], again, false,
      `Repay everything on loan #${loan.id}: about ${due ? money(due.payoff) : 'all that is owed'} (interest runs until the block), which closes the loan${loan.collateral ? ` and returns your collateral, ${money(loan.collateral)}` : ''}`));
  }
  // One claim takes both the repayments and the seized collateral waiting for this lender.
  const claims = position ? [position.claimable, position.collateral_claimable]
    .filter(m => m && m.minor_units !== '0').map(money) : [];
  if (claims.length) {
    actions.append(button(`Claim ${claims.join(' and ')}`, ['loan', 'claim', loan.id], again, false,
      `Claim ${claims.join(' and ')} from loan #${loan.id} to your wallet`));
  } else if (position && loan.state === 'active') {
    notes.append(el('li', {}, `Nothing to claim yet: your share of each repayment becomes claimable when ${names.borrower} pays${loan.next_due_ms ? ` (the next payment is due ${when(loan.next_due_ms)})` : ''}.`));
  }
  if (loan.state === 'funding') {
    if (chainNow() > loan.funding_deadline_ms) {
      actions.append(button('Expire request', ['loan', 'expire', loan.id], again, false, `Close loan request #${loan.id}, whose funding deadline has passed: the lenders' funds and the collateral go back`));
    } else {
      notes.append(el('li', {}, `If not fully funded, anyone may close this request after ${when(loan.funding_deadline_ms)}.`));
    }
  }
  if (loan.state === 'active') {
    if (loan.default_allowed_ms && chainNow() >= loan.default_allowed_ms) {
      actions.append(button('Declare default', ['loan', 'default', loan.id], again, true,
        [`Declare loan #${loan.id} in default: a payment has been overdue since ${when(loan.next_due_ms)}.`,
          loan.collateral ? `The collateral, ${money(loan.collateral)}, goes to the lenders in proportion to what each lent; the debt stays recorded.` : 'The loan has no collateral; the debt stays recorded.']));
    } else if (loan.default_allowed_ms) {
      notes.append(el('li', {}, `If the payment due ${when(loan.next_due_ms)} is still unpaid, anyone may declare this loan in default from ${when(loan.default_allowed_ms)}.`));
    } else {
      notes.append(el('li', {}, 'The loan is up to date: it cannot be declared in default.'));
    }
  }
  if (notes.children.length) actions.append(notes);
  view.append(session.unlocked ? actions : el('p', { class: 'muted' }, 'Unlock the wallet to act on this loan.'));
  // Someone else funding, repaying or claiming redraws the page (interest accruing does not).
  const key = l => JSON.stringify([l.state, l.funded, l.paid_in, l.lenders, l.closed_ms]);
  const shown = key(loan);
  const events = new EventSource(`/api/events/loan/${id}`);
  events.addEventListener('update', event => { if (key(JSON.parse(event.data)) !== shown) route(); });
  teardown.push(() => events.close());
}

// Wallet, explorer, status ---------------------------------------------------------------------

async function walletPage(view) {
  const [account, reputation, choices, funds] = await Promise.all([
    q('equa_getAccount', session.address), q('equa_getReputation', session.address), assetOptions(),
    q('equa_getAccountFunds', session.address),
  ]);
  view.append(el('h1', {}, 'Wallet'),
    el('div', { class: 'card' }, facts([
      ['Address', el('code', { id: 'my-address' }, account.address)],
      ['Transactions sent', account.nonce],
      ['Display name', reputation.name || 'not set'],
      ['Chat key', reputation.chat_key ? 'published' : 'not published: set a profile to chat in trades'],
      ['Standing', standing(reputation.standing, null)],
    ])),
    el('h2', {}, 'Balances'),
    fundsTable(funds),
    el('div', { class: 'grid' },
      el('div', { class: 'card' }, form({
        title: 'Send', submit: 'Send',
        fields: [
          { name: 'to', label: 'To address', placeholder: 'equa1…', match: ['address', 'to'] },
          { name: 'amount', label: 'Amount', inputmode: 'decimal', match: ['amount', 'decimal', 'balance'] },
          { name: 'symbol', label: 'Asset', type: 'select', options: choices, match: ['asset'] },
        ],
        build: v => ['send', required(v, 'to', 'The address'), required(v, 'amount', 'The amount'), v.symbol],
        confirm: async v => `Send ${v.amount.trim()} ${v.symbol} to ${await nameOf(v.to.trim()).catch(() => v.to)} (${v.to.trim()})`,
        after: () => route(),
      })),
      el('div', { class: 'card' }, form({
        title: 'Profile', submit: 'Publish profile',
        fields: [{ name: 'name', label: 'Display name', value: reputation.name || '', hint: 'also publishes the chat key trade partners encrypt to', match: ['name'] }],
        build: v => ['profile', 'set', '--name', required(v, 'name', 'A display name')],
        confirm: v => `Publish the display name "${v.name.trim()}" and your chat key`,
        after: () => route(),
      }))),
    await detailsSection(),
    await issuerSection(),
    el('h2', {}, 'History'),
    el('div', { id: 'history' }, await historyTable(session.address)),
    el('p', {}, link('#/trades', 'My trades'), ' · ', link(`#/account/${session.address}`, 'Public record'), ' · ', link('#/lending', 'Loans')));
}

/// The payment details this wallet keeps per method (on this node, sealed under the wallet's
/// key, never on the ledger), with a form to keep or forget them.
async function detailsSection() {
  const section = el('section', { class: 'card', id: 'payment-details', 'aria-labelledby': 'details-heading' },
    el('h2', { id: 'details-heading' }, 'Payment details'));
  if (!session.unlocked) {
    section.append(el('p', { class: 'muted' }, 'Unlock the wallet to see the payment details you send to buyers.'));
    return section;
  }
  const params = await marketParams();
  const send = body => post('/api/details', body, { 'x-equa-csrf': session.csrf || '' });
  const list = el('div');
  const alert = el('p', { role: 'alert', class: 'error' });
  const show = kept => list.replaceChildren(table(['Method', 'Details', ''], kept.details.map(d => [
    d.method, el('span', { class: 'details-text', 'data-details': d.method }, d.details),
    el('button', { type: 'button', class: 'secondary', onclick: async () => show(await send({ method: d.method, details: '' })) }, 'Forget'),
  ]), 'None kept yet.'));
  try {
    show(await send({}));
  } catch (error) {
    section.append(el('p', { role: 'alert', class: 'error', id: 'details-error' }, `Your payment details cannot be read: ${error.message}`));
    return section;
  }
  const method = field({ name: 'method', label: 'Payment method', type: 'select', options: params.methods.map(m => [m.code, m.name]) });
  const text = field({ name: 'details', label: 'Details buyers pay to (account, IBAN, phone…)', type: 'textarea', match: ['details', 'bytes'] });
  const save = el('form', { class: 'stack', novalidate: true, onsubmit: async event => {
    event.preventDefault();
    alert.textContent = '';
    const values = Object.fromEntries(new FormData(save).entries());
    try {
      const details = required(values, 'details', 'The details');
      limited(values, 'details', 'The details', MAX_DETAILS_BYTES);
      show(await send({ method: values.method, details }));
      save.reset();
      notify('done', `Keep details: your ${values.method} details are kept on this node.`);
    } catch (error) {
      showError(save, alert, error);
      notify('error', `Keep details: ${error.message}`);
    }
  } }, method, text, el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Keep details')), alert);
  section.append(
    el('p', { class: 'muted' }, 'Kept on this node, encrypted with your wallet, never on the public record. On a trade, you send them to that buyer only, in the encrypted chat; an arbitrator sees them only if the chat is shown to it.'),
    list, save);
  return section;
}

/// The assets this wallet issues, with forms to issue another and to mint and burn its own.
async function issuerSection() {
  const refresh = () => { cache.assets = null; return route(); };
  const mine = (await assets()).filter(a => a.issuer === session.address);
  const choices = mine.map(a => [a.symbol, `${a.symbol} — ${a.name}`]);
  const amountField = { name: 'amount', label: 'Amount', inputmode: 'decimal', match: ['amount', 'decimal', 'supply', 'holds'] };
  const symbolField = { name: 'symbol', label: 'Asset', type: 'select', options: choices, match: ['asset', 'issuer'] };
  return el('section', { 'aria-labelledby': 'issued-heading' },
    el('h2', { id: 'issued-heading' }, 'Assets you issue'),
    table(['Asset', 'Name', 'Decimals', 'In circulation', 'Maximum supply'], mine.map(a => [
      a.symbol, a.name, a.decimals,
      el('span', { 'data-supply': a.symbol }, formatMinor(a.supply, a.decimals)),
      a.max_supply ? formatMinor(a.max_supply, a.decimals) : 'no limit',
    ]), 'You have not issued an asset.'),
    el('div', { class: 'grid' },
      el('div', { class: 'card' }, form({
        title: 'Issue an asset', submit: 'Issue asset',
        fields: [
          { name: 'symbol', label: 'Symbol', placeholder: 'e.g. GOLD', match: ['symbol'] },
          { name: 'name', label: 'Name', match: ['name'] },
          { name: 'decimals', label: 'Decimals', inputmode: 'numeric', value: '6', match: ['decimals'] },
          { name: 'max_supply', label: 'Maximum supply (optional)', inputmode: 'decimal', match: ['max supply', 'maximum'] },
        ],
        build: v => {
          const args = ['asset', 'issue', required(v, 'symbol', 'A symbol'), '--name', required(v, 'name', 'A name'),
            '--decimals', required(v, 'decimals', 'The decimals')];
          const max = (v.max_supply || '').trim();
          return max ? [...args, '--max-supply', max] : args;
        },
        confirm: v => `Issue the asset ${v.symbol.trim()} ("${v.name.trim()}", ${v.decimals.trim()} decimals, ${(v.max_supply || '').trim() ? `at most ${v.max_supply.trim()}` : 'no supply limit'})`,
        after: refresh,
      })),
      mine.length ? el('div', { class: 'card' }, form({
        title: 'Mint', submit: 'Mint',
        fields: [amountField, symbolField,
          { name: 'to', label: 'To address', value: session.address, match: ['address', 'to'] }],
        build: v => ['asset', 'mint', required(v, 'amount', 'The amount'), v.symbol, '--to', required(v, 'to', 'The address')],
        confirm: v => `Mint ${v.amount.trim()} ${v.symbol} to ${v.to.trim() === session.address ? 'yourself' : v.to.trim()}`,
        after: refresh,
      })) : null,
      mine.length ? el('div', { class: 'card' }, form({
        title: 'Burn', submit: 'Burn', danger: true,
        fields: [amountField, symbolField],
        build: v => ['asset', 'burn', required(v, 'amount', 'The amount'), v.symbol],
        confirm: v => `Burn ${v.amount.trim()} ${v.symbol}: destroy it for good`,
        after: refresh,
      })) : null));
}

/// Minor units as a decimal amount, exactly (BigInt), without trailing zeros.
function formatMinor(minor, decimals) {
  const digits = BigInt(minor).toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole;
}

/// Minor units with exactly `decimals` decimals (fiat: "46.50").
function formatFixed(minor, decimals) {
  const digits = BigInt(minor).toString().padStart(decimals + 1, '0');
  return decimals ? `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}` : digits;
}

/// A decimal amount as minor units (BigInt), or null when it is not one with at most
/// `decimals` decimals.
function toMinor(text, decimals) {
  const match = String(text || '').trim().match(/^(\d+)(?:\.(\d*))?$/);
  if (!match || (match[2] || '').length > decimals) return null;
  return BigInt(match[1] + (match[2] || '').padEnd(decimals, '0'));
}

async function decimalsOf(symbol) {
  const asset = (await assets()).find(a => a.symbol === symbol);
  return asset ? asset.decimals : 0;
}

/// An account in words: its display name when it has published one, else its short address.
async function nameOf(address) {
  if (!address) return '–';
  const reputation = await q('equa_getReputation', address).catch(() => null);
  return reputation && reputation.name ? reputation.name : short(address);
}

const FUND_PARTS = {
  in_offers: 'In offers', in_trades: 'In trades', as_collateral: 'As collateral',
  in_loan_requests: 'Lent to requests', as_bond: 'Bonds and deposits', claimable: 'Claimable', lent_out: 'Lent out',
};

function holdingLink(h) {
  const text = `${money(h.amount)} · `;
  if (h.kind === 'offer') return el('span', { class: 'holding' }, text, link(`#/offer/${h.id}`, `offer #${h.id}`));
  if (h.kind === 'trade') return el('span', { class: 'holding' }, text, link(`#/trade/${h.id}`, `trade #${h.id}`));
  if (h.kind === 'loan') return el('span', { class: 'holding' }, text, link(`#/loan/${h.id}`, `loan #${h.id}`));
  if (h.kind === 'credit_offer') return el('span', { class: 'holding' }, text, link('#/lending', `credit offer #${h.id}`));
  if (h.kind === 'validator') return el('span', { class: 'holding' }, text, link('#/validators', 'validator bond'));
  if (h.kind === 'full_node') return el('span', { class: 'holding' }, text, link('#/validators', 'full-node deposit'));
  return el('span', { class: 'holding' }, text, link('#/disputes', 'arbitrator bond'));
}

/// The wallet's money per asset: what it can spend, and every part held for it with links to
/// the offer, trade or loan holding it (only the parts some asset has).
function fundsTable(funds) {
  const used = Object.keys(FUND_PARTS).filter(part =>
    funds.assets.some(a => a.parts.some(p => p.part === part && p.holdings.length)));
  const headers = ['Asset', 'Available', ...used.map(part => FUND_PARTS[part]), 'Total'];
  return el('div', { id: 'funds' }, table(headers, funds.assets.map(a => [
    a.symbol,
    el('span', { 'data-balance': a.symbol }, a.available.amount),
    ...used.map(part => {
      const found = a.parts.find(p => p.part === part);
      return found && found.holdings.length
        ? el('span', { 'data-part': `${a.symbol}:${part}` }, found.holdings.map(holdingLink)) : '–';
    }),
    el('span', { title: 'available plus everything held for you (lent-out principal not included)' }, money(a.total)),
  ]), 'No balances.'));
}

// An account's history from the node's on-disk record, newest first, a page at a time.
async function historyTable(address) {
  const PAGE = 25;
  const headers = ['Time', 'Call', 'Outcome', 'Effect', 'Transaction'];
  const amount = e => `${e.amount.amount} ${e.amount.symbol}`;
  const effect = entry => entry.events.map(e => {
    if (e.kind === 'transferred') return e.from === address ? `sent ${amount(e)} to ${short(e.to)}` : `received ${amount(e)} from ${short(e.from)}`;
    if (e.kind === 'minted') return `minted ${amount(e)}`;
    if (e.kind === 'burned') return `burned ${amount(e)}`;
    return e.text;
  }).join('; ');
  const cells = h => [
    when(h.timestamp_ms), words(h.call.replace('.', ': ')),
    h.error ? el('span', { class: 'error' }, h.error.message) : el('span', { class: 'ok' }, h.outcome),
    effect(h) || (h.signer === address ? 'signed by you' : ''),
    link(`#/tx/${h.tx_id.replace(/^0x/, '')}`, `block ${h.height}`),
  ];
  const first = await q('equa_listHistory', address, PAGE);
  const view = table(headers, first.map(cells), 'No transactions yet.');
  if (first.length < PAGE) return view;
  const more = el('button', { type: 'button', class: 'secondary', id: 'older-history' }, 'Older transactions');
  let before = first[first.length - 1].cursor;
  more.addEventListener('click', async () => {
    more.disabled = true;
    const page = await q('equa_listHistory', address, PAGE, before);
    view.querySelector('tbody').append(...page.map(h =>
      el('tr', {}, cells(h).map((cell, i) => el('td', { 'data-label': headers[i] }, cell)))));
    if (page.length < PAGE) more.remove();
    else { before = page[page.length - 1].cursor; more.disabled = false; }
  });
  return el('div', {}, view, el('div', { class: 'actions' }, more));
}

async function explorerPage(view) {
  const search = el('form', { class: 'row card', 'aria-label': 'Search the chain' },
    field({ name: 'query', label: 'Block height, transaction id or address', match: ['query'] }),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Find')));
  const alert = el('p', { role: 'alert', class: 'error' });
  search.addEventListener('submit', event => {
    event.preventDefault();
    const text = new FormData(search).get('query').trim();
    if (/^\d+$/.test(text)) location.hash = `#/block/${text}`;
    else if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) location.hash = `#/tx/${text.replace(/^0x/, '')}`;
    else if (text.startsWith('equa1')) location.hash = `#/account/${text}`;
    else showError(search, alert, Object.assign(new Error('enter a block height, a 64-digit transaction id or an equa1… address'), { field: 'query' }));
  });
  // Newest first, a page at a time (equa_listBlocks looks at 1,000 heights a call at most).
  const busyOnly = el('input', { type: 'checkbox', id: 'with-transactions' });
  const rows = el('tbody');
  const more = el('button', { type: 'button', class: 'secondary', id: 'older-blocks' }, 'Older blocks');
  const state = el('p', { class: 'muted', id: 'blocks-note' });
  let before = null;
  async function load(reset) {
    if (reset) { before = null; rows.replaceChildren(); }
    more.disabled = true;
    const page = await q('equa_listBlocks', before, busyOnly.checked);
    rows.append(...page.blocks.map(b => el('tr', {},
      el('td', { 'data-label': 'Height' }, link(`#/block/${b.height}`, b.height)), el('td', { 'data-label': 'Time' }, when(b.timestamp_ms)),
      el('td', { 'data-label': 'Transactions', 'data-txs': b.height }, b.transactions.length),
      el('td', { 'data-label': 'Proposer' }, el('span', { class: 'mono' }, short(b.proposer))))));
    before = page.next_before;
    more.hidden = before === null;
    more.disabled = false;
    state.textContent = rows.children.length ? (before === null ? 'These are all the blocks this node keeps.' : '')
      : busyOnly.checked && before !== null ? 'No transactions in the last blocks looked at: look at older ones.'
        : 'No blocks found.';
  }
  busyOnly.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  view.append(el('h1', {}, 'Explorer'), search, alert, el('h2', {}, 'Latest blocks'),
    el('p', { class: 'row' }, busyOnly, el('label', { for: 'with-transactions' }, 'Only blocks with transactions')),
    el('table', { id: 'blocks', class: 'responsive' }, el('thead', {}, el('tr', {}, ['Height', 'Time', 'Transactions', 'Proposer'].map(h => el('th', { scope: 'col' }, h)))), rows),
    state, more);
  await load(true);
}

async function blockPage(view, height) {
  const block = await q('equa_getBlock', Number(height));
  if (!block) { view.append(el('h1', {}, `No block at height ${height}`)); return; }
  view.append(el('h1', {}, `Block ${block.height}`), el('div', { class: 'card' }, facts([
    ['Time', when(block.timestamp_ms)], ['Digest', el('code', {}, block.digest)],
    ['Parent', block.height > 1 ? link(`#/block/${block.height - 1}`, block.parent) : block.parent],
    ['Proposer', el('code', {}, block.proposer)], ['State root', el('code', {}, block.state_root)],
  ])), el('h2', {}, 'Transactions'),
  table(['Transaction'], block.transactions.map(t => [link(`#/tx/${t.replace(/^0x/, '')}`, t)]), 'No transactions in this block.'));
}

async function txPage(view, id) {
  const receipt = await q('equa_getReceipt', id);
  if (!receipt) { view.append(el('h1', {}, 'Transaction not found'), el('p', {}, 'No finalized transaction has this id.')); return; }
  view.append(el('h1', {}, 'Transaction'), el('div', { class: 'card' }, facts([
    ['Id', el('code', {}, receipt.tx_id)], ['Block', link(`#/block/${receipt.height}`, receipt.height)],
    ['Outcome', receipt.error ? el('span', { class: 'error' }, `${receipt.outcome}: ${receipt.error.message}`) : el('span', { class: 'ok' }, receipt.outcome)],
    ['Fee paid', `${formatMinor(receipt.fee_paid, await decimalsOf('EQA'))} EQA`],
  ])), el('h2', {}, 'Events'), receipt.events.length
    ? el('ul', { class: 'card' }, ...receipt.events.map(e => el('li', {}, e.text)))
    : el('p', {}, 'none'));
}

async function accountPage(view, address) {
  const [account, reputation] = await Promise.all([q('equa_getAccount', address), q('equa_getReputation', address)]);
  view.append(el('h1', {}, reputation.name ? `${reputation.name}` : 'Account'),
    el('div', { class: 'card' }, facts([
      ['Address', el('code', {}, account.address)], ['Transactions sent', account.nonce],
      ['Standing', standing(reputation.standing, null)],
      ['Trades', `${reputation.completed_as_buyer} bought · ${reputation.completed_as_seller} sold · ${reputation.cancellations} cancelled · ${reputation.timeouts} timed out`],
      ['Disputes', `${reputation.disputes_opened} opened · ${reputation.disputes_won} won · ${reputation.disputes_lost} lost`],
      ['Loans', `${reputation.credit.loans} · ${reputation.credit.repaid_on_time} repaid on time · ${reputation.credit.defaults} defaults`],
    ])),
    el('h2', {}, 'Balances'), table(['Asset', 'Balance'], account.balances.map(b => [b.symbol, b.amount]), 'No balances.'),
    el('h2', {}, 'Recent transactions'), await historyTable(address));
}

async function statusPage(view) {
  const box = el('div', { class: 'card', 'aria-live': 'polite' });
  const render = s => box.replaceChildren(facts([
    ['Chain', s.chain_id], ['Role', s.role], ['Height', el('strong', { id: 'status-height' }, s.height)],
    ['Synced', s.height >= s.target_height ? 'yes' : `${s.height} of ${s.target_height}`],
    ['Last block', when(s.timestamp_ms)], ['Peers', s.peers], ['Mempool', `${s.mempool_size} transactions`],
    ['State root', el('code', {}, s.state_root)],
  ]));
  render(await q('equa_status'));
  // The charts (charts.js) poll the node's figures for as long as this page is shown.
  const charts = figureCharts();
  teardown.push(() => charts.stop());
  view.append(el('h1', {}, 'Network'), box, charts.root);
  const events = new EventSource('/api/events/status');
  events.addEventListener('update', event => render(JSON.parse(event.data)));
  teardown.push(() => events.close());
}

/// The staking registry: its rules, the candidates by rank with the committee they elect, this
/// wallet's own validator (unbond, withdraw), and the registered full nodes. Registering needs the
/// node's own key, so it is done with `equa validator register` or `equa node register` on the
/// node's machine.
async function validatorsPage(view) {
  const s = await q('equa_getStaking', session.address);
  const p = s.params;
  view.append(el('h1', {}, 'Validators'),
    el('div', { class: 'card' }, facts([
      ['Bonded and deposited', money(s.bonded)],
      ['Epoch', `${s.epoch} (${p.blocks_per_epoch} blocks each)`],
      ['Committee', `${s.committee.length} of at most ${p.committee_size}`],
      ['Minimum bond', money(p.min_bond)],
      ['Unbonding', duration(p.unbonding_secs * 1000)],
      ['Candidates', `${s.validators.filter(v => v.rank !== null).length} of at most ${p.max_candidates}`],
    ]), el('p', { class: 'hint' }, 'The committee is the candidates with the largest bonds, one vote each. The committee that signs in an epoch is fixed from the registry three epochs before it starts (its members receive their key shares in the epoch before). A node becomes a validator by registering here with its node key (equa validator register); peers admit it from the next epoch.')));
  const me = s.validators.find(v => v.account === session.address);
  if (me) {
    view.append(el('div', { class: 'card', id: 'my-validator' },
      el('p', {}, me.unbonding
        ? `Your validator is unbonding${me.slashed.minor_units !== '0' ? ` (slashed ${money(me.slashed)} for contradictory votes; it may not stand again)` : me.unbonding.reason === 'outbid' ? ' (a larger bond took its place)' : me.unbonding.reason === 'silent' ? ' (it proposed too little for too long while on a committee; it may stand again once its bond is free)' : ''}: ${bondRelease(me, p)}.`
        : `Your validator ranks ${me.rank}${me.elected ? ', on the committee' : ', not on the committee'}, with a bond of ${money(me.bond)}.`),
      me.unbonding
        ? button('Withdraw bond', ['validator', 'withdraw'], () => route(), false, `Withdraw your bond of ${money(me.bond)} to your wallet`)
        : button('Unbond', ['validator', 'unbond'], () => route(), true, `Leave the candidates: your bond of ${money(me.bond)} stays locked until your validator has served the committees it sits on, then for ${duration(p.unbonding_secs * 1000)}, then you can withdraw it`)));
  } else {
    view.append(el('p', { class: 'hint' }, 'To stand as a validator, run on your node\'s machine: ', el('code', {}, 'equa validator register --node-config node.toml --bond <EQA>')));
  }
  view.append(el('h2', {}, 'Registry'), table(['Rank', 'Account', 'Node', 'Address', 'Bond', 'Standing'],
    s.validators.map(v => [
      v.rank === null ? '–' : String(v.rank), el('span', { class: 'mono' }, short(v.account)),
      el('span', { class: 'mono' }, `${v.node_key.slice(0, 12)}…`), v.address, money(v.bond),
      (v.slashed.minor_units !== '0' ? `slashed ${money(v.slashed)}; ` : '') + (v.unbonding && v.unbonding.reason === 'silent' ? 'taken off for proposing too little; ' : '') + (v.unbonding ? (v.unbonding.free_at_ms === null ? `unbonding, serving until height ${v.unbonding.serving_until_height}` : `unbonding until ${when(v.unbonding.free_at_ms)}`) : v.elected ? 'committee' : 'candidate'),
    ]), 'No validators are registered.'));
  const names = new Map(s.validators.map(v => [v.account, short(v.account)]));
  view.append(el('h2', {}, 'Signing committees by epoch'), el('div', { id: 'epochs' }, table(['Epoch', 'From height', 'Members'],
    s.epochs.map(e => [
      e.epoch === s.epoch ? `${e.epoch} (current)` : String(e.epoch), String(e.first_height),
      el('span', { class: 'mono' }, e.members.map(m => names.get(m) ?? short(m)).join(', ')),
    ]), 'No committee is fixed.')));
  view.append(el('h2', {}, 'Full nodes'),
    el('p', { class: 'hint' }, `Every node admits these as peers. A node registers with a refundable deposit of at least ${money(p.node_deposit)} (at most ${p.max_nodes} nodes): `, el('code', {}, 'equa node register --node-config node.toml --deposit <EQA>')),
    el('div', { id: 'full-nodes' }, table(['Node', 'Address', 'Owner', 'Deposit', 'Since block'],
      s.full_nodes.map(n => [
        el('span', { class: 'mono' }, `${n.node_key.slice(0, 12)}…`), n.address,
        el('span', { class: 'mono' }, short(n.owner)), money(n.deposit), String(n.registered_height),
      ]), 'No full nodes are registered.')));
}

/// When an unbonding validator's bond can be withdrawn, in words.
function bondRelease(v, p) {
  return v.unbonding.free_at_ms === null
    ? `it still serves on a committee until height ${v.unbonding.serving_until_height}; the bond of ${money(v.bond)} can be withdrawn ${duration(p.unbonding_secs * 1000)} after that`
    : `the bond of ${money(v.bond)} can be withdrawn after ${when(v.unbonding.free_at_ms)}`;
}

// ---------------------------------------------------------------------------------------------
// Routing

const routes = [
  [/^$|^market$/, marketPage],
  [/^offer\/new$/, v => offerFormPage(v, null)],
  [/^offer\/(\d+)\/edit$/, offerFormPage],
  [/^offer\/(\d+)$/, offerPage],
  [/^trades$/, v => tradesPage(v, false)],
  [/^disputes$/, v => tradesPage(v, true)],
  [/^trade\/(\d+)$/, tradePage],
  [/^lending$/, lendingPage],
  [/^loan\/(\d+)$/, loanPage],
  [/^wallet$/, walletPage],
  [/^explorer$/, explorerPage],
  [/^block\/(\d+)$/, blockPage],
  [/^tx\/([0-9a-fA-F]{64})$/, txPage],
  [/^account\/(equa1[0-9a-z]+)$/, accountPage],
  [/^status$/, statusPage],
  [/^validators$/, validatorsPage],
];

async function route() {
  teardown.forEach(stop => stop());
  teardown = [];
  // An action's outcome stays on the page it leads to, and not on pages visited later.
  const notice = document.getElementById('notice');
  if (Date.now() - Number(notice.dataset.at || 0) > 3000) notice.textContent = '';
  const path = location.hash.replace(/^#\/?/, '');
  const view = el('div');
  const main = document.getElementById('main');
  main.replaceChildren(view);
  document.querySelectorAll('nav a').forEach(a => {
    if (a.getAttribute('href') === `#/${path.split('/')[0]}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  document.getElementById('nav').classList.remove('open');
  const match = routes.map(([pattern, page]) => [path.match(pattern), page]).find(([found]) => found);
  try {
    await syncClock();
    if (!match) view.append(el('h1', {}, 'Page not found'), el('p', {}, link('#/market', 'Go to the market')));
    else await match[1](view, ...match[0].slice(1));
  } catch (error) {
    view.append(el('p', { role: 'alert', class: 'error' }, `Could not load this page: ${error.message}`));
  }
  document.title = `Equa — ${(view.querySelector('h1') || {}).textContent || 'Equa'}`;
}

document.addEventListener('DOMContentLoaded', async () => {
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const open = document.getElementById('nav').classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  window.addEventListener('hashchange', route);
  try {
    await loadSession();
  } catch (error) {
    document.getElementById('session').textContent = `The node is unreachable: ${error.message}`;
  }
  await route();
});
