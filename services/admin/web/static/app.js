// hookgate web inspector: plain JavaScript, no library, no network access beyond this server's /admin API.
//
// Safety: everything shown comes from webhook senders (bodies, headers, ids) and is attacker-controlled.
// It only ever reaches the page as text (textContent, createTextNode, input values); this file never
// assigns HTML (no innerHTML, outerHTML, insertAdjacentHTML or document.write), and the pages' Content-
// Security-Policy allows scripts from this server only, so a body holding "<script>" stays text.
"use strict";

const API = "/admin";
const UI = "/admin/ui";
const TOKEN_KEY = "hookgate.inspector.token";
const POLL_MS = 3000;
const PRESETS = [
  ["github", "GitHub"], ["gitlab", "GitLab (X-Gitlab-Token)"], ["stripe", "Stripe"], ["slack", "Slack"],
  ["shopify", "Shopify"], ["standard_webhooks", "Standard Webhooks"], ["svix", "Svix"], ["bitbucket", "Bitbucket"],
  ["hmac", "Generic HMAC (X-Signature)"], ["bearer", "Bearer token"], ["header_token", "Token in a header"],
  ["none", "None (no verification)"],
];
// What a refusal reason means, for the person whose sender says "delivery failed".
const REASONS = {
  bad_signature: "The signature does not match: the sender signs with another secret, or the body changed on the way.",
  missing_signature: "The request carries no signature header.",
  malformed_signature: "The signature header is not in the sender's format.",
  stale_timestamp: "The signed timestamp is too old (or in the future): a replayed request, or a clock far off.",
  missing_timestamp: "The request carries no signed timestamp.",
  bad_token: "The token does not match the trigger's token.",
  missing_token: "The request carries no token.",
  ip_not_allowed: "The client address is not in the trigger's allow_ips.",
  rate_limited: "The trigger's rate limit was exceeded; the sender should retry later.",
  payload_too_large: "The body is larger than the trigger's max_body_bytes.",
  body_too_large: "The body is larger than the trigger's max_body_bytes.",
  method_not_allowed: "The HTTP method is not one of the trigger's methods.",
  unsupported_media_type: "The Content-Type is not one the trigger accepts.",
  invalid_body: "The body does not parse as its Content-Type says.",
  publish_timeout: "Kafka did not confirm the event in time: the sender got 503 and should retry.",
};

// What the audit record says about the request, in this order (its reason is shown above).
const REQUEST_FACTS = [
  ["method", "Method"], ["client_ip", "Client address"], ["peer", "Connected from"], ["request_id", "Request id"],
  ["body_bytes", "Body bytes"], ["request_bytes", "Request bytes"], ["duration_ms", "Answered in (ms)"],
];

// ---------------------------------------------------------------------------------------- helpers

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function $(id) { return document.getElementById(id); }

// An element with text children only: strings become text nodes, never markup.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "href") node.setAttribute("href", safeHref(value));
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Links are built here from ids, never taken from data: only this UI's own paths are allowed.
function safeHref(value) {
  const text = String(value);
  return text.startsWith(UI + "/") ? text : UI + "/triggers";
}

function show(node, visible) { node.hidden = !visible; }

function fail(node, err) {
  node.textContent = err && err.message ? err.message : String(err);
  show(node, true);
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  show(box, true);
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => show(box, false), 2500);
}

function when(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
}

function items(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}

async function api(method, path, body) {
  const headers = { Accept: "application/json", Authorization: "Bearer " + (token() || "") };
  const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(API + path, init);
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = { message: text.slice(0, 300) }; }
  }
  if (resp.status === 401 && document.body.dataset.page !== "login") {
    sessionStorage.removeItem(TOKEN_KEY);
    location.assign(UI + "/login?next=" + encodeURIComponent(location.pathname + location.search));
  }
  if (!resp.ok) {
    const err = new Error((data && data.message) || resp.status + " " + resp.statusText);
    err.status = resp.status;
    err.data = data;
    throw err;
  }
  return data;
}

