/* covet's API docs page: shows the OpenAPI document and tries its operations. No framework, no
   build step. Document text only ever goes into textContent, never into markup. No inline style,
   no code from strings: it runs under CSP default-src 'self'. It also runs /docs/oauth2-redirect. */
(() => {
"use strict";

const CHANNEL = "covet-docs-oauth2";
const METHODS = "get put post delete options head patch trace".split(" ");

// ---- DOM: h("tag.class", [{text, on<event>: fn, attribute: value} or text,] children)

function h(spec, props, kids) {
  if (typeof props === "string") props = {text: props};
  else if (isArray(props) || props instanceof Node) [props, kids] = [{}, props];
  const [tag, ...cls] = spec.split("."), e = document.createElement(tag);
  if (cls.length) e.className = cls.join(" ");
  for (const k of keys(props)) {
    const v = props[k];
    if (v == null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (/^(value|hidden|checked)$/.test(k)) e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  return add(e, kids);
}
// Strings become text nodes (append parses nothing); falsy children are skipped.
function add(e, kids) {
  for (const c of [].concat(kids)) {
    if (isArray(c)) add(e, c);
    else if (c) e.append(c);
  }
  return e;
}
const $ = id => document.getElementById(id);
// Tables keyed by document text have no prototype: __proto__ is a name like any.
const dict = () => Object.create(null);
const keys = o => isObject(o) ? Object.keys(o) : [];
const own = (o, k) => !!o && typeof o === "object" && Object.prototype.hasOwnProperty.call(o, k);
const clear = e => { e.replaceChildren(); return e; };
let uidN = 0;
const uid = p => `cv-${p}-${++uidN}`;
const str = v => typeof v === "string" ? v : JSON.stringify(v);
const pretty = v => JSON.stringify(v, null, 2);
const isArray = Array.isArray, isObject = v => !!v && typeof v === "object" && !isArray(v);
const lower = v => String(v).toLowerCase();
const shape = (s, other) => s.properties ? "object" : s.items ? "array" : other;
const nonNull = t => isArray(t) ? t.find(x => x !== "null") || t[0] : t;
const para = (text, cls = "desc") => text ? h("div." + cls, String(text)) : null;
const btn = (text, onclick, cls = "", label) =>
  h("button.btn" + cls, {type: "button", text, onclick, "aria-label": label});
const option = (value, text = value) => h("option", {value, text});
const required = () => h("span.req", {title: "required", text: "*"});

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const k of keys(attrs)) e.setAttribute(k, attrs[k]);
  return e;
}
// Open: the shackle swings up and right.
const lockIcon = closed => add(svg("svg", {viewBox: "0 0 24 24", class: "lock-icon", "aria-hidden": "true"}), [
  svg("path", {d: closed ? "M8 11V7a4 4 0 0 1 8 0v4" : "M8 11V7a4 4 0 0 1 7.9-1"}),
  svg("rect", {x: 5, y: 11, width: 14, height: 10, rx: 2})]);

const b64url = bytes => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = n => b64url(crypto.getRandomValues(new Uint8Array(n)));
const utf8b64 = text => btoa(String.fromCharCode(...new TextEncoder().encode(text)));
// A POSIX shell word: '...' with each ' written as '\''.
const q = s => `'${String(s).replace(/'/g, "'\\''")}'`;

// ---- the OAuth2 redirect page

if (document.body.dataset.page === "oauth2-redirect") {
  const found = new URLSearchParams(location.search || location.hash.slice(1));
  const message = {source: CHANNEL, params: Object.fromEntries("code state error error_description iss".split(" ")
    .filter(k => found.has(k)).map(k => [k, found.get(k)]))};
  let sent = false;
  history.replaceState(null, "", location.pathname); // the code leaves the address bar
  // BroadcastChannel works even where Cross-Origin-Opener-Policy cut window.opener.
  try { const bc = new BroadcastChannel(CHANNEL); bc.postMessage(message); bc.close(); sent = true; } catch { /* none */ }
  try { if (window.opener) { window.opener.postMessage(message, location.origin); sent = true; } } catch { /* cut */ }
  $("cv-status").textContent = sent ? "Sign-in finished: you can close this window."
    : "This window could not reach the docs page: close it and try again.";
  if (sent) window.close();
  return;
}

// ---- state

let cfg = {};
try { cfg = JSON.parse(document.body.dataset.config); } catch { /* no document URL: said below */ }
const STORE = "covet-docs-auth:" + cfg.openapiUrl;
// The page's own elements, held before any operation exists.
const [main, filter, authButton, title, version, dialog, schemeList, closeButton] = ["main", "filter", "authorize",
  "title", "version", "dialog", "schemes", "close"].map(k => $("cv-" + k));
const creds = dict(), errors = dict(), drafts = dict(), groups = [], byId = new Map(), locks = [], used = new Map();
let doc = {}, base = "", schemes = {}, pending, lastFocus, none;

const decode = part => { try { return decodeURIComponent(part); } catch { return part; } };
const lookup = ref => ref[0] !== "#" ? undefined : ref.slice(2).split("/")
  .map(part => decode(part).replace(/~1/g, "/").replace(/~0/g, "~")).reduce((cur, k) => own(cur, k) ? cur[k] : undefined, doc);
// What a $ref names (chains followed); keywords beside a $ref win (OpenAPI 3.1).
function deref(s) {
  for (let n = 0; s && typeof s.$ref === "string" && n < 32; n++) {
    const target = lookup(s.$ref), sibs = Object.assign({}, s);
    delete sibs.$ref;
    if (target === undefined) return {};
    s = keys(sibs).length ? Object.assign({}, target, sibs) : target;
  }
  return s || {};
}
const refName = ref => decode(ref.split("/").pop());

// ---- schemas as trees

const CONSTRAINTS = ("format minLength maxLength pattern minimum maximum exclusiveMinimum exclusiveMaximum " +
  "multipleOf minItems maxItems uniqueItems readOnly writeOnly deprecated").split(" ");

// A tree node: type, nullable, children as [name, schema, required]. A $ref met again on the
// way down (`trail`) is recursive: named, not followed.
function describe(raw, trail) {
  const d = {type: "any", s: {}, kids: [], trail};
  if (raw === false) return (d.type = "nothing", d);
  let s = raw, t;
  const ref = s && typeof s.$ref === "string" ? s.$ref : null;
  if (ref) {
    if (trail.includes(ref)) return Object.assign(d, {type: refName(ref) + " (recursive)"});
    d.trail = trail = trail.concat(ref);
    s = deref(s);
  }
  s = d.s = isObject(s) ? s : {};
  t = s.type;
  if (isArray(t)) {
    d.nullable = t.includes("null");
    t = t.filter(x => x !== "null").join(" | ") || "null";
  }
  const alts = s.anyOf || s.oneOf;
  if (isArray(alts)) {
    const rest = alts.filter(a => !(a && a.type === "null" && keys(a).length === 1));
    // X or null: shown as a nullable X.
    if (rest.length === 1 && !t) return Object.assign(describe(rest[0], trail), {nullable: true, outer: s});
    d.nullable = d.nullable || rest.length < alts.length;
    t = (s.anyOf ? "anyOf" : "oneOf") + (t ? " " + t : "");
    d.kids = rest.map((a, i) => ["option " + (i + 1), a, false]);
  } else if (isArray(s.allOf)) {
    t = "allOf";
    d.kids = s.allOf.map((a, i) => ["part " + (i + 1), a, false]);
  } else {
    t = t || shape(s, "enum" in s ? "enum" : "const" in s ? "const" : "any");
    const req = isArray(s.required) ? s.required : [];
    d.kids = keys(s.properties).map(k => [k, s.properties[k], req.includes(k)]);
    const ap = s.additionalProperties;
    if (keys(ap).length) d.kids.push(["[additional properties]", ap, false]);
    if (isObject(s.items)) {
      t = "array of " + (s.items.$ref ? refName(s.items.$ref) : describe(s.items, trail).type);
      d.kids.push(["[items]", s.items, false]);
    }
  }
  d.type = ref ? `${refName(ref)} (${t})` : t;
  return d;
}

function chips(d) {
  const s = d.s, outer = d.outer || {}, out = d.nullable ? ["nullable"] : [];
  for (const k of CONSTRAINTS) if (s[k] != null && s[k] !== false) out.push(s[k] === true ? k : `${k}: ${str(s[k])}`);
  if (isArray(s.enum)) out.push("enum: " + s.enum.map(str).join(", "));
  if ("const" in s) out.push("const: " + str(s.const));
  if (s.additionalProperties === false) out.push("no additional properties");
  const dflt = "default" in outer ? outer.default : s.default;
  if (dflt !== undefined) out.push("default: " + str(dflt));
  return out.map(text => h("span.chip", text));
}

function node(name, raw, req, trail, depth) {
  const d = describe(raw, trail), o = d.outer || {};
  const line = h("span.f-row", [name != null && h("span.f-name", name), req && required(),
    h("span.f-type", d.type), chips(d), para(o.description || d.s.description, "f-desc")]);
  return h("li", d.kids.length ? lazy("details", line, h("ul.tree"), depth < 2,
    () => d.kids.map(k => node(k[0], k[1], k[2], d.trail, depth + 1))) : line);
}
// A <details> whose content is built when first shown.
function lazy(spec, summary, inner, open, make) {
  const fill = () => inner.firstChild || add(inner, make());
  if (open) fill();
  return h(spec, {open, ontoggle: fill}, [h("summary", summary), inner]);
}

// A schema's tree, and its JSON (a top $ref followed) one toggle away.
function schemaView(raw) {
  const tree = h("ul.tree.root", node(null, raw, false, [], 0));
  const json = h("pre.code", {hidden: true, text: pretty(raw && raw.$ref ? deref(raw) : raw)});
  const toggle = btn("JSON", () => {
    tree.hidden = !(json.hidden = !json.hidden);
    toggle.setAttribute("aria-pressed", tree.hidden);
  }, ".small", "Show the schema as JSON");
  toggle.setAttribute("aria-pressed", false);
  return h("div.schema", [toggle, tree, json]);
}

// ---- examples built from schemas

const FORMATS = {date: "2024-01-01", "date-time": "2024-01-01T12:00:00Z", time: "12:00:00", email: "user@example.com",
  uuid: "3fa85f64-5717-4562-b3fc-2c963f66afa6", uri: "https://example.com/",
  hostname: "example.com", ipv4: "192.0.2.1", ipv6: "2001:db8::1", binary: "", byte: "c3RyaW5n"};

// A schema's example; undefined (left out) where recursion or the bounds stop it: DEPTH deep,
// NODES in all as expanded, so shared schemas cannot freeze the tab.
const DEPTH = 6, NODES = 2000;
function example(top) {
  const memo = new Map();
  let budget = NODES;
  const sample = (raw, trail, depth) => {
    if (raw === false || depth > DEPTH || --budget < 0) return undefined;
    if (!isObject(raw)) return null;
    const ref = typeof raw.$ref === "string" && raw.$ref, key = keys(raw).length === 1 && ref;
    if (ref && trail.includes(ref)) return undefined;
    if (!key) return build(deref(raw), ref ? trail.concat(ref) : trail, depth);
    let m = memo.get(key), left = budget;
    if (!m) memo.set(key, m = [build(deref(raw), trail.concat(ref), depth), left - budget]);
    else if ((budget -= m[1]) < 0) return undefined; // reused: it costs what it cost
    return m[0];
  };
  const build = (s, trail, depth) => {
    const down = x => sample(x, trail, depth + 1);
    if (isArray(s.examples) && s.examples.length) return s.examples[0];
    for (const k of ["example", "default", "const"]) if (k in s) return s[k];
    if (isArray(s.enum) && s.enum.length) return s.enum[0];
    if (isArray(s.allOf)) {
      const parts = s.allOf.map(a => sample(a, trail, depth));
      return parts.every(isObject) ? Object.assign(dict(), ...parts) : parts[0];
    }
    const alts = s.anyOf || s.oneOf;
    if (isArray(alts)) {
      const alt = alts.find(a => !(a && a.type === "null"));
      return alt ? sample(alt, trail, depth) : null;
    }
    const t = nonNull(s.type) || (s.additionalProperties ? "object" : shape(s, "any"));
    if (t === "object") {
      const out = dict(), props = s.properties;
      for (const k of keys(props)) out[k] = (props[k] || {}).readOnly ? undefined : down(props[k]);
      if (!props && isObject(s.additionalProperties)) out.additionalProp1 = down(s.additionalProperties);
      return out;
    }
    if (t === "array") {
      const item = down(s.items);
      return item === undefined ? [] : Array(Math.min(Math.max(1, +s.minItems || 0), 3)).fill(item);
    }
    if (t === "string") {
      return own(FORMATS, s.format) ? FORMATS[s.format]
        : "string".padEnd(Math.min(+s.minLength || 0, 64), "x").slice(0, s.maxLength == null ? undefined : s.maxLength);
    }
    if (t === "integer" || t === "number") return number(s, t === "integer");
    return t === "boolean" ? true : t === "any" && !trail.length ? {} : null;
  };
  return sample(top, [], 0);
}
const given = o => o.example !== undefined ? o.example
  : isObject(o.examples) ? deref(Object.values(o.examples)[0]).value : undefined;
function number(s, integer) {
  const num = x => typeof x === "number", step = s.multipleOf || (integer ? 1 : 0.5);
  let v = num(s.minimum) ? s.minimum : num(s.exclusiveMinimum) ? s.exclusiveMinimum + step : 0;
  if (num(s.maximum) && v > s.maximum) v = s.maximum;
  return integer ? Math.ceil(v) : v;
}

// ---- inputs for values

// A schema as one input sees it: $ref and nullable anyOf followed.
function plain(raw) {
  let s = deref(raw);
  const alt = [].concat(s.anyOf || s.oneOf || []).map(deref).find(a => a && a.type !== "null");
  if (alt) s = Object.assign({}, alt, "default" in s ? {default: s.default} : {});
  return {s, t: nonNull(s.type) || shape(s, "string")};
}

function input(raw, id, label, value) {
  const {s, t} = plain(raw), a = {id, "aria-label": label}, opts = isArray(s.enum) ? s.enum : t === "boolean" && [true, false];
  const e = opts ? h("select", a, [option("", "--"), opts.map(v => option(str(v)))])
    : h("input", Object.assign(a, t === "integer" || t === "number" ? {type: "number", step: t === "integer" ? 1 : "any"}
      : s.format === "binary" ? {type: "file"} : {type: "text", placeholder: s.format || t}));
  if (value !== undefined && e.type !== "file") e.value = str(value);
  return e;
}
const read = e => e.type === "file" ? e.files[0] || "" : e.value;

// A parameter's or field's input (a list for arrays); values() reads it.
function control(raw, name, value) {
  const id = uid("in"), p = plain(raw);
  if (p.t !== "array") {
    const one = input(raw, id, name, value);
    return {id, el: one, values: () => [read(one)].filter(v => v !== "")};
  }
  const list = h("div.items");
  let n = 0;
  const row = v => {
    const r = h("div.item", [input(p.s.items, n ? uid("in") : id, `${name} item ${++n}`, v),
      btn("Remove", () => r.remove(), ".small", `Remove this ${name} item`)]);
    list.append(r);
  };
  (isArray(value) && value.length ? value : [undefined]).forEach(row);
  return {id, el: h("div.array", {role: "group", "aria-label": name}, [list,
    btn("Add item", () => row(), ".small", `Add a ${name} item`)]),
  values: () => Array.from(list.querySelectorAll("input,select"), read).filter(v => v !== "")};
}

// ---- security

const requirements = op => [].concat(isArray(op.security) ? op.security : doc.security || []);
const schemeNames = op => [...new Set(requirements(op).flatMap(keys))].filter(n => own(schemes, n));
// Alternatives: the first (non-empty) one whose schemes all have credentials.
const chosen = op => requirements(op).find(r => keys(r).length && keys(r).every(n => creds[n]));
const isBasic = sc => sc.type === "http" && lower(sc.scheme) === "basic";
function kindOf(sc) {
  if (sc.type === "apiKey") return `API key in ${sc.in} ${sc.name}`;
  if (sc.type === "http") return `HTTP ${sc.scheme}` + (sc.bearerFormat ? ` (${sc.bearerFormat})` : "");
  if (sc.type === "oauth2") return "OAuth2: " + keys(sc.flows).join(", ");
  return String(sc.type);
}
function put(req, where, name, value) {
  if (where === "header") req.headers[name] = value;
  else if (where === "query") req.query.append(name, value);
  else if (where === "cookie") req.cookies.push([name, value]);
}
function applyAuth(op, req) {
  const names = keys(chosen(op));
  for (const n of names) {
    const c = creds[n], sc = deref(schemes[n]);
    if (sc.type === "apiKey") put(req, sc.in, sc.name, c.token);
    else req.headers.Authorization = isBasic(sc) ? "Basic " + utf8b64(c.username + ":" + c.password)
      : (sc.type !== "http" || lower(sc.scheme) === "bearer" ? "Bearer" : sc.scheme) + " " + c.token;
  }
  return names;
}
function save() {
  // sessionStorage, never localStorage: they end with the tab and stay in it.
  try {
    if (cfg.persistAuthorization) sessionStorage.setItem(STORE, JSON.stringify(creds));
    else sessionStorage.removeItem(STORE);
  } catch { /* storage turned off: memory only */ }
}
function restore() {
  if (!cfg.persistAuthorization) return save();
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORE));
    for (const n of keys(kept)) if (own(schemes, n) && isObject(kept[n])) creds[n] = kept[n];
  } catch { /* nothing kept */ }
}
function authChanged() {
  save();
  for (const l of locks) {
    const on = !!chosen(l.op);
    clear(l.el).append(lockIcon(on));
    l.el.setAttribute("aria-label", `${on ? "Authorized" : "Not authorized"}: ${l.names.join(", ")}`);
    l.el.classList.toggle("on", on);
  }
  const any = keys(creds).length;
  add(clear(authButton), [lockIcon(any), any ? "Authorized" : "Authorize"]);
  if (dialog.open) fillDialog();
}
const authKey = name => "cv-auth-" + name.replace(/\W/g, "_");
// Granted: the typed secrets go; the client id and scopes stay.
// Logout also clears the results that show the secret.
function logout(name) {
  delete creds[name];
  used.forEach((names, el) => names.includes(name) && used.delete(clear(el)));
  authChanged();
}
function grant(name, cred) {
  const prefix = authKey(name) + "-";
  for (const k of keys(drafts)) if (k.startsWith(prefix) && !/client_id$|-s\d+$/.test(k)) delete drafts[k];
  delete errors[name];
  creds[name] = cred;
  authChanged();
}

