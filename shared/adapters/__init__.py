"""What talks to the outside: Firestore, Mercado Pago, Cloud Tasks, Google ID tokens, reCAPTCHA,
the shop's hooks."""