function copyButton(text, label) {
  return el("button", {
    type: "button",
    className: "copy",
    title: "Copy to the clipboard",
    "data-copy": label || "value",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
      } catch (_) {
        // Without the async clipboard (an insecure origin): a hidden textarea and the old command.
        const area = el("textarea", { readonly: "readonly", className: "offscreen" });
        area.value = text;
        document.body.append(area);
        area.select();
        document.execCommand("copy");
        area.remove();
      }
      toast("Copied");
    },
  }, "Copy");
}

function badge(text, kind) { return el("span", { className: "badge " + (kind || text) }, text); }

function fact(list, name, ...value) {
  list.append(el("dt", {}, name), el("dd", {}, ...value));
}

function kvRows(tbody, mapping) {
  tbody.replaceChildren();
  const keys = Object.keys(mapping || {}).sort();
  for (const key of keys) tbody.append(el("tr", {}, el("td", {}, key), el("td", {}, String(mapping[key]))));
  return keys.length;
}

// ------------------------------------------------------------------------------------------ bodies

// JSON pretty-printed, XML indented, anything else as received; always as text.
function prettyBody(text, contentType) {
  const media = (contentType || "").split(";")[0].trim().toLowerCase();
  const looksJson = media.endsWith("json") || /^\s*[[{]/.test(text);
  if (looksJson) {
    try { return ["JSON", JSON.stringify(JSON.parse(text), null, 2)]; } catch (_) { /* not JSON after all */ }
  }
  const looksXml = media.endsWith("xml") || /^\s*</.test(text);
  if (looksXml) {
    const doc = new DOMParser().parseFromString(text, "application/xml");
    if (!doc.getElementsByTagName("parsererror").length) return ["XML", xmlText(doc.documentElement, 0)];
  }
  return [media || "raw", text];
}

// Markup characters of text and attribute values written back as XML entities, so the indented text is XML.
function xmlEscape(value, quote) {
  const text = value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return quote ? text.replace(/"/g, "&quot;") : text;
}

function xmlText(node, depth) {
  const pad = "  ".repeat(depth);
  if (node.nodeType === Node.TEXT_NODE || node.nodeType === Node.CDATA_SECTION_NODE) {
    const value = node.nodeValue.trim();
    return value ? pad + xmlEscape(value, false) + "\n" : "";
  }
  if (node.nodeType === Node.COMMENT_NODE) return pad + "<!--" + node.nodeValue + "-->\n";
  if (node.nodeType !== Node.ELEMENT_NODE) return "";
  const attrs = Array.from(node.attributes, (a) => " " + a.name + '="' + xmlEscape(a.value, true) + '"').join("");
  const kids = Array.from(node.childNodes).filter((c) => c.nodeType !== Node.TEXT_NODE || c.nodeValue.trim());
  if (!kids.length) return pad + "<" + node.nodeName + attrs + "/>\n";
  if (kids.length === 1 && kids[0].nodeType === Node.TEXT_NODE) {
    return pad + "<" + node.nodeName + attrs + ">" + xmlEscape(kids[0].nodeValue.trim(), false) + "</" + node.nodeName + ">\n";
  }
  return pad + "<" + node.nodeName + attrs + ">\n" + kids.map((c) => xmlText(c, depth + 1)).join("") +
    pad + "</" + node.nodeName + ">\n";
}

// ------------------------------------------------------------------------------------------- pages

async function session() {
  if (!token()) {
    location.assign(UI + "/login?next=" + encodeURIComponent(location.pathname + location.search));
    return null;
  }
  const me = await api("GET", "/whoami");
  $("whoami").textContent = (me.name || "token") + " · " + (me.scope || "");
  show($("session"), true);
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.assign(UI + "/login");
  });
  return me;
}

function loginPage() {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = $("token").value.trim();
    show($("login-error"), false);
    sessionStorage.setItem(TOKEN_KEY, value);
    try {
      await api("GET", "/whoami");
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      fail($("login-error"), err.status === 401 ? new Error("This token is not accepted.") : err);
      return;
    }
    const next = new URLSearchParams(location.search).get("next") || "";
    location.assign(next.startsWith(UI + "/") && !next.startsWith(UI + "/login") ? next : UI + "/triggers");
  });
}

