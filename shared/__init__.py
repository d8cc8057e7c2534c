"""The product package: everything the functions share.

Importing ``shared`` costs nothing: each module imports only what its own concern needs,
and heavy clients (Firestore, Cloud Tasks, Mercado Pago SDK) are imported by the modules
that use them, so a function pays only for its own path.
"""
