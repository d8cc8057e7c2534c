// Mercado Pago's recommended buyer messages for card refusals (status_detail), so the buyer
// knows whether to fix the data, call the bank or use another card.
const BRANDS = { master: "Mastercard", visa: "Visa", amex: "American Express", elo: "Elo" };

const MESSAGES = {
  cc_rejected_bad_filled_card_number: "Check the card number.",
  cc_rejected_bad_filled_date: "Check the expiration date.",
  cc_rejected_bad_filled_other: "Check the data.",
  cc_rejected_bad_filled_security_code: "Check the card's security code.",
  cc_rejected_blacklist: "We could not process your payment.",
  cc_rejected_call_for_authorize: "You must authorize the payment of {amount} with {brand}.",
  cc_rejected_card_disabled: "Call {brand} to activate your card or use another payment method.",
  cc_rejected_card_error: "We could not process your payment.",
  cc_rejected_duplicated_payment: "You already made a payment for that amount. If you need to pay again, use another card or another payment method.",
  cc_rejected_high_risk: "Your payment was declined. Choose another payment method.",
  cc_rejected_insufficient_amount: "Your {brand} has insufficient funds.",
  cc_rejected_invalid_installments: "{brand} does not process payments in {installments} installments.",
  cc_rejected_max_attempts: "You have reached the limit of allowed attempts. Choose another card or another payment method.",
  cc_rejected_other_reason: "{brand} did not process the payment.",
  cc_rejected_3ds_challenge: "Your bank did not confirm the payment. Try again or use another card.",
};

export function buyerMessage(detail, { methodId, installments, amount } = {}) {
  const template = MESSAGES[detail] || "Your payment was declined. Try another card or payment method.";
  const values = { brand: BRANDS[methodId] || "Your card issuer", installments: installments || 1, amount: amount || "" };
  return template.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
}