async function allTriggers() {
  const out = [];
  let cursor = null;
  for (let page = 0; page < 20; page += 1) {
    const data = await api("GET", "/triggers?limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    out.push(...items(data, "triggers"));
    cursor = data && data.next_cursor;
    if (!cursor) break;
  }
  return out;
}

async function triggersPage() {
  if (!(await session())) return;
  const tbody = $("triggers").querySelector("tbody");
  try {
    const [triggers, stats] = await Promise.all([
      allTriggers(),
      api("GET", "/stats?window_seconds=3600").catch(() => null),
    ]);
    const counts = {};
    for (const row of items(stats, "triggers")) counts[row.trigger_id] = row;
    tbody.replaceChildren();
    for (const t of triggers) {
      const c = counts[t.id] || {};
      const link = el("a", { href: UI + "/triggers/" + encodeURIComponent(t.id), "data-trigger": t.id }, t.name);
      const url = t.url
        ? el("td", { className: "url" }, el("code", {}, t.url), copyButton(t.url, "url"))
        : el("td", { className: "url muted" }, "no public_base_url");
      tbody.append(el("tr", { "data-trigger-row": t.id },
        el("td", {}, link, t.origin === "yaml" ? el("span", {}, " ", badge("yaml")) : null),
        el("td", {}, t.tenant), el("td", {}, t.preset), el("td", {}, badge(t.state)), url,
        el("td", { className: "num", "data-count": "accepted" }, c.accepted === undefined ? "–" : c.accepted),
        el("td", { className: "num", "data-count": "refused" }, c.refused === undefined ? "–" : c.refused)));
    }
    show($("triggers-empty"), triggers.length === 0);
  } catch (err) {
    fail($("triggers-error"), err);
  }
}

function eventLink(e, tenant) {
  const q = new URLSearchParams({ tenant: e.tenant || tenant || "", trigger: e.trigger_id || "" });
  return el("a", { href: UI + "/events/" + encodeURIComponent(e.id) + "?" + q.toString(), className: "mono" }, e.id);
}

function eventRow(e, tenant) {
  const detail = e.outcome === "refused"
    ? el("td", {}, el("span", { className: "reason" }, e.reason || "refused"),
      REASONS[e.reason] ? el("span", { className: "hint" }, REASONS[e.reason]) : null)
    : el("td", { className: "mono" }, e.type || "");
  return el("tr", { "data-event": e.id, "data-outcome": e.outcome },
    el("td", {}, when(e.time)), el("td", {}, badge(e.outcome)), el("td", { className: "num" }, e.status),
    detail, el("td", {}, eventLink(e, tenant)));
}

async function triggerPage() {
  if (!(await session())) return;
  const id = decodeURIComponent(location.pathname.slice((UI + "/triggers/").length));
  let trigger;
  try {
    trigger = await api("GET", "/triggers/" + encodeURIComponent(id));
  } catch (err) {
    fail($("trigger-error"), err.status === 404 ? new Error("No such trigger.") : err);
    return;
  }
  document.title = trigger.name + " · hookgate inspector";
  $("trigger-name").textContent = trigger.name;
  $("trigger-state").replaceWith(badge(trigger.state));
  const facts = $("trigger-facts");
  fact(facts, "URL", trigger.url ? el("code", {}, trigger.url) : "no public_base_url",
    trigger.url ? copyButton(trigger.url, "url") : null);
  fact(facts, "Id", el("code", {}, trigger.id));
  fact(facts, "Tenant", trigger.tenant);
  fact(facts, "Preset", trigger.preset);
  fact(facts, "Origin", trigger.origin === "yaml" ? "YAML (read-only here)" : "runtime (admin API)");
  if (trigger.rotation_ends_at) fact(facts, "Old secret accepted until", when(trigger.rotation_ends_at));

  const tbody = $("events").querySelector("tbody");
  const live = $("live");
  async function refresh() {
    if (document.hidden) { live.classList.add("paused"); return; }
    try {
      const data = await api("GET", "/triggers/" + encodeURIComponent(id) + "/events?limit=100");
      const events = items(data, "events");
      tbody.replaceChildren(...events.map((e) => eventRow(e, trigger.tenant)));
      show($("events-empty"), events.length === 0);
      live.classList.remove("paused");
      live.textContent = "live · " + new Date().toLocaleTimeString();
      show($("trigger-error"), false);
    } catch (err) {
      live.classList.add("paused");
      fail($("trigger-error"), err);
    }
  }
  await refresh();
  setInterval(refresh, POLL_MS);
  document.addEventListener("visibilitychange", refresh);
}

async function eventPage() {
  const me = await session();
  if (!me) return;
  const eventId = decodeURIComponent(location.pathname.slice((UI + "/events/").length));
  const params = new URLSearchParams(location.search);
  const tenant = params.get("tenant") || me.tenant || "";
  const triggerId = params.get("trigger") || "";
  const q = new URLSearchParams();
  if (tenant) q.set("tenant", tenant);
  if (triggerId) q.set("trigger", triggerId);
  let d;
  try {
    d = await api("GET", "/events/" + encodeURIComponent(eventId) + "?" + q.toString());
  } catch (err) {
    fail($("event-error"), err.status === 404 ? new Error("No such event among the records the inspector reads.") : err);
    return;
  }
  const e = d.event || d.summary || {};
  $("event-title").textContent = e.outcome === "refused" ? "Refused request" : "Event";
  $("event-outcome").replaceWith(badge(e.outcome || ""));
  if (e.trigger_id) {
    const link = $("trigger-link");
    link.setAttribute("href", safeHref(UI + "/triggers/" + encodeURIComponent(e.trigger_id)));
    link.textContent = e.trigger_name || "trigger";
    if (!e.trigger_name) {
      api("GET", "/triggers/" + encodeURIComponent(e.trigger_id)).then((t) => { link.textContent = t.name; }, () => {});
    }
  }
  const facts = $("event-facts");
  fact(facts, e.outcome === "refused" ? "Request id" : "Event id", el("code", {}, e.id), copyButton(e.id || "", "id"));
  fact(facts, "Time", when(e.time));
  fact(facts, "Status", String(e.status));
  if (e.reason) fact(facts, "Reason", el("span", { className: "reason" }, e.reason), REASONS[e.reason] ? el("span", { className: "hint" }, REASONS[e.reason]) : null);
  if (e.type) fact(facts, "Type", el("code", {}, e.type));
  if (e.topic) fact(facts, "Kafka", el("code", {}, e.topic + " [" + e.partition + "] @" + e.offset));
  const request = d.request || {};
  for (const [key, label] of REQUEST_FACTS) {
    if (request[key] === undefined || request[key] === null) continue;
    if (key === "peer" && request.peer === request.client_ip) continue;
    fact(facts, label, String(request[key]));
  }

  const workflows = d.workflows || [];
  $("workflows").querySelector("tbody").replaceChildren(...workflows.map((w) =>
    el("tr", { "data-workflow": w.workflow }, el("td", {}, w.group), el("td", {}, w.workflow),
      el("td", {}, badge(w.outcome)), el("td", {}, when(w.at)))));
  show($("workflows-empty"), workflows.length === 0);
  kvRows($("attributes").querySelector("tbody"), d.attributes || {});
  $("variables").textContent = JSON.stringify(d.variables || {}, null, 2);
  show($("headers-empty"), kvRows($("headers").querySelector("tbody"), d.headers || {}) === 0);
  if (d.body !== null && d.body !== undefined) {
    const [kind, text] = prettyBody(d.body, d.content_type);
    $("body-kind").textContent = "(" + kind + (d.body_redacted ? ", credential fields redacted" : "") + ")";
    $("body").textContent = text;
  } else if (d.body_base64) {
    $("body-kind").textContent = "(binary, base64)";
    $("body").textContent = d.body_base64;
  } else {
    $("body-kind").textContent = e.outcome === "refused" ? "(refused requests' bodies are not kept)" : "(empty)";
  }
  const deliveries = d.deliveries || [];
  if (deliveries.length > 1) {
    $("deliveries").querySelector("tbody").replaceChildren(...deliveries.map((x) =>
      el("tr", {}, el("td", {}, when(x.time)), el("td", { className: "mono" }, x.topic || ""),
        el("td", { className: "num" }, x.partition), el("td", { className: "num" }, x.offset))));
    show($("deliveries-section"), true);
  }
  if (e.outcome === "accepted") {
    show($("replay"), true);
    $("replay-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = $("replay-button");
      button.disabled = true;
      const result = $("replay-result");
      try {
        const r = await api("POST", "/events/" + encodeURIComponent(e.id) + "/replay", {
          tenant: e.tenant || tenant, trigger_id: e.trigger_id || triggerId || null,
          dry_run: $("replay-dry-run").checked, force: $("replay-force").checked,
        });
        const ids = (r.event_ids || []).join(", ") || "nothing";
        result.textContent = (r.dry_run ? "Dry run: would replay " : "Replayed ") + ids + (r.forced ? " (forced re-drive)" : "");
        result.className = "result";
      } catch (err) {
        result.textContent = err.message;
        result.className = "result error";
      }
      show(result, true);
      button.disabled = false;
    });
  }
}

