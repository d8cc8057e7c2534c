/*
 * Local stand-in for Mercado Pago's JS SDK v2 (https://sdk.mercadopago.com/js/v2), served by
 * the simulator at /js/v2. It implements the subset a checkout page uses:
 *   new MercadoPago(publicKey, {locale})
 *   mp.bricks().create("cardPayment", containerId, {initialization: {amount, payer?},
 *                                                    callbacks: {onReady, onSubmit, onError}})
 *   mp.bricks().create("statusScreen", containerId, {initialization: {paymentId,
 *                       additionalInfo: {externalResourceURL, creq}}, callbacks})
 * Each create() resolves to a controller (unmount, getFormData, getAdditionalData, update).
 * The card form is plain inputs; it tokenizes at this simulator's /v1/card_tokens with the
 * public key and calls onSubmit with the real brick's formData shape. Test cards and the
 * cardholder names that choose outcomes (APRO, OTHE, 3DSC...) are Mercado Pago's.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var API = script && script.src ? new URL(script.src).origin : window.location.origin;

  var BRANDS = [
    { prefix: /^4/, id: "visa", issuer: "25" },
    { prefix: /^(5[1-5]|5031|2[2-7])/, id: "master", issuer: "24" },
    { prefix: /^3[47]/, id: "amex", issuer: "310" },
    { prefix: /^(5067|4576|4011)/, id: "elo", issuer: "687" },
  ];

  function brandOf(number) {
    for (var i = 0; i < BRANDS.length; i++) {
      if (BRANDS[i].prefix.test(number)) return BRANDS[i];
    }
    return { id: "master", issuer: "24" };
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function field(label, input) {
    return el("label", { class: "mp-field" }, [label, input]);
  }

  function container(id) {
    var node = document.getElementById(id);
    if (!node) throw new Error("container #" + id + " not found");
    return node;
  }

  function MercadoPago(publicKey, options) {
    if (!(this instanceof MercadoPago)) throw new Error("use new MercadoPago(publicKey)");
    if (!publicKey) throw new Error("MercadoPago needs a public key");
    this.publicKey = publicKey;
    this.locale = (options && options.locale) || "pt-BR";
  }

  MercadoPago.prototype.bricks = function () {
    var mp = this;
    return {
      create: function (kind, containerId, settings) {
        return new Promise(function (resolve, reject) {
          try {
            if (kind === "cardPayment") resolve(cardPayment(mp, containerId, settings || {}));
            else if (kind === "statusScreen") resolve(statusScreen(mp, containerId, settings || {}));
            else reject(new Error("brick " + kind + " is not simulated"));
          } catch (err) {
            reject(err);
          }
        });
      },
    };
  };

  function cardPayment(mp, containerId, settings) {
    var root = container(containerId);
    var init = settings.initialization || {};
    var callbacks = settings.callbacks || {};
    var amount = Number(init.amount || 0);
    var payer = init.payer || {};
    var form = el("form", { class: "mp-card-form", novalidate: "" });
    var inputs = {
      cardNumber: el("input", { name: "cardNumber", inputmode: "numeric", autocomplete: "cc-number", placeholder: "1234 1234 1234 1234" }),
      expirationDate: el("input", { name: "expirationDate", placeholder: "MM/YY", autocomplete: "cc-exp" }),
      securityCode: el("input", { name: "securityCode", inputmode: "numeric", placeholder: "123", autocomplete: "cc-csc" }),
      cardholderName: el("input", { name: "cardholderName", autocomplete: "cc-name", placeholder: "APRO" }),
      identificationType: el("select", { name: "identificationType" }, [
        el("option", { value: "CPF" }, ["CPF"]), el("option", { value: "CNPJ" }, ["CNPJ"]),
        el("option", { value: "RFC" }, ["RFC"]), el("option", { value: "DNI" }, ["DNI"]),
      ]),
      identificationNumber: el("input", { name: "identificationNumber", placeholder: "12345678909" }),
      cardholderEmail: el("input", { name: "cardholderEmail", type: "email", autocomplete: "email", value: payer.email || "" }),
      installments: el("select", { name: "installments" }),
    };
    var error = el("p", { class: "mp-error", role: "alert" });
    var button = el("button", { type: "submit" }, ["Pay"]);
    form.appendChild(field("Card number", inputs.cardNumber));
    form.appendChild(field("Expiration (MM/YY)", inputs.expirationDate));
    form.appendChild(field("Security code", inputs.securityCode));
    form.appendChild(field("Cardholder name", inputs.cardholderName));
    form.appendChild(field("Document", inputs.identificationType));
    form.appendChild(field("Document number", inputs.identificationNumber));
    form.appendChild(field("E-mail", inputs.cardholderEmail));
    form.appendChild(field("Installments", inputs.installments));
    form.appendChild(error);
    form.appendChild(button);

    function renderInstallments() {
      inputs.installments.innerHTML = "";
      [1, 2, 3, 6, 12].forEach(function (n) {
        var each = amount > 0 ? (amount / n).toFixed(2) : "";
        inputs.installments.appendChild(el("option", { value: String(n) }, [n + "x " + each]));
      });
    }
    renderInstallments();

    var last = { formData: null, additional: null };

    function collect() {
      var number = inputs.cardNumber.value.replace(/\D/g, "");
      var exp = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(inputs.expirationDate.value);
      return {
        number: number,
        month: exp ? Number(exp[1]) : null,
        year: exp ? Number(exp[2].length === 2 ? "20" + exp[2] : exp[2]) : null,
        cvv: inputs.securityCode.value.trim(),
        name: inputs.cardholderName.value.trim(),
        idType: inputs.identificationType.value,
        idNumber: inputs.identificationNumber.value.trim(),
        email: inputs.cardholderEmail.value.trim(),
        installments: Number(inputs.installments.value || 1),
      };
    }

    function fail(message, cause) {
      error.textContent = message;
      if (callbacks.onError) callbacks.onError({ type: "non_critical", cause: cause, message: message });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.textContent = "";
      var c = collect();
      if (!c.month || !c.year) return fail("Check the expiration date (MM/YY).", "invalid_expiration_date");
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.email)) return fail("Check the e-mail.", "invalid_email");
      button.disabled = true;
      var body = {
        card_number: c.number, expiration_month: c.month, expiration_year: c.year,
        security_code: c.cvv,
        cardholder: { name: c.name, identification: { type: c.idType, number: c.idNumber } },
      };
      fetch(API + "/v1/card_tokens?public_key=" + encodeURIComponent(mp.publicKey), {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      }).then(function (response) {
        return response.json().then(function (json) { return { ok: response.ok, json: json }; });
      }).then(function (answer) {
        if (!answer.ok) {
          button.disabled = false;
          return fail("Check the card data.", "card_token_creation_failed");
        }
        var brand = brandOf(c.number);
        var formData = {
          token: answer.json.id,
          issuer_id: brand.issuer,
          payment_method_id: brand.id,
          transaction_amount: amount,
          payment_method_option_id: null,
          processing_mode: null,
          installments: c.installments,
          payer: { email: c.email, identification: { type: c.idType, number: c.idNumber } },
        };
        var additional = {
          bin: c.number.slice(0, 8), lastFourDigits: c.number.slice(-4),
          cardholderName: c.name, paymentTypeId: "credit_card",
        };
        last = { formData: formData, additional: additional };
        var result = callbacks.onSubmit ? callbacks.onSubmit(formData, additional) : null;
        return Promise.resolve(result).then(
          function () { button.disabled = false; },
          function () { button.disabled = false; });
      }).catch(function () {
        button.disabled = false;
        fail("Could not reach Mercado Pago. Try again.", "network_error");
      });
    });

    root.innerHTML = "";
    root.appendChild(form);
    if (callbacks.onReady) setTimeout(callbacks.onReady, 0);
    return {
      unmount: function () { root.innerHTML = ""; },
      getFormData: function () { return Promise.resolve(last.formData); },
      getAdditionalData: function () { return Promise.resolve(last.additional); },
      update: function (values) {
        if (values && values.amount !== undefined) { amount = Number(values.amount); renderInstallments(); }
        return true;
      },
    };
  }

  function statusScreen(mp, containerId, settings) {
    var root = container(containerId);
    var init = settings.initialization || {};
    var callbacks = settings.callbacks || {};
    var info = init.additionalInfo || {};
    root.innerHTML = "";
    var box = el("div", { class: "mp-status-screen", "data-payment-id": String(init.paymentId || "") });
    if (info.externalResourceURL && info.creq) {
      // 3-D Secure: post the creq to the issuer's challenge page inside an iframe.
      var name = "mp-3ds-" + Math.random().toString(36).slice(2);
      var frame = el("iframe", { name: name, title: "3-D Secure", width: "420", height: "320" });
      var post = el("form", { method: "POST", action: info.externalResourceURL, target: name });
      post.appendChild(el("input", { type: "hidden", name: "creq", value: info.creq }));
      box.appendChild(el("p", {}, ["Confirm the payment with your bank."]));
      box.appendChild(frame);
      box.appendChild(post);
      root.appendChild(box);
      post.submit();
    } else {
      box.appendChild(el("p", {}, ["Payment " + (init.paymentId || "") + " received."]));
      root.appendChild(box);
    }
    if (callbacks.onReady) setTimeout(callbacks.onReady, 0);
    return { unmount: function () { root.innerHTML = ""; } };
  }

  window.MercadoPago = MercadoPago;
})();
