// symbackprop serve: the page. Plain JavaScript, no library, nothing fetched but this server's own API.
"use strict";

const FIELDS_BY_MODE = {
  network: ["layers", "hidden", "output", "loss", "l2", "bias"],
  layer: ["layer", "stride", "pad", "window", "axis"],
  model: ["model", "input_size", "loss"],
  text: ["text"],
};
const PROGRESS_AFTER_MS = 300;
let OPTIONS = null;
let running = null;          // {job, controller, kind} of the request in flight, for Cancel
let lastSetup = null;        // the setup the derivation on screen was derived from

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const form = () => $("#setup");

function jobId() {
  if (window.crypto && crypto.getRandomValues) {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  return String(Date.now()) + String(Math.random()).slice(2, 10);
}

function mode() { return form().elements.mode.value; }

// --- the setup and the URL ------------------------------------------------------------------------------------------

function currentSetup() {
  const f = form().elements, m = mode();
  const setup = { mode: m, notation: $("#notation").value };
  for (const name of FIELDS_BY_MODE[m]) {
    setup[name] = name === "loss" && m === "model" ? f.model_loss.value : f[name].value;
  }
  return setup;
}

function urlFor(setup, formulas) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(setup)) {
    if (value !== (OPTIONS.defaults[name] ?? "")) params.set(name, value);
  }
  if (formulas && formulas.trim()) params.set("check", formulas);
  const query = params.toString();
  return location.pathname + (query ? "?" + query : "");
}

function saveToURL() {
  const url = urlFor(lastSetup || currentSetup(), $("#formulas").value);
  history.replaceState(null, "", url);
  $("#share").href = url;
}

function loadFromURL() {
  const params = new URLSearchParams(location.search);
  const f = form().elements;
  const defaults = OPTIONS.defaults;
  const m = Object.keys(FIELDS_BY_MODE).includes(params.get("mode")) ? params.get("mode") : "network";
  for (const radio of $$("input[name=mode]")) radio.checked = radio.value === m;
  for (const name of ["layers", "hidden", "output", "loss", "l2", "bias", "layer", "stride", "pad", "window", "axis",
                      "model", "input_size", "text"]) {
    const value = params.has(name) ? params.get(name) : (defaults[name] ?? "");
    if (f[name]) f[name].value = value;
  }
  if (m === "model") {
    f.model_loss.value = params.get("loss") || OPTIONS.model_losses[0];
    f.loss.value = defaults.loss;
  }
  if (m === "layer" && !f.layer.value) f.layer.value = OPTIONS.layers[0];
  $("#notation").value = params.get("notation") || "";
  $("#formulas").value = params.get("check") || "";
  showMode();
  return params.has("check");
}

function showMode() {
  const m = mode();
  for (const block of $$(".mode-fields")) block.hidden = block.dataset.mode !== m;
  const layerish = m !== "network";
  for (const option of $$("#notation option")) {
    const forLayers = option.value === "" || OPTIONS.layer_notations.includes(option.value);
    const forNetworks = option.value !== "cs231n";
    option.disabled = layerish ? !forLayers : !forNetworks;
  }
  if ($("#notation").selectedOptions[0]?.disabled) $("#notation").value = "";
  for (const button of $$("[data-export]")) {
    const backend = ["numpy", "jax", "torch"].includes(button.dataset.export);
    button.disabled = !OPTIONS.exports.includes(button.dataset.export) || (layerish && backend && button.dataset.export !== "numpy");
  }
}

// --- talking to the server ------------------------------------------------------------------------------------------

function clearErrors() {
  for (const box of $$(".field-error")) { box.hidden = true; box.textContent = ""; }
  for (const input of $$("[aria-invalid=true]")) input.removeAttribute("aria-invalid");
  const message = $("#message");
  message.hidden = true;
  message.textContent = "";
}

