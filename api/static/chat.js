// The chat page: POST /chat per message, the session id kept in localStorage, the history
// restored from GET /chat/{id}. Text from answers is only ever inserted with textContent.
"use strict";

const log = document.getElementById("log");
const form = document.getElementById("ask-form");
const input = document.getElementById("message");
const send = document.getElementById("send");
const SESSION_KEY = "qa-bot-session";

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

function citeLink(citation, n) {
  const a = el("a", "cite", "[" + n + "]");
  a.href = citation.url;
  a.target = "_blank";
  a.rel = "noopener";
  a.title = citation.title + " (" + citation.doc_id + "), characters " + citation.start + "\u2013" + citation.end;
  return a;
}

function showAnswer(message, answer) {
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
        item.appendChild(a);
        item.appendChild(document.createTextNode(" \u2014 " + c.doc_id + ", characters " + c.start + "\u2013" + c.end));
        list.appendChild(item);
      });
      box.appendChild(list);
    }
  }
  if (answer.question && message && answer.question !== message) {
    box.appendChild(el("div", "understood", "Understood as: " + answer.question));
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
  const response = await fetch("/chat/" + encodeURIComponent(id));
  if (!response.ok) { localStorage.removeItem(SESSION_KEY); return; }
  const conversation = await response.json();
  conversation.turns.forEach((t) => { showUser(t.message); showAnswer(t.message, t.answer); });
}

async function ask(message) {
  const body = { message: message };
  const id = localStorage.getItem(SESSION_KEY);
  if (id) body.session_id = id;
  let response = await fetch("/chat", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (response.status === 404 && id) {
    // The conversation expired or was ended elsewhere: start a new one.
    localStorage.removeItem(SESSION_KEY);
    delete body.session_id;
    response = await fetch("/chat", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) { showError(detailText(data, response.status)); return; }
  localStorage.setItem(SESSION_KEY, data.session_id);
  showAnswer(message, data);
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
  if (id) await fetch("/chat/" + encodeURIComponent(id), { method: "DELETE" }).catch(() => {});
  input.focus();
});

restore().finally(() => input.focus());
