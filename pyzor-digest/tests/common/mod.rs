//! Shared helpers for the digest tests: a generator of MIME messages in the
//! shapes (and misshapes) real mail takes, and the reference oracle.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use proptest::prelude::*;

const WORDS: &[&str] = &[
    "hello",
    "Viagra",
    "cheap",
    "pills",
    "meeting",
    "tomorrow",
    "http://example.com/x?y=1",
    "user@example.org",
    "a@b",
    "x:y",
    "ftp:z",
    "Unsubscribe",
    "CLICK",
    "here!!",
    "1234567890123",
    "caf\u{e9}",
    "na\u{ef}ve",
    "\u{65e5}\u{672c}\u{8a9e}",
    "\u{d55c}\u{ad6d}\u{c5b4}",
    "\u{442}\u{435}\u{441}\u{442}",
    "\u{3b1}\u{3b2}\u{3b3}",
    "&amp;",
    "&nbsp;",
    "&#8217;",
    "&copy",
    "&bogus;",
    "<b>",
    "</b>",
    "<br/>",
    "<p>",
    "<!-- c -->",
    "<script>x()</script>",
    "<style>p{}</style>",
    "\u{a0}",
    "\u{2003}",
    "\u{200b}",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "\t",
    "\0",
    "\u{1c}",
    "=",
    "==",
    "=41",
    "=\n",
    "+",
    "~{",
    "\\u0041",
    "ſ:x",
    "K:y",
    "é@x",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(WORDS).prop_map(str::to_owned),
        2 => "[a-zA-Z0-9]{1,14}",
        1 => "\\PC{1,6}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 0..12).prop_map(|w| w.join(" "))
}

fn text_body() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..14).prop_map(|l| l.join("\n"))
}

fn charset() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            "utf-8",
            "UTF-8",
            "us-ascii",
            "iso-8859-1",
            "latin1",
            "windows-1252",
            "iso-8859-2",
            "koi8-r",
            "gb2312",
            "big5",
            "shift_jis",
            "euc-jp",
            "iso-2022-jp",
            "euc-kr",
            "utf-16",
            "utf-7",
            "x-unknown",
            "'utf-8'",
            "\"utf-8\"",
            "utf 8",
            "cp932",
            "gbk",
        ][..],
    )
}

/// Encodes text for a charset the way a mail client would (falling back to
/// UTF-8 bytes where Rust has no encoder: the reference then decodes them
/// with the declared charset, which is just as interesting).
fn encode(text: &str, cs: &str) -> Vec<u8> {
    match cs.to_ascii_lowercase().trim_matches(['\'', '"']) {
        "iso-8859-1" | "latin1" => text
            .chars()
            .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
            .collect(),
        "us-ascii" => text.bytes().filter(u8::is_ascii).collect(),
        "utf-16" => {
            let mut v = vec![0xff, 0xfe];
            for u in text.encode_utf16() {
                v.extend_from_slice(&u.to_le_bytes());
            }
            v
        }
        _ => text.as_bytes().to_vec(),
    }
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, c) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push('\n');
        }
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

fn qp(data: &[u8]) -> String {
    let mut out = String::new();
    let mut col = 0;
    for &b in data {
        let piece = if b == b'\n' {
            col = 0;
            out.push('\n');
            continue;
        } else if (33..=126).contains(&b) && b != b'=' || b == b' ' {
            (b as char).to_string()
        } else {
            format!("={b:02X}")
        };
        if col + piece.len() > 74 {
            out.push_str("=\n");
            col = 0;
        }
        col += piece.len();
        out.push_str(&piece);
    }
    out
}

#[derive(Debug, Clone)]
enum Part {
    Leaf {
        ctype: String,
        cs: Option<&'static str>,
        cte: u8,
        body: String,
        html: bool,
    },
    Multi {
        subtype: &'static str,
        boundary: String,
        parts: Vec<Part>,
        close: bool,
    },
    Message(Box<Part>),
}

fn leaf() -> impl Strategy<Value = Part> {
    (
        prop::sample::select(
            &[
                "text/plain",
                "text/html",
                "TEXT/HTML",
                "text/enriched",
                "application/octet-stream",
                "image/png",
                "text",
                "text/ html",
            ][..],
        ),
        prop::option::of(charset()),
        0u8..4,
        text_body(),
    )
        .prop_map(|(ctype, cs, cte, body)| Part::Leaf {
            html: ctype.to_ascii_lowercase().ends_with("/html"),
            ctype: ctype.to_owned(),
            cs,
            cte,
            body,
        })
}

