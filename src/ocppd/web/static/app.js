// ocppd dashboard: the token, live fragments and commands. Vanilla, no dependencies.
// Data from the server arrives as HTML that the server escaped; anything built here from a
// response (a command's answer) is set with textContent, never as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "ocppd.token";
  const POLL_MS = 3000;

  const token = () => sessionStorage.getItem(TOKEN_KEY);
  const page = document.body.dataset.page;

  function toLogin() {
    const next = location.pathname + location.search;
    location.assign("/login?next=" + encodeURIComponent(next));
  }

  function authHeaders(extra) {
    return Object.assign({ Authorization: "Bearer " + token() }, extra || {});
  }

  // Sign out: forget the token.
  document.querySelectorAll("[data-logout]").forEach((button) => {
    button.addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
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
        response = await fetch("/api/v1/charge-points?limit=1", {
          headers: { Authorization: "Bearer " + value },
        });
      } catch (e) {
        error.textContent = "The server cannot be reached.";
        return;
      }
      if (!response.ok) {
        error.textContent =
          response.status === 401 ? "This token is not valid." : "The API answered " + response.status + ".";
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, value);
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

  // Live regions: an element with data-fragment is filled with that fragment's HTML.
  const live = document.querySelector("[data-fragment]");

  function fragmentUrl() {
    const url = new URL(live.dataset.fragment, location.origin);
    if (page === "overview") url.search = location.search;
    return url;
  }

  let refreshing = false;
  async function refresh() {
    if (!live || refreshing) return;
    refreshing = true;
    try {
      const response = await fetch(fragmentUrl(), { headers: authHeaders() });
      if (response.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        toLogin();
        return;
      }
      swap(live, await response.text());
    } catch (e) {
      live.dataset.stale = "true"; // the server is away; keep what we have, try again later
      return;
    } finally {
      refreshing = false;
    }
    delete live.dataset.stale;
    live.setAttribute("aria-busy", "false");
  }

  // Replace a region's HTML, keeping what the user was doing in it: the focused link and the
  // open <details> (identified by href / data-key).
  function swap(region, html) {
    if (region.innerHTML === html) return;
    const focused = region.contains(document.activeElement) ? document.activeElement : null;
    const focusHref = focused && focused.getAttribute("href");
    const open = Array.from(region.querySelectorAll("details[open][data-key]")).map(
      (d) => d.dataset.key
    );
    region.innerHTML = html;
    open.forEach((key) => {
      const details = region.querySelector('details[data-key="' + CSS.escape(key) + '"]');
      if (details) details.open = true;
    });
    if (focusHref) {
      const again = region.querySelector('[href="' + CSS.escape(focusHref) + '"]');
      if (again) again.focus();
    }
  }

  // The hook for live updates. Today: polling. When the API's event stream exists
  // (GET /api/v1/events, issue 4), open it here and call refresh() on each event that
  // concerns this page; keep a slow poll as the fallback when the stream drops.
  function startLiveUpdates(onChange) {
    onChange();
    let timer = setInterval(onChange, POLL_MS);
    document.addEventListener("visibilitychange", () => {
      clearInterval(timer);
      if (!document.hidden) {
        onChange();
        timer = setInterval(onChange, POLL_MS);
      }
    });
  }

  window.ocppd = { refresh: refresh, startLiveUpdates: startLiveUpdates };
  if (live) startLiveUpdates(refresh);

  // Overview filters: applied as you type, kept in the URL (so a link or reload keeps them).
  const filters = document.getElementById("filters");
  if (filters) {
    const apply = () => {
      const params = new URLSearchParams(new FormData(filters));
      for (const [key, value] of Array.from(params)) if (!value) params.delete(key);
      const search = params.toString();
      history.replaceState(null, "", search ? "?" + search : location.pathname);
      refresh();
    };
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      apply();
    });
    filters.addEventListener("input", apply);
  }

  // Commands: each form[data-command] POSTs its fields as the OCPP request payload.
  const answer = document.getElementById("answer");
  const chargePointId = document.body.dataset.chargePointId;

  function payloadOf(form) {
    const payload = {};
    for (const element of form.elements) {
      if (!element.name || element.value === "") continue;
      payload[element.name] = element.type === "number" ? Number(element.value) : element.value;
    }
    return payload;
  }

  document.querySelectorAll("form[data-command]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const action = form.dataset.command;
      const payload = payloadOf(form);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      answer.dataset.state = "pending";
      answer.textContent = action + " " + JSON.stringify(payload) + " sent, waiting for the answer…";
      try {
        const response = await fetch(
          "/api/v1/charge-points/" + encodeURIComponent(chargePointId) + "/commands/" + action,
          {
            method: "POST",
            headers: authHeaders({ "Content-Type": "application/json" }),
            body: JSON.stringify(payload),
          }
        );
        if (response.status === 401) {
          sessionStorage.removeItem(TOKEN_KEY);
          toLogin();
          return;
        }
        const text = await response.text();
        let shown = text;
        try {
          shown = JSON.stringify(JSON.parse(text), null, 2);
        } catch (e) {
          /* not JSON: show as is */
        }
        answer.dataset.state = response.ok ? "ok" : "error";
        answer.textContent =
          action + ": " + (response.ok ? "the charger answered" : "HTTP " + response.status) + "\n" + shown;
      } catch (e) {
        answer.dataset.state = "error";
        answer.textContent = action + ": the server cannot be reached.";
      } finally {
        button.disabled = false;
        refresh();
      }
    });
  });
})();