// The document's URLs are the app's, like its paths; resolved once, as fetch would (//host...).
const appUrl = (u = "") => /^[a-z][a-z\d+.-]*:/i.test(u) ? u : base + (u[0] === "/" ? "" : "/") + u;
const resolve = u => new URL(u, location.href);
// OAuth2 URLs are http(s): a javascript URL would run in this origin.
function webUrl(u) {
  const url = resolve(appUrl(u));
  if (/^https?:$/.test(url.protocol)) return url;
  throw new Error(`${u} is not an http or https URL: refused`);
}
const fail = (name, text) => { errors[name] = text; fillDialog(); };
const setAll = (params, o) => { for (const k of keys(o)) if (o[k]) params.set(k, o[k]); return params; };

function tokenRequest(name, tokenUrl, fields, extra) {
  const body = setAll(new URLSearchParams(), fields);
  Promise.resolve().then(() => {
    const url = webUrl(tokenUrl);
    fail(name, `Asking ${url.href} for a token…`);
    return fetch(url, {method: "POST", body, headers: {Accept: "application/json"}}); // body: urlencoded
  }).then(r => r.text().then(text => {
    let j;
    try { j = JSON.parse(text); } catch { /* not JSON: shown as text */ }
    if (!r.ok || !j || typeof j.access_token !== "string") {
      throw new Error(j && j.error ? [j.error, j.error_description].filter(Boolean).join(": ")
        : `${r.status} ${j && (j.detail || j.title) || text || r.statusText}`);
    }
    grant(name, Object.assign({token: j.access_token, scope: j.scope || fields.scope || ""}, extra));
  })).catch(e => fail(name, "Token request failed: " + e.message));
}

