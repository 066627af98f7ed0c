//! The ser.cfg language. STUB: being written.
