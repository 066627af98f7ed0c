//! Building outgoing messages as edits over the received bytes. STUB.