// Authorization code with PKCE (RFC 7636, S256): /docs/oauth2-redirect hands code and state over.
const START = "Could not start the sign-in: ";
function startCode(name, flow, v, scope) {
  let u;
  // No crypto.subtle outside secure contexts (http to a LAN address).
  try {
    if (!crypto.subtle) throw new Error("the code flow needs https or localhost for PKCE");
    u = webUrl(flow.authorizationUrl);
  } catch (e) { return fail(name, START + e.message); }
  // Opened in the click, before any await: a later popup is blocked.
  const popup = window.open("", "covet-oauth2", "popup,width=560,height=700");
  if (!popup) return fail(name, "The browser blocked the sign-in window: allow pop-ups here.");
  const state = random(16), verifier = random(32), redirect = location.origin + cfg.oauth2RedirectUrl;
  pending = {name, flow, v, state, verifier, redirect};
  fail(name, "Waiting for the sign-in window…");
  crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(hash => {
    setAll(u.searchParams, {response_type: "code", client_id: v.client_id, redirect_uri: redirect, scope, state,
      code_challenge: b64url(new Uint8Array(hash)), code_challenge_method: "S256"});
    popup.location.href = u.href;
  }).catch(e => { popup.close(); pending = null; fail(name, START + e.message); });
}
// Another state is another tab's or flow's (or forged): ignored.
function onRedirect(msg) {
  const p = msg && msg.source === CHANNEL && msg.params, run = pending;
  if (!p || !run || p.state !== run.state) return;
  pending = null;
  if (p.error || !p.code) return fail(run.name, ["Sign-in failed", p.error || "no code", p.error_description].filter(Boolean).join(": "));
  tokenRequest(run.name, run.flow.tokenUrl, {grant_type: "authorization_code", code: p.code,
    redirect_uri: run.redirect, client_id: run.v.client_id, code_verifier: run.verifier,
    client_secret: run.v.client_secret});
}
try { new BroadcastChannel(CHANNEL).onmessage = e => onRedirect(e.data); } catch { /* opener only */ }
window.addEventListener("message", e => { if (e.origin === location.origin) onRedirect(e.data); });

