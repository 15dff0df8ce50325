// The chat page: POST /chat per message, the session id kept in localStorage, the history
// restored from GET /chat/{id}. Text from answers is only ever inserted with textContent.
// When the server has an API key (QA_API_KEY), a 401 makes the page ask for it; the key is kept
// for this tab only (sessionStorage) and sent as "Authorization: Bearer <key>".
"use strict";

const log = document.getElementById("log");
const form = document.getElementById("ask-form");
const input = document.getElementById("message");
const send = document.getElementById("send");
const SESSION_KEY = "qa-bot-session";
const API_KEY = "qa-bot-api-key";

function authHeaders(headers) {
  const key = sessionStorage.getItem(API_KEY);
  return key ? Object.assign({}, headers, { Authorization: "Bearer " + key }) : Object.assign({}, headers);
}

// fetch() with the API key; on 401 ask for the key (again) and retry.
async function apiFetch(url, options) {
  options = options || {};
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, Object.assign({}, options, { headers: authHeaders(options.headers) }));
    if (response.status !== 401 || attempt >= 2) return response;
    const key = window.prompt(attempt === 0 && !sessionStorage.getItem(API_KEY)
      ? "This server needs an API key:" : "That API key was refused. API key:");
    if (!key) return response;
    sessionStorage.setItem(API_KEY, key.trim());
  }
}

// Citation links: a browser cannot add a header to a plain link, so with a key the page
// fetches the citation view itself and opens it from a blob.
async function openCitation(event) {
  if (!sessionStorage.getItem(API_KEY)) return;  // no key: the plain link works
  event.preventDefault();
  const url = event.currentTarget.href;
  const view = window.open("", "_blank");  // opened now, inside the click, so it is not blocked
  const response = await apiFetch(url, { headers: { Accept: "text/html" } });
  const page = await response.text();
  if (!view) return;
  view.opener = null;
  view.location = URL.createObjectURL(new Blob([page], { type: response.ok ? "text/html" : "text/plain" }));
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function scrollDown() { log.scrollTop = log.scrollHeight; }

function showUser(text) {
  log.appendChild(el("div", "msg user", text));
  scrollDown();
}

// "page 3, characters 120–134" (the page only for paged documents such as PDFs).
function where(citation) {
  const page = citation.page ? "page " + citation.page + ", " : "";
  return page + "characters " + citation.start + "\u2013" + citation.end;
}

function citeLink(citation, n) {
  const a = el("a", "cite", "[" + n + "]");
  a.href = citation.url;
  a.target = "_blank";
  a.rel = "noopener";
  a.title = citation.title + " (" + citation.doc_id + "), " + where(citation);
  a.addEventListener("click", openCitation);
  return a;
}

function showAnswer(message, answer, assumption) {
  const box = el("div", "msg bot");
  if (!answer.found) {
    box.classList.add("not-found");
    box.appendChild(el("div", "answer", "The documents do not answer this."));
    box.appendChild(el("div", "understood", "Nothing in the documents says it, so there is no answer to quote."));
  } else {
    const line = el("div", "answer", answer.answer);
    answer.citations.forEach((c, i) => line.appendChild(citeLink(c, i + 1)));
    box.appendChild(line);
    if (answer.quote) {
      const quote = el("blockquote", "quote", "\u201c" + answer.quote.replace(/\s+/g, " ") + "\u201d");
      if (answer.citations.length) quote.appendChild(citeLink(answer.citations[0], 1));
      box.appendChild(quote);
    }
    if (answer.citations.length) {
      const list = el("ol", "sources");
      answer.citations.forEach((c) => {
        const item = el("li");
        const a = el("a", "source", c.title);
        a.href = c.url;
        a.target = "_blank";
        a.rel = "noopener";
        a.addEventListener("click", openCitation);
        item.appendChild(a);
        item.appendChild(document.createTextNode(" \u2014 " + c.doc_id + ", " + where(c)));
        list.appendChild(item);
      });
      box.appendChild(list);
    }
  }
  if (answer.question && message && answer.question !== message) {
    const prefix = assumption ? assumption + ": " : "Understood as: ";
    box.appendChild(el("div", "understood", prefix + answer.question));
  }
  log.appendChild(box);
  scrollDown();
}

function showError(text) {
  log.appendChild(el("div", "msg error", text));
  scrollDown();
}

function detailText(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  return "request failed (HTTP " + status + ")";
}

async function restore() {
  const id = localStorage.getItem(SESSION_KEY);
  if (!id) return;
  const response = await apiFetch("/chat/" + encodeURIComponent(id));
  if (!response.ok) { localStorage.removeItem(SESSION_KEY); return; }
  const conversation = await response.json();
  conversation.turns.forEach((t) => { showUser(t.message); showAnswer(t.message, t.answer, t.assumption); });
}

async function ask(message) {
  const body = { message: message };
  const id = localStorage.getItem(SESSION_KEY);
  if (id) body.session_id = id;
  let response = await apiFetch("/chat", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (response.status === 404 && id) {
    // The conversation expired or was ended elsewhere: start a new one.
    localStorage.removeItem(SESSION_KEY);
    delete body.session_id;
    response = await apiFetch("/chat", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) { showError(detailText(data, response.status)); return; }
  localStorage.setItem(SESSION_KEY, data.session_id);
  showAnswer(message, data, data.assumption);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = input.value.trim();
  if (!message) return;
  input.value = "";
  showUser(message);
  send.disabled = true;
  try { await ask(message); } catch (err) { showError("The server could not be reached."); }
  finally { send.disabled = false; input.focus(); }
});

document.getElementById("new-chat").addEventListener("click", async () => {
  const id = localStorage.getItem(SESSION_KEY);
  localStorage.removeItem(SESSION_KEY);
  log.textContent = "";
  if (id) await apiFetch("/chat/" + encodeURIComponent(id), { method: "DELETE" }).catch(() => {});
  input.focus();
});

restore().finally(() => input.focus());
