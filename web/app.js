// Reference checkout page: Mercado Pago Checkout Bricks (JS SDK v2) in front of create_payment.
// No build step: an ES module reading one config object (config.json: sdk_url, security_url,
// public_key, api_url, locale). The page never sends an amount: the server prices the order.
import { buyerMessage } from "./messages.js";

const FINAL = new Set(["paid", "cancelled", "refunded", "partially_refunded", "charged_back"]);
const $ = (id) => document.getElementById(id);

const state = {
  config: null, mp: null, product: null, cardBrick: null, orderId: null, following: 0,
};

function show(id, visible = true) { $(id).hidden = !visible; }

function message(text) {
  $("message").textContent = text || "";
  show("message", Boolean(text));
}

function setOrder(orderId, status) {
  state.orderId = orderId;
  $("order-id").textContent = orderId;
  $("order-status").textContent = status;
  $("order-status").dataset.orderStatus = status;
  $("order").dataset.orderId = orderId;
  show("order");
}

function loadScript(src, attrs = {}) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    Object.entries(attrs).forEach(([k, v]) => s.setAttribute(k, v));
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(state.config.api_url + path, init);
  let json = null;
  try { json = await response.json(); } catch { json = null; }
  return { status: response.status, json };
}

function quantity() {
  const q = Number($("quantity").value);
  return Number.isInteger(q) && q >= 1 && q <= 99 ? q : 1;
}

function amount() {
  return state.product ? Number(state.product.unit_price) * quantity() : 0;
}

function money(value) {
  const currency = state.product ? state.product.currency : "BRL";
  return new Intl.NumberFormat(state.config.locale, { style: "currency", currency }).format(value);
}

async function loadProduct() {
  const id = $("product-select").value;
  const { status, json } = await api(`/products/${encodeURIComponent(id)}`);
  if (status !== 200) {
    state.product = null;
    $("product-title").textContent = "This product is not available";
    return;
  }
  state.product = json;
  $("product-title").textContent = json.title;
  $("unit-price").textContent = money(Number(json.unit_price));
  renderTotal();
  // BRL shows boleto, MXN OXXO; other currencies have no ticket here.
  $("boleto-fields").hidden = json.currency !== "BRL";
}

function renderTotal() {
  $("total").textContent = state.product ? money(amount()) : "";
  if (state.cardBrick) state.cardBrick.update({ amount: amount() });
}

function orderPart() {
  // A pending order (e.g. after a rejected card) is paid again by its id: same order, same price.
  return state.orderId ? { order_id: state.orderId }
    : { items: [{ product_id: state.product.id, quantity: quantity() }] };
}

function paymentHeaders() {
  const headers = { "Idempotency-Key": crypto.randomUUID() };
  if (window.MP_DEVICE_SESSION_ID) headers["X-Meli-Session-Id"] = window.MP_DEVICE_SESSION_ID;
  return headers;
}

async function pay(payment, payer) {
  message("");
  const body = { ...orderPart(), payment };
  if (payer) body.payer = payer;
  const { status, json } = await api("/", { method: "POST", body, headers: paymentHeaders() });
  if (status === 201) return json;
  const error = (json && json.error) || {};
  if (error.order_id) state.orderId = error.order_id;
  if (error.code === "order_not_payable") state.orderId = null;
  message(error.retryable ? "The payment could not be confirmed yet. Please try again."
    : `The payment was not accepted (${error.code || status}).`);
  return null;
}

// -- card ----------------------------------------------------------------------------------
async function mountCardBrick() {
  if (state.cardBrick) state.cardBrick.unmount();
  state.cardBrick = await state.mp.bricks().create("cardPayment", "cardPaymentBrick_container", {
    initialization: { amount: amount() },
    callbacks: {
      onReady: () => { document.body.dataset.cardReady = "true"; },
      onError: (error) => console.warn("card brick", error && error.type),
      onSubmit: (formData) => payByCard(formData),
    },
  });
}

async function payByCard(formData) {
  const payment = {
    method: "card", token: formData.token, payment_method_id: formData.payment_method_id,
    installments: Number(formData.installments) || 1,
  };
  if (formData.issuer_id) payment.issuer_id = String(formData.issuer_id);
  const payer = { email: formData.payer.email };
  const ident = formData.payer.identification;
  if (ident && ident.type && ident.number) payer.identification = { type: ident.type, number: ident.number };
  const answer = await pay(payment, payer);
  if (!answer) return;
  setOrder(answer.order_id, "pending");
  if (answer.status === "rejected") {
    rejected(answer.status_detail, formData.payment_method_id, payment.installments);
    return;
  }
  if (answer.status_detail === "pending_challenge" && answer.challenge_url) {
    await state.mp.bricks().create("statusScreen", "statusScreenBrick_container", {
      initialization: {
        paymentId: answer.payment_id,
        additionalInfo: { externalResourceURL: answer.challenge_url, creq: answer.creq },
      },
      callbacks: { onReady: () => {}, onError: () => {} },
    });
    show("pay-card", false);
  }
  follow(answer.order_id, answer.payment_id);
}