// ---- the Authorize dialog

function openDialog(from) {
  lastFocus = from;
  fillDialog();
  dialog.showModal();
}
dialog.addEventListener("close", () => lastFocus && lastFocus.focus());
closeButton.addEventListener("click", () => dialog.close());
// Tab stays in the dialog (showModal alone lets it out).
dialog.addEventListener("keydown", e => {
  const all = dialog.querySelectorAll("button,input"), ends = [all[0], all[all.length - 1]];
  if (e.key === "Tab" && document.activeElement === ends[+!e.shiftKey]) {
    e.preventDefault();
    ends[+e.shiftKey].focus();
  }
});
function fillDialog() {
  const was = dialog.contains(document.activeElement) && document.activeElement;
  const at = was ? [...schemeList.children].indexOf(was.closest("section")) : -1;
  add(clear(schemeList), keys(schemes).map(schemeView));
  // The focus stays where it was, or in the same scheme.
  const back = was && (was.id && $(was.id) || at >= 0 && schemeList.children[at].querySelector("input,button"));
  if (back) back.focus();
}

// What was typed in the dialog survives its redraws.
function keep(e) {
  const prop = e.type === "checkbox" ? "checked" : "value";
  if (e.id in drafts) e[prop] = drafts[e.id];
  e.addEventListener("input", () => { drafts[e.id] = e[prop]; });
  return e;
}