async function newPage() {
  const me = await session();
  if (!me) return;
  const select = $("f-preset");
  for (const [value, label] of PRESETS) select.append(el("option", { value }, label));
  const tenantInput = $("f-tenant");
  if (me.tenant) { tenantInput.value = me.tenant; tenantInput.readOnly = true; }
  const toggleHeader = () => {
    const needs = select.value === "header_token";
    show($("f-header"), needs);
    show($("f-header-label"), needs);
    $("f-header").required = needs;
  };
  select.addEventListener("change", toggleHeader);
  toggleHeader();
  $("create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    show($("create-error"), false);
    show($("create-errors"), false);
    const verify = { type: select.value };
    if (select.value === "header_token") verify.header = $("f-header").value.trim();
    if (select.value === "hmac") verify.header = "X-Signature";
    const spec = { name: $("f-name").value.trim(), tenant: tenantInput.value.trim(), verify };
    try {
      const created = await api("POST", "/triggers", spec);
      const t = created.trigger || {};
      const facts = $("created-facts");
      facts.replaceChildren();
      const url = created.url || t.url;
      fact(facts, "URL", url ? el("code", { id: "created-url" }, url) : "no public_base_url", url ? copyButton(url, "url") : null);
      if (created.secret) fact(facts, "Secret", el("code", { id: "created-secret" }, created.secret), copyButton(created.secret, "secret"));
      fact(facts, "Id", el("code", {}, t.id || ""));
      $("created-link").setAttribute("href", safeHref(UI + "/triggers/" + encodeURIComponent(t.id || "")));
      show($("create-form"), false);
      show($("created"), true);
    } catch (err) {
      const list = (err.data && err.data.errors) || [];
      if (list.length) {
        $("create-errors").replaceChildren(...list.map((x) => el("li", {}, (x.path || "") + ": " + (x.message || ""))));
        show($("create-errors"), true);
      } else {
        fail($("create-error"), err);
      }
    }
  });
}

const PAGES = { login: loginPage, triggers: triggersPage, trigger: triggerPage, event: eventPage, new: newPage };

document.addEventListener("DOMContentLoaded", () => {
  const run = PAGES[document.body.dataset.page];
  if (run) {
    Promise.resolve(run()).catch((err) => toast(err && err.message ? err.message : String(err)));
  }
});