fn part() -> impl Strategy<Value = Part> {
    leaf().prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            (
                prop::sample::select(&["mixed", "alternative", "related", "digest"][..]),
                "[a-zA-Z0-9'()+_,./:=?-]{1,20}",
                prop::collection::vec(inner.clone(), 1..4),
                prop::bool::weighted(0.8),
            )
                .prop_map(|(subtype, boundary, parts, close)| Part::Multi {
                    subtype,
                    boundary,
                    parts,
                    close
                }),
            inner.prop_map(|p| Part::Message(Box::new(p))),
        ]
    })
}

fn render(p: &Part, out: &mut Vec<u8>) {
    match p {
        Part::Leaf {
            ctype,
            cs,
            cte,
            body,
            html,
        } => {
            let body = if *html {
                format!(
                    "<html><body><p>{}</p></body></html>",
                    body.replace('\n', "</p>\n<p>")
                )
            } else {
                body.clone()
            };
            let cs_param = cs.map(|c| format!("; charset={c}")).unwrap_or_default();
            out.extend_from_slice(format!("Content-Type: {ctype}{cs_param}\n").as_bytes());
            let bytes = encode(&body, cs.unwrap_or("utf-8"));
            match cte {
                1 => {
                    out.extend_from_slice(b"Content-Transfer-Encoding: base64\n\n");
                    out.extend_from_slice(b64(&bytes).as_bytes());
                }
                2 => {
                    out.extend_from_slice(b"Content-Transfer-Encoding: quoted-printable\n\n");
                    out.extend_from_slice(qp(&bytes).as_bytes());
                }
                3 => {
                    out.extend_from_slice(b"Content-Transfer-Encoding: 8bit\n\n");
                    out.extend_from_slice(&bytes);
                }
                _ => {
                    out.extend_from_slice(b"\n");
                    out.extend_from_slice(&bytes);
                }
            }
            out.push(b'\n');
        }
        Part::Multi {
            subtype,
            boundary,
            parts,
            close,
        } => {
            out.extend_from_slice(
                format!(
                    "Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\n\npreamble text\n"
                )
                .as_bytes(),
            );
            for sub in parts {
                out.extend_from_slice(format!("--{boundary}\n").as_bytes());
                render(sub, out);
            }
            if *close {
                out.extend_from_slice(format!("--{boundary}--\nepilogue\n").as_bytes());
            }
        }
        Part::Message(inner) => {
            out.extend_from_slice(b"Content-Type: message/rfc822\n\nSubject: inner\nFrom: a@b\n");
            render(inner, out);
        }
    }
}

/// A random message: headers, then a MIME tree; optionally with CRLF or CR
/// line ends and a little byte-level damage.
pub fn message() -> impl Strategy<Value = Vec<u8>> {
    (
        part(),
        0u8..3,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(p, ends, damage)| {
            let mut raw = b"From: a <a@example.org>\nSubject: test\nMIME-Version: 1.0\n".to_vec();
            render(&p, &mut raw);
            let mut raw: Vec<u8> = match ends {
                1 => raw
                    .iter()
                    .flat_map(|&b| {
                        if b == b'\n' {
                            vec![b'\r', b'\n']
                        } else {
                            vec![b]
                        }
                    })
                    .collect(),
                2 => raw
                    .iter()
                    .map(|&b| if b == b'\n' { b'\r' } else { b })
                    .collect(),
                _ => raw,
            };
            for (idx, byte) in damage {
                if !raw.is_empty() {
                    let i = idx.index(raw.len());
                    raw[i] = byte;
                }
            }
            raw
        })
}

/// The reference digests of `messages` (`None` where the reference
/// crashes), or `None` when the reference is not installed.
pub fn reference_digests(messages: &[Vec<u8>]) -> Option<Vec<Option<String>>> {
    let peer = pyzor_testkit::require_python_pyzor()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/digest_oracle.py");
    let mut child = Command::new(&peer.python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the digest oracle");
    let mut stdin = child.stdin.take().expect("stdin");
    let msgs = messages.to_vec();
    let writer = std::thread::spawn(move || {
        for m in &msgs {
            stdin
                .write_all(format!("{}\n", m.len()).as_bytes())
                .expect("write");
            stdin.write_all(m).expect("write");
        }
    });
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let out: Vec<Option<String>> = reader
        .lines()
        .map(|l| {
            let l = l.expect("oracle output");
            (!l.starts_with("ERROR")).then_some(l)
        })
        .collect();
    writer.join().expect("writer");
    let _ = child.wait();
    assert_eq!(
        out.len(),
        messages.len(),
        "oracle answered {} of {}",
        out.len(),
        messages.len()
    );
    Some(out)
}