function schemeView(name) {
  const sc = deref(schemes[name]), c = creds[name], key = authKey(name);
  const box = h("section.scheme", {"aria-labelledby": key}, [
    h("h3", {id: key}, [name, h("span.muted", " " + kindOf(sc))]), para(sc.description),
    h(c ? "p.state.on" : "p.state", c ? "Authorized" + (c.username ? " as " + c.username : "") +
      (c.scope ? ` (scope: ${c.scope})` : "") : "Not authorized"),
    errors[name] && h("p.error", {role: "alert", text: errors[name]})]);
  if (c) return add(box, btn("Logout", () => logout(name), "", "Logout " + name));
  const secret = {type: "password"}, user = [["Username", "username"], ["Password", "password", secret]];
  const client = [["client_id", "client_id", {value: cfg.oauth2ClientId || ""}],
    ["client_secret (optional)", "client_secret", secret]];
  const apiKey = sc.type === "apiKey", form = (kind, fields, flow) => box.append(authForm(name, key, kind, fields, flow));
  if (isBasic(sc)) form("basic", user);
  else if (sc.type !== "oauth2") form(apiKey ? "key" : "token", [[apiKey ? "Value" : "Token", "value", secret]]);
  else for (const f of keys(sc.flows)) {
    if (f === "implicit") box.append(para("implicit: not supported (use authorizationCode)"));
    else form(f, f === "password" ? user.concat(client) : client, sc.flows[f] || {});
  }
  return box;
}

