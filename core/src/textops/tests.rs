//! textops through the real VM: Kamailio and SER 2.x configs compiled from
//! text, a real parsed message, and the bytes the edits build.

use crate::script::testkit;

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-1\r\n\
    Route: <sip:192.0.2.1;lr>\r\n\
    Max-Forwards: 70\r\n\
    From: \"A\" <sip:alice@atlanta.example>;tag=f1\r\n\
    To: <sip:bob@example.com>\r\n\
    k: timer\r\n\
    Supported: 100rel\r\n\
    Call-ID: c1@x\r\n\
    CSeq: 1 INVITE\r\n\
    X-Old: 1\r\n\
    Content-Type: text/plain\r\n\
    Content-Length: 5\r\n\r\nhello";

struct Ran {
    ret: i32,
    /// The message as it would be sent on.
    out: String,
    reply_headers: String,
    logs: Vec<String>,
}

/// Runs `body` as the main route of a config (`head` gives the dialect)
/// and builds the message with the script's edits.
fn run(head: &str, body: &str) -> Ran {
    let text = format!("{head}\nloadmodule \"textops.so\"\nroute {{\n{body}\n}}\n");
    testkit::run(
        &text,
        INVITE,
        |_, _| {},
        |ran, ctx, m| {
            let mut out = Vec::new();
            ctx.edits.build(m, &mut out).unwrap();
            Ran {
                ret: ran.ret,
                out: String::from_utf8(out).unwrap(),
                reply_headers: String::from_utf8_lossy(&ctx.reply_headers).into_owned(),
                logs: testkit::logs(ctx),
            }
        },
    )
}

const KAM: &str = "#!KAMAILIO";

#[test]
fn append_hf_at_the_end_and_after_a_header() {
    let r = run(
        KAM,
        "$var(x) = \"out\"; append_hf(\"P-hint: $var(x)bound\\r\\n\"); \
         append_hf(\"X-After: 1\\r\\n\", \"Call-ID\"); return(3);",
    );
    assert_eq!(r.ret, 3);
    assert!(
        r.out
            .contains("Content-Length: 5\r\nP-hint: outbound\r\n\r\nhello"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("Call-ID: c1@x\r\nX-After: 1\r\nCSeq"),
        "{}",
        r.out
    );
    // The received message is what the script keeps reading.
    let r = run(
        KAM,
        "append_hf(\"X-New: 1\\r\\n\"); if (is_present_hf(\"X-New\")) return(1); return(2);",
    );
    assert_eq!(r.ret, 2);
}

#[test]
fn append_hf_ends_a_line_without_crlf_and_refuses_bad_text() {
    let r = run(KAM, "append_hf(\"X-A: 1\");");
    assert!(r.out.contains("X-A: 1\r\n\r\nhello"), "{}", r.out);
    let r = run(
        KAM,
        "if (!append_hf(\"no colon here\\r\\n\")) return(4); return(1);",
    );
    assert_eq!(r.ret, 4);
    assert!(
        r.logs.iter().any(|l| l.contains("append_hf")),
        "{:?}",
        r.logs
    );
    let r = run(
        KAM,
        "if (!append_hf(\"Content-Length: 9\\r\\n\")) return(4); return(1);",
    );
    assert_eq!(r.ret, 4);
    assert!(r.out.contains("Content-Length: 5\r\n\r\nhello"));
}

#[test]
fn insert_hf_first_or_before_a_header() {
    let r = run(
        KAM,
        "insert_hf(\"X-First: 1\\r\\n\"); insert_hf(\"X-Before: 1\\r\\n\", \"CSeq\");",
    );
    assert!(
        r.out
            .starts_with("INVITE sip:bob@example.com SIP/2.0\r\nX-First: 1\r\nVia:"),
        "{}",
        r.out
    );
    assert!(r.out.contains("X-Before: 1\r\nCSeq: 1 INVITE"), "{}", r.out);
}

#[test]
fn remove_hf_takes_both_forms_and_says_whether_it_removed() {
    let r = run(KAM, "if (remove_hf(\"Route\")) return(1); return(2);");
    assert_eq!(r.ret, 1);
    assert!(!r.out.contains("Route:"), "{}", r.out);
    // `k` is Supported's compact form.
    let r = run(KAM, "if (remove_hf(\"Supported\")) return(1); return(2);");
    assert_eq!(r.ret, 1);
    assert!(
        !r.out.contains("\r\nk: ") && !r.out.contains("100rel"),
        "{}",
        r.out
    );
    let r = run(KAM, "if (remove_hf(\"X-Missing\")) return(1); return(2);");
    assert_eq!(r.ret, 2);
    let r = run(KAM, "if (remove_hf(\"x-old\")) return(1); return(2);");
    assert_eq!(r.ret, 1);
    assert!(!r.out.contains("X-Old"));
    // Removing twice, and adding after a removed header, still builds.
    let r = run(
        KAM,
        "remove_hf(\"CSeq\"); remove_hf(\"CSeq\"); append_hf(\"CSeq: 2 INVITE\\r\\n\", \"CSeq\");",
    );
    assert!(
        r.out.contains("Call-ID: c1@x\r\nCSeq: 2 INVITE\r\nX-Old"),
        "{}",
        r.out
    );
}

#[test]
fn remove_hf_re_and_is_present() {
    let r = run(
        KAM,
        "if (remove_hf_re(\"^(X-Old|Max-Forwards)$\")) return(1); return(2);",
    );
    assert_eq!(r.ret, 1);
    assert!(
        !r.out.contains("X-Old") && !r.out.contains("Max-Forwards"),
        "{}",
        r.out
    );
    let r = run(
        KAM,
        "if (is_present_hf(\"Route\") && is_present_hf(\"i\") && !is_present_hf(\"Require\")) return(1); return(2);",
    );
    assert_eq!(r.ret, 1);
    let r = run(KAM, "if (is_present_hf_re(\"^x-o\")) return(1); return(2);");
    assert_eq!(r.ret, 1);
}

#[test]
fn search_looks_at_the_whole_message_line_by_line() {
    for (re, want) in [
        ("^CSeq:[ ]*1 INVITE$", 1),
        ("^Content-Length:[ ]*5", 1),
        ("^hello$", 1),
        ("^INVITE sip:bob", 1),
        ("^Contact:[ ]*\\\\*", 2),
        ("^Route:.*;nat=yes", 2),
    ] {
        let r = run(KAM, &format!("if (search(\"{re}\")) return(1); return(2);"));
        assert_eq!(r.ret, want, "{re}");
    }
}

#[test]
fn append_to_reply_collects_lines_for_local_replies() {
    let r = run(
        KAM,
        "append_to_reply(\"X-R: $rU\\r\\n\"); append_to_reply(\"X-S: 2\");",
    );
    assert_eq!(r.reply_headers, "X-R: bob\r\nX-S: 2\r\n");
    let r = run(KAM, "if (!append_to_reply(\"bad\")) return(4); return(1);");
    assert_eq!(r.ret, 4);
    assert_eq!(r.reply_headers, "");
}

#[test]
fn ser_2_formats() {
    // SER 2.x: `%$avp` in the text.
    let r = run(
        "loadpath \"/usr/lib/ser/modules\"",
        "$x = \"rr-enforced\"; append_hf(\"P-hint: %$x\\r\\n\"); append_to_reply(\"%$x\");",
    );
    assert!(
        r.out.contains("P-hint: rr-enforced\r\n\r\nhello"),
        "{}",
        r.out
    );
}
