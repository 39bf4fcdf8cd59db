// Kura web chat: plain JavaScript, no build step.
// All document and answer text goes into the page as text nodes (never innerHTML), so it cannot become markup.
"use strict";

(function () {
  const JAPANESE = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]/;
  const SOURCE_LABELS = { confluence: "Confluence", gdocs: "Google Docs", slack: "Slack", files: "File", sample: "Sample" };
  const $ = (id) => document.getElementById(id);
  let conversationId = $("main").dataset.conversationId || null;
  let busy = false;
  let turnCounter = 0;

  // --- small DOM helpers ----------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  const langOf = (text) => (JAPANESE.test(text || "") ? "ja" : "en");
  function safeUrl(url) {
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }
  function announce(message) {
    $("status").textContent = message;
  }

  // --- API ------------------------------------------------------------------------------
  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin",
    });
    if (response.status === 401) {
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
      throw new Error("Please sign in again.");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "Request failed (" + response.status + ")");
    return data;
  }

  // Reads a text/event-stream body as (event, data) pairs.
  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder("utf-8");
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield [name, JSON.parse(data.join("\n"))];
      }
      if (done) return;
    }
  }

  // --- rendering an answer ------------------------------------------------------------
  function newTurn(question) {
    const key = "t" + ++turnCounter;
    const answer = el("article", { class: "answer streaming", "aria-live": "polite", "aria-busy": "true", "aria-label": "Answer" },
      el("p", { class: "answer-status", text: "Searching your documents…" }),
      el("p", { class: "answer-text", lang: langOf(question) }));
    const item = el("li", { class: "turn", id: key },
      el("div", { class: "question", lang: langOf(question) }, el("span", { class: "visually-hidden", text: "You asked: " }), question),
      answer);
    $("turns").append(item);
    $("intro").hidden = true;
    return { key, item, answer };
  }

  function sourceItem(key, source) {
    const href = safeUrl(source.url);
    const label = SOURCE_LABELS[source.source] || source.source || "";
    return el("li", { class: "source", id: key + "-src-" + source.number },
      el("details", {},
        el("summary", {},
          el("span", { class: "num", text: "[" + source.number + "]" }),
          el("span", { class: "title", lang: langOf(source.title) }, source.title || source.document_id),
          label ? el("span", { class: "badge", text: label }) : null),
        el("blockquote", { class: "passage", lang: langOf(source.snippet) }, source.snippet || ""),
        href ? el("a", { class: "source-link", href, target: "_blank", rel: "noopener noreferrer" }, "Open source ↗") : null));
  }

  function openSource(key, number, button) {
    const item = document.getElementById(key + "-src-" + number);
    if (!item) return;
    const details = item.querySelector("details");
    details.open = true;
    document.querySelectorAll("#" + key + " .source.highlight").forEach((n) => n.classList.remove("highlight"));
    document.querySelectorAll("#" + key + " .cite").forEach((c) => c.setAttribute("aria-expanded", "false"));
    item.classList.add("highlight");
    button.setAttribute("aria-expanded", "true");
    item.scrollIntoView({ block: "nearest", behavior: "smooth" });
    details.querySelector("summary").focus({ preventScroll: true });
  }

  // The answer text with each [n] turned into a button that shows source n's passage.
  function answerText(key, text, sources) {
    const titles = new Map(sources.map((s) => [s.number, s.title]));
    const node = el("p", { class: "answer-text", lang: langOf(text) });
    let last = 0;
    for (const match of text.matchAll(/\[(\d+)\]/g)) {
      const number = Number(match[1]);
      if (!titles.has(number)) continue;
      node.append(text.slice(last, match.index));
      node.append(el("button", {
        type: "button", class: "cite", "aria-expanded": "false", "aria-controls": key + "-src-" + number,
        "aria-label": "Source " + number + ": " + (titles.get(number) || ""),
        onclick: (event) => openSource(key, number, event.currentTarget),
      }, match[0]));
      last = match.index + match[0].length;
    }
    node.append(text.slice(last));
    return node;
  }

  function feedbackControls(answerId, verdict) {
    const status = el("p", { class: "feedback-status", role: "status" });
    const reasonInput = el("input", { type: "text", id: "reason-" + answerId, maxlength: 2000, autocomplete: "off" });
    const reasonLabel = el("label", { for: "reason-" + answerId });
    const reasonForm = el("form", { class: "reason", hidden: true }, reasonLabel,
      el("div", { class: "row" }, reasonInput, el("button", { type: "submit", class: "secondary" }, "Send reason")));
    let helpful = verdict ? verdict.helpful : null;
    const buttons = [true, false].map((value) => el("button", {
      type: "button", class: "secondary", "aria-pressed": String(helpful === value), "data-helpful": String(value),
      onclick: () => send(value),
    }, value ? "Helpful" : "Not helpful"));

    async function send(value, reason) {
      try {
        await api("POST", "/api/feedback", { answer_id: answerId, helpful: value, reason: reason || null });
        helpful = value;
        buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.helpful === String(value))));
        if (reason) {
          reasonForm.hidden = true;
          status.textContent = "Thanks, your feedback and reason were saved.";
        } else {
          reasonLabel.textContent = value ? "Anything to add? (optional)" : "What was wrong or missing? (optional)";
          reasonForm.hidden = false;
          status.textContent = "Thanks, your feedback was saved.";
        }
      } catch (error) {
        status.textContent = "Could not save your feedback: " + error.message;
      }
    }
    reasonForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (reasonInput.value.trim() && helpful !== null) send(helpful, reasonInput.value.trim());
    });
    return el("div", { class: "feedback", role: "group", "aria-label": "Was this answer helpful?", "data-answer-id": answerId },
      el("span", { class: "label", "aria-hidden": "true", text: "Helpful?" }), ...buttons, reasonForm, status);
  }

  function renderAnswer(turn, payload, verdict) {
    const a = payload.answer;
    const box = turn.answer;
    box.replaceChildren();
    box.classList.remove("streaming");
    box.classList.toggle("not-found", a.abstained);
    box.setAttribute("aria-busy", "false");
    box.setAttribute("lang", langOf(a.answer));
    box.append(answerText(turn.key, a.answer, a.abstained ? [] : a.sources));
    const unsupported = (a.sentences || []).filter((s) => s.supported === false);
    if (unsupported.length) box.append(el("p", { class: "notice", text: "Not verified against the sources: " + unsupported.map((s) => "“" + s.text + "”").join(" ") }));
    if (a.notice) box.append(el("p", { class: "notice", text: a.notice }));
    if (a.sources.length) {
      box.append(el("h2", { class: "sources-heading", text: a.abstained ? "Closest documents" : "Sources" }));
      box.append(el("ol", { class: "sources" }, ...a.sources.map((s) => sourceItem(turn.key, s))));
    }
    if (payload.answer_id) box.append(feedbackControls(payload.answer_id, verdict));
  }

  function renderError(turn, message) {
    turn.answer.replaceChildren(el("p", { class: "error-text", role: "alert", text: message }));
    turn.answer.classList.remove("streaming");
    turn.answer.setAttribute("aria-busy", "false");
  }

  // --- asking -------------------------------------------------------------------------
  async function ask(question) {
    busy = true;
    $("ask-button").disabled = true;
    const turn = newTurn(question);
    announce("Searching your documents…");
    try {
      const response = await fetch("/api/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ question, conversation_id: conversationId }),
        credentials: "same-origin",
      });
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        if (response.status === 401) window.location.href = "/login";
        throw new Error(data.error || "Request failed (" + response.status + ")");
      }
      const textNode = turn.answer.querySelector(".answer-text");
      for await (const [event, data] of readEvents(response)) {
        if (event === "delta") {
          turn.answer.querySelector(".answer-status")?.remove();
          textNode.append(data.text);
        } else if (event === "answer") {
          renderAnswer(turn, data, null);
          setConversation(data.conversation_id, data.answer.question);
          announce(data.answer.abstained ? "Kura could not find an answer." : "Answer ready.");
          refreshHistory();
        } else if (event === "error") {
          renderError(turn, data.message);
          announce("Answering failed.");
        }
      }
    } catch (error) {
      renderError(turn, error.message || "Could not reach Kura.");
      announce("Answering failed.");
    } finally {
      busy = false;
      $("ask-button").disabled = false;
    }
  }

  function setConversation(id, title) {
    const changed = id !== conversationId;
    conversationId = id;
    $("share-button").hidden = !id;
    if (changed && id) {
      history.pushState({ id }, "", "/c/" + encodeURIComponent(id));
      $("chat-title").textContent = title;
      $("chat-title").lang = langOf(title);
    }
  }

  // --- history ----------------------------------------------------------------------
  async function refreshHistory() {
    try {
      const data = await api("GET", "/api/history");
      const list = $("history-list");
      list.replaceChildren(...data.conversations.map((c) => el("li", {},
        el("a", {
          href: "/c/" + encodeURIComponent(c.id), lang: langOf(c.title), title: c.title,
          "aria-current": c.id === conversationId ? "page" : null,
          onclick: (event) => { event.preventDefault(); openConversation(c.id, true); },
        }, c.title))));
      $("history-empty").hidden = data.conversations.length > 0;
    } catch (error) {
      $("history-empty").textContent = "Could not load conversations: " + error.message;
    }
  }

  async function openConversation(id, push) {
    try {
      const data = await api("GET", "/api/conversations/" + encodeURIComponent(id));
      resetChat();
      conversationId = data.id;
      if (push) history.pushState({ id }, "", "/c/" + encodeURIComponent(id));
      $("chat-title").textContent = data.title;
      $("chat-title").lang = langOf(data.title);
      $("share-button").hidden = false;
      for (const t of data.turns) {
        const turn = newTurn(t.question);
        renderAnswer(turn, { answer: t.answer, answer_id: t.answer_id }, t.feedback);
      }
      refreshHistory();
      $("question").focus();
    } catch (error) {
      announce(error.message);
      $("intro").hidden = false;
      $("intro").replaceChildren(el("p", { role: "alert", text: error.message }));
    }
  }

  function resetChat() {
    conversationId = null;
    $("turns").replaceChildren();
    $("intro").hidden = false;
    $("chat-title").textContent = "Ask Kura";
    $("chat-title").lang = "en";
    $("share-button").hidden = true;
    $("share-panel").hidden = true;
  }

  // --- sharing --------------------------------------------------------------------------
  async function share() {
    try {
      const data = await api("POST", "/api/conversations/" + encodeURIComponent(conversationId) + "/share");
      $("share-url").value = data.url;
      $("share-status").textContent = "";
      $("share-panel").hidden = false;
      $("share-button").setAttribute("aria-expanded", "true");
      $("share-url").select();
      $("share-url").focus();
    } catch (error) {
      announce("Could not share: " + error.message);
    }
  }

  // --- wiring -------------------------------------------------------------------------
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question || busy) return;
    $("question").value = "";
    ask(question);
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault(); // IME composition (Japanese input) keeps Enter for choosing characters
      $("ask-form").requestSubmit();
    }
  });
  $("new-chat").addEventListener("click", () => {
    resetChat();
    history.pushState({}, "", "/");
    refreshHistory();
    $("question").focus();
  });
  $("toggle-history").addEventListener("click", (event) => {
    const open = event.currentTarget.getAttribute("aria-expanded") !== "true";
    event.currentTarget.setAttribute("aria-expanded", String(open));
    event.currentTarget.textContent = open ? "Hide conversations" : "Show conversations";
    $("history-body").dataset.open = String(open);
  });
  $("share-button").addEventListener("click", share);
  $("close-share").addEventListener("click", () => {
    $("share-panel").hidden = true;
    $("share-button").setAttribute("aria-expanded", "false");
    $("share-button").focus();
  });
  $("copy-share").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("share-url").value);
      $("share-status").textContent = "Link copied.";
    } catch (_) {
      $("share-url").select();
      $("share-status").textContent = "Press Ctrl+C (⌘C) to copy the selected link.";
    }
  });
  $("unshare").addEventListener("click", async () => {
    try {
      await api("DELETE", "/api/conversations/" + encodeURIComponent(conversationId) + "/share");
      $("share-url").value = "";
      $("share-status").textContent = "Sharing stopped: the old link no longer works.";
    } catch (error) {
      $("share-status").textContent = "Could not stop sharing: " + error.message;
    }
  });
  window.addEventListener("popstate", () => {
    const match = window.location.pathname.match(/^\/c\/([^/]+)$/);
    if (match) openConversation(decodeURIComponent(match[1]), false);
    else resetChat();
  });

  $("history-body").dataset.open = "false";
  if (conversationId) openConversation(conversationId, false);
  else refreshHistory();
})();