function rejected(detail, methodId, installments) {
  // Mercado Pago's buyer message; the form comes back for the next attempt on the same order.
  message(buyerMessage(detail, { methodId, installments, amount: money(amount()) }));
  $("statusScreenBrick_container").innerHTML = "";
  show("pay-card");
  mountCardBrick();
}

// -- other methods ---------------------------------------------------------------------------
async function payByPix(event) {
  event.preventDefault();
  const email = new FormData(event.target).get("email");
  const answer = await pay({ method: "pix" }, { email });
  if (!answer) return;
  setOrder(answer.order_id, "pending");
  $("pix-qr").src = `data:image/png;base64,${answer.qr_code_base64}`;
  $("pix-code").value = answer.qr_code || "";
  $("pix-ticket").href = answer.ticket_url || "#";
  $("pix-result").dataset.paymentId = answer.payment_id;
  show("pix-result");
  follow(answer.order_id);
}

async function payByTicket(event) {
  event.preventDefault();
  const f = new FormData(event.target);
  const brl = state.product.currency === "BRL";
  const payer = { email: f.get("email") };
  if (brl) {
    Object.assign(payer, {
      first_name: f.get("first_name"), last_name: f.get("last_name"),
      identification: { type: "CPF", number: String(f.get("cpf") || "").replace(/\D/g, "") },
      address: Object.fromEntries(["zip_code", "street_name", "street_number", "neighborhood",
        "city", "federal_unit"].map((k) => [k, f.get(k)])),
    });
  }
  const methodId = { BRL: "bolbradesco", MXN: "oxxo", ARS: "rapipago" }[state.product.currency];
  const answer = await pay({ method: "ticket", payment_method_id: methodId }, payer);
  if (!answer) return;
  setOrder(answer.order_id, "pending");
  $("ticket-link").href = answer.ticket_url;
  $("ticket-barcode").textContent = answer.barcode || "";
  show("ticket-result");
  follow(answer.order_id);
}

async function payWithCheckoutPro() {
  const answer = await pay({ method: "checkout_pro" });
  if (answer && answer.init_point) window.location.assign(answer.init_point);
}

// -- following the order ---------------------------------------------------------------------
async function follow(orderId, paymentId = null) {
  // Until a final state; a card payment that ends rejected (e.g. a failed 3-D Secure
  // challenge) brings the card form back for another attempt on the same order.
  const run = ++state.following;
  while (run === state.following) {
    const { status, json } = await api(`/orders/${encodeURIComponent(orderId)}`);
    if (status === 200) {
      setOrder(orderId, json.status);
      const last = json.last_payment;
      if (FINAL.has(json.status)) {
        if (json.status === "paid") message("");
        show("methods", false);
        for (const m of ["card", "pix", "ticket", "checkout_pro"]) show(`pay-${m}`, false);
        $("statusScreenBrick_container").innerHTML = "";
        return json.status;
      }
      if (paymentId && last && String(last.id) === String(paymentId) && last.status === "rejected") {
        rejected(last.status_detail);
        return json.status;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}

// -- start -----------------------------------------------------------------------------------
function selectMethod(method) {
  document.querySelectorAll("#methods button").forEach((b) => {
    b.setAttribute("aria-selected", String(b.dataset.method === method));
  });
  for (const m of ["card", "pix", "ticket", "checkout_pro"]) show(`pay-${m}`, m === method);
}

async function start() {
  state.config = await (await fetch("config.json", { cache: "no-store" })).json();
  $("product-select").addEventListener("change", async () => {
    state.orderId = null;
    await loadProduct();
  });
  $("quantity").addEventListener("input", () => { state.orderId = null; renderTotal(); });
  await loadProduct();
  if (state.config.security_url) {
    loadScript(state.config.security_url, { view: "checkout" }).catch(() => {});
  }
  try {
    await loadScript(state.config.sdk_url);
    if (typeof window.MercadoPago !== "function") throw new Error("no MercadoPago");
    state.mp = new window.MercadoPago(state.config.public_key, { locale: state.config.locale });
    await mountCardBrick();
  } catch (err) {
    console.warn("payment unavailable:", err.message);
    document.body.dataset.paymentState = "unavailable";
    show("unavailable");
    for (const m of ["card", "pix", "ticket", "checkout_pro"]) show(`pay-${m}`, false);
    return;
  }
  document.querySelectorAll("#methods button").forEach((b) => {
    b.addEventListener("click", () => selectMethod(b.dataset.method));
  });
  $("pix-form").addEventListener("submit", payByPix);
  $("ticket-form").addEventListener("submit", payByTicket);
  $("checkout-pro").addEventListener("click", payWithCheckoutPro);
  show("methods");
  document.body.dataset.paymentState = "ready";
}

start();