function showError(answer) {
  const field = answer.field && (mode() === "model" && answer.field === "loss" ? "model_loss" : answer.field);
  const box = field && $(`.field-error[data-for="${field}"]`);
  const input = field && (field === "notation" ? $("#notation") : form().elements[field]);
  if (box && input) {
    box.textContent = answer.error;
    box.hidden = false;
    input.setAttribute("aria-invalid", "true");
    if (box.closest("details")) box.closest("details").open = true;
    return;
  }
  if (field === "notation" || (input && !box)) input?.setAttribute("aria-invalid", "true");
  const message = $("#message");
  message.textContent = answer.error;
  message.hidden = false;
}

async function call(kind, path, body, label) {
  if (running) cancel();
  const job = jobId();
  const controller = new AbortController();
  running = { job, controller, kind };
  const timer = setTimeout(() => {
    $("#progress-text").textContent = label;
    $("#progress").hidden = false;
  }, PROGRESS_AFTER_MS);
  document.body.dataset.busy = kind;
  try {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, job }), signal: controller.signal,
    });
    let answer;
    try { answer = await response.json(); } catch (e) { answer = { error: `the server answered ${response.status}` }; }
    if (!response.ok && !answer.error) answer.error = `the server answered ${response.status}`;
    return answer;
  } catch (error) {
    if (error.name === "AbortError") return { error: "cancelled", cancelled: true };
    return { error: "the server cannot be reached; is symbackprop serve still running?" };
  } finally {
    clearTimeout(timer);
    if (running && running.job === job) running = null;
    $("#progress").hidden = true;
    delete document.body.dataset.busy;
  }
}

function cancel() {
  if (!running) return;
  const { job, controller } = running;
  running = null;
  fetch("/api/cancel", { method: "POST", headers: { "Content-Type": "application/json" },
                         body: JSON.stringify({ job }) }).catch(() => {});
  controller.abort();
}

// --- derive ---------------------------------------------------------------------------------------------------------

async function derive() {
  clearErrors();
  const setup = currentSetup();
  const answer = await call("derive", "/api/derive", { setup }, "deriving…");
  if (answer.error) {
    showError(answer);
    return false;
  }
  lastSetup = setup;
  const target = $("#derivation");
  target.innerHTML = answer.html;
  attachExpansions(target, answer.expansions || {});
  document.title = `symbackprop: ${answer.title}`;
  saveToURL();
  document.body.dataset.derived = "yes";
  return true;
}

function attachExpansions(root, expansions) {
  for (const step of $$("li.step", root)) {
    const number = step.id.replace("step-", "");
    const expansion = expansions[number];
    if (!expansion) continue;
    step.classList.add("expandable");
    step.tabIndex = 0;
    step.setAttribute("role", "button");
    step.setAttribute("aria-expanded", "false");
    step.title = "show the terms of this step";
    const toggle = () => {
      let shown = $(".expansion", step);
      if (!shown) {
        shown = document.createElement("div");
        shown.className = "expansion";
        shown.innerHTML = expansion;
        step.appendChild(shown);
      } else {
        shown.hidden = !shown.hidden;
      }
      step.setAttribute("aria-expanded", String(!shown.hidden));
    };
    step.addEventListener("click", (event) => { if (!event.target.closest(".expansion")) toggle(); });
    step.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
    });
  }
}

// --- check ----------------------------------------------------------------------------------------------------------

