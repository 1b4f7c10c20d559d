// ocppd dashboard: the token, the role, live regions fed by the API's event stream, and forms
// that call the API. Vanilla, no dependencies, no build step.
// Data from the server arrives as HTML that the server escaped; anything built here from a
// response (an answer, an error) is set with textContent, never as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "ocppd.token";
  const ROLE_KEY = "ocppd.role";
  const RANK = { viewer: 0, operator: 1, admin: 2 };
  const SAFETY_REFRESH_MS = 30000; // what the bus does not publish (heartbeats, some frames)
  const EVENT_DEBOUNCE_MS = 500; // a burst of events makes one refresh per region
  const FILTER_DEBOUNCE_MS = 300;
  const MAX_RETRY_MS = 15000;

  const body = document.body;
  const page = body.dataset.page;
  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function toLogin() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROLE_KEY);
    const next = location.pathname + location.search;
    location.assign("/login?next=" + encodeURIComponent(next));
  }

  function authHeaders(extra) {
    return Object.assign({ Authorization: "Bearer " + token() }, extra || {});
  }

  class SignedOut extends Error {}

  // A call to the API with the token; a 401 means the token is gone: back to the login.
  async function api(path, options) {
    const init = Object.assign({}, options || {});
    init.headers = authHeaders(init.headers);
    const response = await fetch("/api/v1" + path, init);
    if (response.status === 401) {
      toLogin();
      throw new SignedOut();
    }
    return response;
  }

  document.querySelectorAll("[data-logout]").forEach((button) => {
    button.addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(ROLE_KEY);
      location.assign("/login");
    });
  });

  if (page === "login") {
    const form = document.getElementById("login");
    const error = document.getElementById("login-error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = form.elements.token.value.trim();
      error.textContent = "";
      let response;
      try {
        response = await fetch("/api/v1/me", { headers: { Authorization: "Bearer " + value } });
      } catch (e) {
        error.textContent = "The server cannot be reached.";
        return;
      }
      if (!response.ok) {
        error.textContent =
          response.status === 401 ? "This token is not valid." : "The API answered " + response.status + ".";
        return;
      }
      const me = await response.json();
      sessionStorage.setItem(TOKEN_KEY, value);
      sessionStorage.setItem(ROLE_KEY, me.role);
      const next = new URLSearchParams(location.search).get("next") || "/";
      // Only a path on this site: never "//elsewhere" or "https://elsewhere".
      location.assign(next.startsWith("/") && !next.startsWith("//") ? next : "/");
    });
    return;
  }

  if (!token() && page !== "missing") {
    toLogin();
    return;
  }

  // The role: what the token may do decides what is shown (the API decides what is allowed).

  function applyRole(root) {
    const role = body.dataset.role;
    if (!(role in RANK)) return;
    root.querySelectorAll("[data-needs]").forEach((el) => {
      el.hidden = RANK[role] < RANK[el.dataset.needs];
    });
    root.querySelectorAll("[data-needs-not]").forEach((el) => {
      el.hidden = RANK[role] >= RANK[el.dataset.needsNot];
    });
  }

  function setRole(role, name) {
    body.dataset.role = role;
    const shown = document.getElementById("role");
    if (shown) shown.textContent = (name ? name + " · " : "") + role;
    applyRole(document);
  }

  async function loadRole() {
    const remembered = sessionStorage.getItem(ROLE_KEY);
    if (remembered) setRole(remembered);
    try {
      const response = await api("/me");
      if (!response.ok) return;
      const me = await response.json();
      sessionStorage.setItem(ROLE_KEY, me.role);
      setRole(me.role, me.name);
    } catch (e) {
      /* signed out, or the server is away: keep what we have */
    }
  }

  // Live regions: an element with data-fragment is filled with that fragment's HTML, narrowed
  // by the fields of its data-filters form.

  const regions = Array.from(document.querySelectorAll("[data-fragment]"));

  function toUtc(value) {
    if (/([zZ]|[+-]\d\d:\d\d)$/.test(value)) return value;
    return value.length === 16 ? value + ":00Z" : value + "Z";
  }

  function filterQuery(form) {
    const params = new URLSearchParams();
    for (const el of form.elements) {
      if (!el.name || el.value === "") continue;
      params.set(el.name, el.dataset.type === "datetime" ? toUtc(el.value) : el.value);
    }
    return params;
  }

  function fragmentUrl(region) {
    const url = new URL(region.dataset.fragment, location.origin);
    const form = region.dataset.filters && document.getElementById(region.dataset.filters);
    if (form) url.search = filterQuery(form).toString();
    return url;
  }

  // Someone typing in a region (an inline edit form) keeps their input: the swap waits.
  function editing(region) {
    const active = document.activeElement;
    return region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  async function refresh(region) {
    if (region.dataset.loading) {
      region.dataset.again = "true";
      return;
    }
    region.dataset.loading = "true";
    try {
      const response = await fetch(fragmentUrl(region), { headers: authHeaders() });
      if (response.status === 401) {
        toLogin();
        return;
      }
      const html = await response.text();
      if (editing(region)) {
        // Refreshed again once the user leaves the field (one listener, however many events).
        if (!region.dataset.deferred) {
          region.dataset.deferred = "true";
          region.addEventListener(
            "focusout",
            () => {
              delete region.dataset.deferred;
              schedule(region);
            },
            { once: true }
          );
        }
      } else {
        swap(region, html);
      }
      delete region.dataset.stale;
      region.setAttribute("aria-busy", "false");
    } catch (e) {
      region.dataset.stale = "true"; // the server is away; keep what we have
    } finally {
      delete region.dataset.loading;
      if (region.dataset.again) {
        delete region.dataset.again;
        schedule(region);
      }
    }
  }

  // Where the keyboard focus is inside a region, as a selector that finds it again after a
  // swap: its id, its link target, or its form's submit button.
  function focusSelector(region) {
    const focused = document.activeElement;
    if (!focused || focused === region || !region.contains(focused)) return null;
    if (focused.id) return "#" + CSS.escape(focused.id);
    if (focused.getAttribute("href")) return '[href="' + CSS.escape(focused.getAttribute("href")) + '"]';
    if (focused.form && focused.form.id) return "#" + CSS.escape(focused.form.id) + " button[type=submit]";
    if (focused.parentElement && focused.parentElement.dataset.key) {
      return 'details[data-key="' + CSS.escape(focused.parentElement.dataset.key) + '"] > summary';
    }
    return null;
  }

  // Replace a region's HTML, keeping the keyboard focus and the open <details>.
  function swap(region, html) {
    const focus = focusSelector(region);
    const open = Array.from(region.querySelectorAll("details[open][data-key]")).map((d) => d.dataset.key);
    region.innerHTML = html;
    open.forEach((key) => {
      const details = region.querySelector('details[data-key="' + CSS.escape(key) + '"]');
      if (details) details.open = true;
    });
    const again = focus && region.querySelector(focus);
    if (again) again.focus();
    applyRole(region);
    markSelected(region);
    region.querySelectorAll("[data-suggest]").forEach((hint) => {
      const input = document.getElementById(hint.dataset.suggest);
      if (input && !input.value) input.value = hint.dataset.value;
    });
  }

  // At most one refresh per region per interval (data-throttle ms: costly regions wait longer).
  const timers = new Map();
  function schedule(region) {
    if (timers.has(region)) return;
    const wait = Number(region.dataset.throttle) || EVENT_DEBOUNCE_MS;
    timers.set(
      region,
      setTimeout(() => {
        timers.delete(region);
        refresh(region);
      }, wait)
    );
  }

  const refreshAll = () => regions.forEach((region) => refresh(region));

  // The event stream (GET /api/v1/events, server-sent events), read with fetch so that the
  // token goes in the Authorization header (EventSource cannot send one).

  function concerns(region, type, data) {
    const wanted = (region.dataset.events || "").split(/\s+/).filter(Boolean);
    if (!wanted.includes("*") && !wanted.includes(type)) return false;
    const transaction = region.dataset.transactionId;
    return !transaction || data.transactionId === undefined || String(data.transactionId) === transaction;
  }

  function dispatch(block) {
    let type = "message";
    let data = "";
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue; // a comment: subscribed, keepalive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data += (data ? "\n" : "") + value;
    }
    if (!data) return;
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch (e) {
      return;
    }
    regions.forEach((region) => {
      if (concerns(region, type, parsed)) schedule(region);
    });
  }

  function setStream(state) {
    body.dataset.stream = state;
    const shown = document.getElementById("stream");
    if (shown) shown.textContent = state === "live" ? "Live" : "Reconnecting…";
  }

  let stream = null;
  let retryMs = 1000;
  let retryTimer = null;

  async function openStream() {
    if (stream) return;
    const controller = new AbortController();
    stream = controller;
    const cp = body.dataset.chargePointId;
    const path = "/events" + (cp ? "?chargePointId=" + encodeURIComponent(cp) : "");
    try {
      const response = await api(path, { headers: { Accept: "text/event-stream" }, signal: controller.signal });
      if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
      setStream("live");
      retryMs = 1000;
      refreshAll(); // what happened before the subscription
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
          dispatch(block);
        }
      }
    } catch (e) {
      if (e instanceof SignedOut) return;
    } finally {
      if (stream === controller) stream = null;
    }
    if (controller.signal.aborted) return;
    setStream("lost");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(openStream, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  }

  function closeStream() {
    clearTimeout(retryTimer);
    if (stream) stream.abort();
    stream = null;
  }

  // Live updates: the event stream refreshes the regions it concerns; a slow refresh catches
  // what the bus does not publish. A hidden tab holds no stream.
  function startLiveUpdates() {
    if (!regions.length) return;
    refreshAll();
    openStream();
    let timer = setInterval(refreshAll, SAFETY_REFRESH_MS);
    document.addEventListener("visibilitychange", () => {
      clearInterval(timer);
      if (document.hidden) {
        closeStream();
      } else {
        openStream();
        timer = setInterval(refreshAll, SAFETY_REFRESH_MS);
      }
    });
  }

  // Filters: applied as you type, kept in the page's URL (so a link or reload keeps them).
  document.querySelectorAll("form[data-url-filters]").forEach((form) => {
    let timer = null;
    const apply = () => {
      const search = filterQuery(form).toString();
      history.replaceState(null, "", search ? "?" + search : location.pathname);
      regions.filter((r) => r.dataset.filters === form.id).forEach((r) => refresh(r));
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      apply();
    });
    form.addEventListener("input", () => {
      // A changed filter starts again at the newest: the page's cursor belongs to the old one.
      form.querySelectorAll('input[type="hidden"][name="cursor"]').forEach((el) => {
        el.value = "";
      });
      clearTimeout(timer);
      timer = setTimeout(apply, FILTER_DEBOUNCE_MS);
    });
  });

  // Forms that call the API: form[data-api] (path under /api/v1, `{name}` from a field),
  // data-method, the body from the fields (see ocppd/web/forms.py), the answer in its <output>.

  class FieldError extends Error {
    constructor(element, message) {
      super(message);
      this.element = element;
    }
  }

  function valueOf(el) {
    const value = el.value.trim();
    switch (el.dataset.type) {
      case "int": {
        const number = Number(value);
        if (!Number.isInteger(number)) throw new FieldError(el, "a whole number is needed");
        return number;
      }
      case "number":
        return Number(value);
      case "datetime":
        return toUtc(value);
      case "list":
        return value.split(",").map((v) => v.trim()).filter(Boolean);
      case "json":
        try {
          return JSON.parse(value);
        } catch (e) {
          throw new FieldError(el, "not valid JSON: " + e.message);
        }
      default:
        return el.value;
    }
  }

  function request(form) {
    const used = new Set();
    const path = form.dataset.api.replace(/\{(\w+)\}/g, (_, name) => {
      const el = form.elements[name];
      used.add(name);
      if (!el || !el.value.trim()) throw new FieldError(el, "required");
      return encodeURIComponent(el.value.trim());
    });
    const payload = {};
    let file = null;
    for (const el of form.elements) {
      if (el.type === "file") {
        file = el.files[0] || null;
        if (!file && el.required) throw new FieldError(el, "choose a file");
        continue;
      }
      if (!el.name || used.has(el.name) || el.value === "") continue;
      payload[el.name] = valueOf(el);
    }
    return { path: path, payload: payload, file: file };
  }

  function markInvalid(form, name, message) {
    const el = name && form.elements[name];
    if (!el || !el.setAttribute) return;
    el.setAttribute("aria-invalid", "true");
    el.dataset.error = message;
    el.focus();
  }

  function describe(response, data) {
    if (response.ok) {
      if (response.status === 204) return "Done.";
      const prefix = /\/commands\//.test(response.url) ? "The charger answered:\n" : "";
      return prefix + JSON.stringify(data, null, 2);
    }
    if (data && typeof data === "object" && data.error) {
      const extra = [data.code, data.description].filter(Boolean).join(": ");
      return "HTTP " + response.status + ": " + data.error + (extra ? "\n" + extra : "");
    }
    return "HTTP " + response.status;
  }

  async function submit(form) {
    const output = form.querySelector("output");
    const button = form.querySelector("button[type=submit]");
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    let call;
    try {
      call = request(form);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      output.dataset.state = "error";
      output.textContent = (e.element ? e.element.name + ": " : "") + e.message;
      if (e.element) markInvalid(form, e.element.name, e.message);
      return;
    }
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    // The commands section's "Force" box: sent even to a charger whose boot was Rejected.
    const section = form.closest("section");
    const force = section && section.querySelector("input[data-force]");
    if (force && force.checked) call.path += (call.path.includes("?") ? "&" : "?") + "force=true";
    const method = form.dataset.method || "POST";
    const init = { method: method };
    if (call.file) {
      // An upload: the file is the body, its name a query parameter.
      call.path += (call.path.includes("?") ? "&" : "?") + "name=" + encodeURIComponent(call.file.name);
      init.headers = { "Content-Type": "application/octet-stream" };
      init.body = call.file;
    } else if (method !== "DELETE" && method !== "GET") {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(call.payload);
    }
    button.disabled = true;
    output.dataset.state = "pending";
    output.textContent = "Sent, waiting for the answer…";
    let ok = false;
    try {
      const response = await api(call.path, init);
      const text = await response.text();
      let data = text;
      try {
        data = text ? JSON.parse(text) : null;
      } catch (e) {
        /* not JSON: show as is */
      }
      ok = response.ok;
      output.dataset.state = ok ? "ok" : "error";
      output.textContent = describe(response, data);
      if (!ok && data && typeof data.field === "string") {
        markInvalid(form, data.field.replace(/^\$\./, "").split(/[.[]/)[0], data.reason || data.error);
      }
    } catch (e) {
      if (e instanceof SignedOut) return;
      output.dataset.state = "error";
      output.textContent = "The server cannot be reached.";
    } finally {
      button.disabled = false;
    }
    if (!ok) return;
    if (form.hasAttribute("data-reset")) form.reset();
    const names = (form.dataset.refresh || "").split(/\s+/).filter(Boolean);
    regions.filter((r) => !names.length || names.includes(r.id)).forEach((r) => schedule(r));
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    submit(form);
  });
  document.addEventListener("input", (event) => {
    if (event.target.removeAttribute) event.target.removeAttribute("aria-invalid");
  });

  // Downloads with the token: fetched, then saved from a blob. The answer goes to the
  // <output> next to the button.
  async function download(button) {
    const output = button.parentElement.querySelector("output");
    const say = (state, text) => {
      if (!output) return;
      output.dataset.state = state;
      output.textContent = text;
    };
    try {
      const response = await api(button.dataset.download);
      if (!response.ok) {
        say("error", "HTTP " + response.status);
        return;
      }
      const blob = await response.blob();
      const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = named ? named[1] : button.dataset.filename || "download";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      say("ok", "Saved " + link.download + ".");
    } catch (e) {
      if (!(e instanceof SignedOut)) say("error", "The server cannot be reached.");
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-download]");
    if (button) download(button);
  });

  // One command to several charge points (ocppd/web/bulk.py): the ticks of the overview's
  // rows, kept in sessionStorage across the list's pages; the command goes to each in turn
  // (a few at a time), each answer in a row of its own.

  const SELECTED_KEY = "ocppd.selected";
  const BULK_PARALLEL = 4;

  function selection() {
    try {
      const kept = JSON.parse(sessionStorage.getItem(SELECTED_KEY) || "[]");
      return new Set(Array.isArray(kept) ? kept.map(String) : []);
    } catch (e) {
      return new Set();
    }
  }

  function keepSelection(chosen) {
    sessionStorage.setItem(SELECTED_KEY, JSON.stringify(Array.from(chosen)));
    const count = document.getElementById("bulk-count");
    if (count) {
      const names = Array.from(chosen).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
      count.textContent = names.length
        ? names.length + " selected: " + names.join(", ")
        : "No charge point selected: tick them in the list.";
    }
    markSelected(document);
  }

  function markSelected(root) {
    const chosen = selection();
    const boxes = Array.from(root.querySelectorAll("input[data-select]"));
    boxes.forEach((box) => {
      box.checked = chosen.has(box.value);
    });
    root.querySelectorAll("input[data-select-all]").forEach((all) => {
      all.checked = boxes.length > 0 && boxes.every((box) => box.checked);
    });
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!target.matches || !target.matches("input[data-select], input[data-select-all]")) return;
    const chosen = selection();
    const boxes = target.matches("[data-select-all]")
      ? Array.from(document.querySelectorAll("input[data-select]"))
      : [target];
    boxes.forEach((box) => {
      if (target.checked) chosen.add(box.value);
      else chosen.delete(box.value);
    });
    keepSelection(chosen);
  });

  function bulkRow(tbody, identity) {
    const row = tbody.insertRow();
    const name = document.createElement("th");
    name.scope = "row";
    name.dataset.label = "Charge point";
    name.textContent = identity;
    row.append(name);
    const answer = row.insertCell();
    answer.dataset.label = "Answer";
    answer.textContent = "Sent, waiting for the answer…";
    row.dataset.chargePointId = identity;
    row.dataset.state = "pending";
    return row;
  }

  async function bulkSendOne(row, path, body) {
    const answer = row.cells[1];
    try {
      const response = await api("/charge-points/" + encodeURIComponent(row.dataset.chargePointId) + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      let data = text;
      try {
        data = text ? JSON.parse(text) : null;
      } catch (e) {
        /* not JSON: shown as is */
      }
      row.dataset.state = response.ok ? "ok" : "error";
      answer.textContent = response.ok ? JSON.stringify(data) : describe(response, data);
    } catch (e) {
      if (e instanceof SignedOut) return;
      row.dataset.state = "error";
      answer.textContent = "The server cannot be reached.";
    }
  }

  async function bulkSend(form) {
    const output = form.querySelector("output");
    const fieldset = form.querySelector("fieldset[data-action]:not([disabled])");
    const chosen = Array.from(selection()).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    output.dataset.state = "error";
    if (!chosen.length) {
      output.textContent = "Select charge points in the list first.";
      return;
    }
    const body = {};
    try {
      for (const el of fieldset.elements) {
        if (el.name && el.value !== "") body[el.name] = valueOf(el);
      }
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      output.textContent = e.element.name + ": " + e.message;
      e.element.setAttribute("aria-invalid", "true");
      e.element.focus();
      return;
    }
    const action = fieldset.dataset.action;
    if (action === "Reset" && !window.confirm("Reset " + chosen.length + " charge points?")) return;
    const results = document.getElementById("bulk-results");
    const tbody = results.tBodies[0];
    tbody.replaceChildren();
    results.hidden = false;
    const rows = chosen.map((identity) => bulkRow(tbody, identity));
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    output.dataset.state = "pending";
    output.textContent = action + " sent to " + chosen.length + "…";
    const queue = rows.slice();
    const worker = async () => {
      for (let row = queue.shift(); row; row = queue.shift()) await bulkSendOne(row, fieldset.dataset.path, body);
    };
    await Promise.all(Array.from({ length: Math.min(BULK_PARALLEL, rows.length) }, worker));
    button.disabled = false;
    const failed = rows.filter((row) => row.dataset.state !== "ok").length;
    output.dataset.state = failed ? "error" : "ok";
    output.textContent = action + ": " + (rows.length - failed) + " answered, " + failed + " failed.";
  }

  document.querySelectorAll("form[data-bulk]").forEach((form) => {
    const choice = form.elements.action;
    const show = () => {
      form.querySelectorAll("fieldset[data-action]").forEach((fieldset) => {
        const on = fieldset.dataset.action === choice.value;
        fieldset.hidden = !on;
        fieldset.disabled = !on;
      });
    };
    choice.addEventListener("change", show);
    show();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      bulkSend(form);
    });
    form.querySelector("[data-clear-selection]").addEventListener("click", () => keepSelection(new Set()));
    keepSelection(selection());
  });

  window.ocppd = { refresh: refreshAll, startLiveUpdates: startLiveUpdates };
  loadRole();
  startLiveUpdates();
})();
