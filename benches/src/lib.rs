//! Sample messages shared by the parser benchmarks: an INVITE with SDP as a
//! desk phone sends it, the 200 OK that answers it, and a REGISTER with
//! digest credentials. Written for these benchmarks.

/// An INVITE with an SDP offer, about 800 bytes, shaped like a desk phone's.
pub const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n\
Route: <sip:proxy.atlanta.example.com;lr>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, NOTIFY, REFER, UPDATE\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: ExamplePhone/5.2.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 242\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=rtcp:49173\r\n\
a=sendrecv\r\n";

/// The 200 OK answering [`INVITE`] after two proxies, without a body.
pub const OK200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP proxy.atlanta.example.com;branch=z9hG4bK2d4790.1;received=192.0.2.10\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.101\r\n\
Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n\
From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:bob@192.0.2.4:5060>\r\n\
Content-Length: 0\r\n\
\r\n";

/// A REGISTER with digest credentials, as a phone sends it after a 401.
pub const REGISTER: &[u8] = b"REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7;rport\r\n\
Max-Forwards: 70\r\n\
From: Bob <sip:bob@biloxi.example.com>;tag=a73kszlfl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.4\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:bob@192.0.2.4:5060>;expires=3600;q=0.8\r\n\
Authorization: Digest username=\"bob\", realm=\"biloxi.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:registrar.biloxi.example.com\", response=\"245f23415f11432b3434341c022\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n\
Expires: 3600\r\n\
User-Agent: ExamplePhone/5.2.1\r\n\
Content-Length: 0\r\n\
\r\n";