// The form of a scheme or OAuth2 flow: fields as [label, name, attributes].
function authForm(name, key, kind, fields, flow) {
  const inputs = {}, boxes = [], scopes = keys(flow && flow.scopes);
  return h("form.auth-form", {"aria-label": flow ? `${name} ${kind} flow` : name, onsubmit: e => {
    e.preventDefault();
    const v = Object.fromEntries(keys(inputs).map(k => [k, inputs[k].value]));
    const scope = boxes.filter(b => b.checked).map(b => b.value).join(" ");
    if (!flow) return grant(name, kind === "basic" ? v : {token: v.value});
    if (kind === "authorizationCode") return startCode(name, flow, v, scope);
    tokenRequest(name, flow.tokenUrl, {grant_type: kind === "password" ? "password" : "client_credentials",
      username: v.username, password: v.password, scope, client_id: v.client_id, client_secret: v.client_secret},
    {username: v.username});
  }}, [
    flow && flow.tokenUrl && para("Token URL: " + flow.tokenUrl, "muted"),
    fields.map(([label, k, attrs]) => {
      const id = `${key}-${kind}-${k}`;
      inputs[k] = keep(h("input", Object.assign({id, type: "text", autocomplete: "off",
        required: !/client/.test(k)}, attrs)));
      return h("div.field", [h("label", {for: id, text: label}), inputs[k]]);
    }),
    scopes.length && h("fieldset.scopes", [h("legend", "Scopes"), scopes.map((s, i) => {
      const cb = keep(h("input", {type: "checkbox", value: s, checked: true, id: `${key}-${kind}-s${i}`}));
      boxes.push(cb);
      return h("div.check", [cb, h("label", {for: cb.id}, [h("code", s), " " + (flow.scopes[s] || "")])]);
    })]),
    h("button.btn.primary", {type: "submit", text: "Authorize", "aria-label": `Authorize ${name}` + (flow ? ` (${kind})` : "")})]);
}

// ---- an operation

function opView(view) {
  const op = view.op, bodyId = uid("op"), names = view.names = schemeNames(op);
  const opId = String(op.operationId || ""), first = opId && !byId.has(opId);
  if (first) byId.set(view.id = opId, view);
  view.toggle = h("button.op-toggle", {type: "button", "aria-expanded": "false", "aria-controls": bodyId,
    onclick: () => setOpen(view, view.body.hidden, true)}, [
    h("span.method." + view.method, view.method.toUpperCase()),
    h("span.path", view.path), h("span.summary", String(op.summary || ""))]);
  const lock = names.length && h("button.lock", {type: "button", onclick: () => openDialog(lock)});
  if (lock) locks.push({el: lock, op, names});
  view.body = h("div.op-body", {id: bodyId, hidden: true});
  // Deep links use byId; an id attribute never takes the page's cv-*.
  view.el = h("section.op." + view.method + (op.deprecated ? ".deprecated" : ""),
    {id: first && !opId.startsWith("cv-") && opId}, [h("div.op-head", [view.toggle, lock]), view.body]);
  view.text = lower([view.method, view.path, op.summary, op.operationId].concat(op.tags || []).join(" "));
  return view.el;
}

function setOpen(view, open, byClick) {
  if (open && !view.body.firstChild) buildOp(view);
  view.body.hidden = !open;
  view.toggle.setAttribute("aria-expanded", open);
  if (open && byClick && view.id) history.replaceState(null, "", "#" + encodeURIComponent(view.id));
}

function buildOp(view) {
  const op = view.op, panel = view.body, names = view.names, controls = [], seen = dict();
  let body;
  add(panel, [op.deprecated && h("p.warn", "Deprecated"), para(op.description),
    names.length && h("p.muted", "Security: " + names.map(n => `${n} (${kindOf(deref(schemes[n]))})`).join(" or "))]);
  // The operation's parameters, then its path's that it does not redefine.
  const params = [].concat(op.parameters || [], view.pathItem.parameters || []).map(deref)
    .filter(p => p.name && !seen[p.in + p.name] && (seen[p.in + p.name] = true));
  if (params.length) {
    add(panel, [h("h3", "Parameters"), h("table.params", [h("thead", h("tr", [
      h("th", "Name"), h("th", "Description and value")])), h("tbody", params.map(p => {
      const schema = p.schema || {}, d = describe(schema, []), c = control(schema, p.name, deref(schema).default);
      const ex = given(p);
      if (ex !== undefined && c.el.placeholder !== undefined) c.el.placeholder = "e.g. " + str(ex);
      const need = p.required || p.in === "path";
      controls.push({p, c, required: need});
      return h("tr", [
        h("td.p-name", [h("label", {for: c.id}, [h("code", String(p.name)), need && required()]),
          h("div.muted", `${d.type} (${p.in})`)]),
        h("td", [para(p.description), p.deprecated && h("span.chip", "deprecated"),
          chips(d),
          d.kids.length && !/^array of (string|integer|number|boolean)$/.test(d.type) && schemaView(schema), c.el])]);
    }))])]);
  }
  const rb = deref(op.requestBody);
  if (isObject(rb.content)) {
    const medias = keys(rb.content), box = h("div.editor");
    const pick = m => { body = editor(m, rb.content[m] || {}, rb.required); clear(box).append(body.el); };
    const select = medias.length > 1 && h("select", {"aria-label": "Media type of the body", onchange: () => pick(select.value)},
      medias.map(m => option(m)));
    add(panel, [h("h3", ["Request body ", rb.required && required()]), para(rb.description),
      select || h("div.muted", medias[0]), medias.map(m => schemaOf(rb.content[m], select && m)), box]);
    pick(medias[0]);
  }
  const error = h("p.error", {role: "alert", hidden: true}), result = h("div.result", {"aria-live": "polite"});
  add(panel, [h("div.try", [h("h3", "Try it out"),
    btn("Execute", () => execute(view, controls, body, error, result), ".primary.execute",
      `Execute ${view.method.toUpperCase()} ${view.path}`), error, result]), h("h3", "Responses"),
  keys(op.responses).map(code => {
    const r = deref(op.responses[code]);
    return h("div.response", [h("div.code-line", [h("strong", code), " " + (r.description || "")]),
      keys(r.content).map(m => schemaOf(r.content[m], m))]);
  })]);
}
function schemaOf(media, name) {
  const s = media && media.schema;
  return h("div", [name && h("div.muted", name), keys(s).length && schemaView(s)]);
}