function compact(matrix) {
  const text = "[" + matrix.map((row) => "[" + row.map((v) => Number(v).toPrecision(4)).join(", ") + "]").join(", ") + "]";
  return text.length <= 200 ? text : text.slice(0, 197) + "...";
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function verdictItem(result) {
  const item = element("li", `verdict ${result.verdict}`);
  const head = element("div", "verdict-head");
  head.appendChild(element("span", "line-number", `line ${result.line}`));
  head.appendChild(element("code", "formula", result.formula));
  item.appendChild(head);
  const method = result.method ? ` (${result.method})` : "";
  item.appendChild(element("div", "verdict-word", `${result.verdict}${method}${result.quantity ? ": " + result.quantity : ""}`));
  if (result.verdict === "unreadable" || result.verdict === "failed") {
    item.appendChild(element("pre", "caret", result.error));
    return item;
  }
  if (result.diagnosis) item.appendChild(element("p", "diagnosis", result.diagnosis));
  for (const note of result.notes || []) item.appendChild(element("p", "note", "note: " + note));
  const example = result.counterexample;
  if (example) {
    const sizes = Object.entries(example.sizes).map(([k, v]) => `${k} = ${v}`).join(", ");
    const scalars = ["m", "lambda"].filter((k) => k in example).map((k) => `, ${k} = ${example[k]}`).join("");
    item.appendChild(element("pre", "counterexample",
      `counterexample at ${sizes}${scalars}:\n  expected ${compact(example.expected)}\n  formula  ${compact(example.formula)}`));
  }
  return item;
}

async function check() {
  clearErrors();
  const text = $("#formulas").value;
  const list = $("#verdicts");
  const answer = await call("check", "/api/check", { setup: currentSetup(), text }, "checking…");
  list.replaceChildren();
  $("#check-summary").textContent = "";
  if (answer.error) {
    if (answer.cancelled) { $("#check-summary").textContent = "cancelled"; return; }
    $("#check-summary").textContent = answer.error;
    return;
  }
  const fieldError = answer.results.find((r) => r.field);
  if (fieldError) showError(fieldError);
  for (const result of answer.results) list.appendChild(verdictItem(result));
  const s = answer.summary;
  $("#check-summary").textContent = `${s.correct} correct, ${s.incorrect} incorrect, ${s.undecided} undecided, ` +
    `${s.unreadable} unreadable` + (s.failed ? `, ${s.failed} not judged` : "") + ` (${answer.results.length} lines)`;
  saveToURL();
  document.body.dataset.checked = "yes";
}

// --- export ---------------------------------------------------------------------------------------------------------

async function exportFile(what) {
  clearErrors();
  $("#export-message").textContent = "";
  const answer = await call("export", "/api/export", { setup: currentSetup(), what }, `writing the ${what} file…`);
  if (answer.error) {
    if (answer.field) showError(answer);
    $("#export-message").textContent = answer.error;
    return;
  }
  let data = answer.text;
  if (answer.base64 !== undefined) data = Uint8Array.from(atob(answer.base64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([data], { type: answer.media }));
  const link = element("a");
  link.href = url;
  link.download = answer.filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  $("#export-message").textContent = `downloaded ${answer.filename}`;
}

// --- start ----------------------------------------------------------------------------------------------------------

function fill(select, values) {
  select.replaceChildren(...values.map((value) => { const o = element("option", "", value); o.value = value; return o; }));
}

function datalist(list, values) {
  list.replaceChildren(...values.map((value) => { const o = element("option"); o.value = value; return o; }));
}

async function start() {
  try {
    const response = await fetch("/api/options");
    OPTIONS = await response.json();
    if (!response.ok) throw new Error(OPTIONS.error);
  } catch (error) {
    const message = $("#message");
    message.textContent = "the server cannot be reached; is symbackprop serve still running?";
    message.hidden = false;
    return;
  }
  fill(form().elements.layer, OPTIONS.layers);
  fill(form().elements.model_loss, OPTIONS.model_losses);
  datalist($("#activations"), OPTIONS.activations);
  datalist($("#losses"), OPTIONS.losses);
  const checkToo = loadFromURL();
  form().addEventListener("submit", (event) => { event.preventDefault(); derive(); });
  for (const radio of $$("input[name=mode]")) radio.addEventListener("change", () => {
    if (mode() === "layer" && !form().elements.layer.value) form().elements.layer.value = OPTIONS.layers[0];
    showMode();
  });
  $("#notation").addEventListener("change", () => derive());
  $("#check").addEventListener("click", () => check());
  $("#cancel").addEventListener("click", () => cancel());
  for (const button of $$("[data-export]")) button.addEventListener("click", () => exportFile(button.dataset.export));
  document.body.dataset.ready = "yes";
  if (await derive() && checkToo) await check();
}

document.addEventListener("DOMContentLoaded", start);
