/* Local stand-in for https://www.mercadopago.com/v2/security.js (device fingerprint): sets
 * MP_DEVICE_SESSION_ID, which the page sends to its backend as X-Meli-Session-Id. */
(function () {
  "use strict";
  var bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  var hex = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  window.MP_DEVICE_SESSION_ID = "armor." + hex;
})();