function editor(media, mo, isRequired) {
  if (/x-www-form-urlencoded|multipart\/form-data/.test(media)) {
    const s = deref(mo.schema), req = s.required || [], fields = [];
    const el = h("div.form-fields", keys(s.properties).map(k => {
      const ps = deref(s.properties[k]), c = control(s.properties[k], k, ps.default);
      fields.push({p: {name: k}, c, required: req.includes(k)});
      return h("div.field", [h("label", {for: c.id}, [h("code", k), req.includes(k) && required(),
        para(ps.description, "muted")]), c.el]);
    }));
    return {el, media, fields};
  }
  let ex = given(mo);
  if (ex === undefined) ex = example(mo.schema);
  const json = /json/.test(media);
  const area = h("textarea", {rows: 8, spellcheck: "false", "aria-label": `Request body (${media})`,
    value: ex == null && !json ? "" : json || typeof ex !== "string" ? pretty(ex) : ex});
  return {el: area, media, required: isRequired, area};
}

// ---- sending

// RFC 6265 4.1.1 cookie names and values; others are refused, never encoded.
const TOKEN = /^[\w!#$%&'*+.^`|~-]+$/, OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const readCookie = k => (document.cookie.split("; ").find(c => c.startsWith(k + "=")) || "=").slice(k.length + 1) || undefined;

function execute(view, controls, body, errorEl, result) {
  const req = {method: view.method.toUpperCase(), headers: dict(), query: new URLSearchParams(), cookies: []};
  const fields = body && body.fields || [], curlBody = [], init = {method: req.method, headers: req.headers}; // cookies: same origin only
  const say = text => { errorEl.hidden = !text; errorEl.textContent = text; };
  const missing = controls.concat(fields).filter(x => x.c.el.classList.toggle("invalid", x.required && !x.c.values().length));
  if (body && body.required && !body.area.value.trim()) missing.push({p: {name: "request body"}});
  if (missing.length) return say("Required and missing: " + missing.map(x => x.p.name).join(", "));
  let path = view.path, url, sent = [];
  for (const {p, c} of controls) {
    const vals = c.values().map(String), joined = vals.join(",");
    if (!vals.length) continue;
    if (p.in !== "path") (p.in === "query" && p.explode !== false ? vals : [joined]).forEach(v => put(req, p.in, p.name, v));
    // URLs drop "." and ".." segments, even as %2E.
    else if (/^\.\.?$/.test(joined)) return say(`${p.name}: "${joined}" cannot be sent as a path segment.`);
    else path = path.split(`{${p.name}}`).join(encodeURIComponent(joined));
  }
  try { url = resolve(base + path); } catch (e) { return say("Not a URL: " + base + path); }
  // Credentials go to this page's origin only; another gets the request without, and we say so.
  const same = url.origin === location.origin;
  if (same) sent = applyAuth(view.op, req);
  else req.cookies = [];
  const bad = req.cookies.find(([k, v]) => !TOKEN.test(k) || !OCTETS.test(v));
  if (bad) return say(`Cookie ${bad[0]}: "${bad[1]}" is not a valid cookie (RFC 6265: no spaces, controls, ", comma, ; or \\).`);
  say("");
  if (body && body.fields) {
    // fetch and curl write the form's Content-Type (and boundary).
    const multipart = /multipart/.test(body.media), data = init.body = multipart ? new FormData() : new URLSearchParams();
    for (const {p: {name: n}, c} of fields) {
      for (const v of c.values()) {
        data.append(n, v);
        // -F reads ;type=, @ and < in text, and splits a name on ; or ,.
        curlBody.push(!multipart ? "--data-urlencode " + q(encodeURIComponent(n) + "=" + v) : v instanceof File
          ? "-F " + q(`${n}=@"${v.name.replace(/[\\"]/g, "\\$&")}"`) : "--form-string " + q(`${n}=${v}`));
      }
    }
  } else if (body && body.area.value !== "") {
    req.headers["Content-Type"] = body.media;
    curlBody.push("--data-raw " + q(init.body = body.area.value));
  }
  const qs = req.query.toString(), full = resolve(base + path + (qs ? "?" + qs : "")).href;
  const curl = [`curl --globoff -X ${req.method} ${q(full)}`].concat(keys(req.headers).map(k => "-H " + q(`${k}: ${req.headers[k]}`)),
    req.cookies.length ? ["-b " + q(req.cookies.map(c => c.join("=")).join("; "))] : [], curlBody).join(" \\\n  ");
  const curlPre = h("pre.code.curl", curl), status = h("p.status", "Sending…");
  const show = (text, cls) => { status.textContent = text; status.className = "status " + cls; };
  const copy = btn("Copy", () => Promise.resolve().then(() => navigator.clipboard.writeText(curl)).then(() => { copy.textContent = "Copied"; }).catch(() => {
    getSelection().selectAllChildren(curlPre); // no clipboard here: selected for Ctrl+C
    copy.textContent = "Selected: press Ctrl+C";
  }), ".small", "Copy the curl command");
  add(clear(result), [h("h4", ["curl ", copy]), curlPre, h("h4", "Request URL"), h("pre.code.url", full),
    h("h4", "Response"), !same && h("p.warn", "credentials not sent to " + url.origin), status]);
  used.set(result, sent);
  // fetch cannot set a Cookie header: it is set on the document for this request only, then a
  // readable one of that name gets its value back, else it goes. (HttpOnly ones are out of reach.)
  const before = req.cookies.map(([k]) => readCookie(k));
  const cookies = end => req.cookies.forEach(([k, v], i) => {
    v = end ? before[i] : v;
    document.cookie = `${k}=${v === undefined ? "; max-age=0" : v}; path=/; SameSite=Strict`;
  });
  cookies(false);
  const t0 = performance.now();
  fetch(full, init).then(res => res.text().then(text => {
    const ms = Math.round(performance.now() - t0), lines = Array.from(res.headers, ([k, v]) => `${k}: ${v}`);
    if (/json/.test(res.headers.get("content-type"))) { try { text = pretty(JSON.parse(text)); } catch { /* as sent */ } }
    show(`${res.status} ${res.statusText} · ${ms} ms`, "s" + String(res.status)[0]);
    add(result, [h("h4", "Response headers"), h("pre.code.headers", lines.join("\n")),
      h("h4", "Response body"), h("pre.code.body", text || "(no body)")]);
  })).catch(e => show("No response: " + e.message, "error")).finally(() => cookies(true));
}

// ---- the page

function render(d) {
  if (!isObject(d) || !isObject(d.paths) && !isObject(d.components)) throw new Error("not an OpenAPI document");
  doc = d;
  const info = d.info || {}, comp = d.components || {}, name = info.title || cfg.title || "API";
  const srv = d.servers && d.servers[0] && d.servers[0].url;
  title.textContent = name;
  document.title = name + " - API docs";
  version.textContent = [info.version && "version " + info.version, d.openapi && "OpenAPI " + d.openapi]
    .filter(Boolean).join(" · ");
  base = typeof srv === "string" ? srv.replace(/\/+$/, "") : "";
  schemes = Object.assign(dict(), comp.securitySchemes);
  restore();
  add(clear(main), para(info.description, "desc.intro"));
  // Groups in the document's tags order, then other tags, untagged last.
  const byTag = dict(), order = [], untagged = [];
  const group = name => byTag[name] || (order.push(name), byTag[name] = {name, views: []});
  for (const t of isArray(d.tags) ? d.tags : []) if (t && t.name) group(String(t.name)).tag = t;
  for (const path of keys(d.paths)) {
    const item = deref(d.paths[path]);
    for (const method of METHODS.filter(m => isObject(item[m]))) {
      const tags = [].concat(item[method].tags || []), make = () => ({path, method, op: item[method], pathItem: item});
      if (tags.length) tags.forEach(t => group(String(t)).views.push(make()));
      else untagged.push(make());
    }
  }
  untagged.forEach(v => group("default").views.push(v));
  for (const g of order.map(n => byTag[n]).filter(g => g.views.length)) {
    groups.push(g);
    main.append(g.el = h("section.tag", {"aria-label": g.name}, [h("h2", g.name),
      para(g.tag && g.tag.description), g.views.map(opView)]));
  }
  add(main, [!groups.length && h("p", "This API has no operations."),
    none = h("p", {hidden: true, text: "No operation matches the filter."})]);
  const defs = keys(comp.schemas);
  if (defs.length) {
    main.append(h("section.schemas", {"aria-label": "Schemas"}, [h("h2", "Schemas"),
      defs.map(name => lazy("details.schema-def", h("code", name), h("div"), false,
        () => schemaView({$ref: "#/components/schemas/" + encodeURIComponent(name)})))]));
  }
  authButton.hidden = !keys(schemes).length;
  authButton.addEventListener("click", () => openDialog(authButton));
  authChanged();
  if (filter.value) applyFilter();
  route();
}

function applyFilter() {
  const words = lower(filter.value.trim());
  for (const g of groups) {
    for (const v of g.views) v.el.hidden = !v.text.includes(words);
    g.el.hidden = g.views.every(v => v.el.hidden);
  }
  if (groups.length) none.hidden = groups.some(g => !g.el.hidden);
}

function route() {
  const view = byId.get(decode(location.hash.slice(1)));
  if (!view) return;
  if (view.el.hidden) { filter.value = ""; applyFilter(); }
  setOpen(view, true, false);
  view.el.scrollIntoView({block: "start"});
  view.toggle.focus({preventScroll: true});
}

filter.addEventListener("input", applyFilter);
window.addEventListener("hashchange", route);
document.addEventListener("keydown", e => {
  if (e.key === "/" && !(e.ctrlKey || e.metaKey || e.altKey) && !dialog.open &&
      !/^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) {
    e.preventDefault();
    filter.focus();
  }
});

const fatal = text => add(clear(main), h("p.error", {role: "status", text}));
if (!cfg.openapiUrl) return fatal("This app's OpenAPI document is turned off: nothing to show.");
fetch(cfg.openapiUrl, {headers: {Accept: "application/json"}}).then(r => {
  if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
  return r.json();
}).then(render).catch(e => fatal(`Could not show the API document ${cfg.openapiUrl}: ${e.message}`));
})();
