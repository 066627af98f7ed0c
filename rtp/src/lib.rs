//! The in-process media relay: port pairs, SDP rewriting, latching, RTCP and
//! timeouts.
//!
//! Not built yet: the NAT-traversal issue fills this crate. The SIP parser in
//! `ser-core` already locates the SDP `c=`, `m=` and `a=rtcp` lines as byte
//! ranges, which is what this relay will rewrite.
