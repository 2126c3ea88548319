//! Every datagram captured between the reference client and the reference
//! pyzord (gdbm and redis engines) parses and re-serializes byte-identically,
//! both as a raw message and through the typed request/response.

use pyzor_core::{Message, Request, Response};

struct Capture {
    dir: String,
    bytes: Vec<u8>,
}

fn load(name: &str) -> Vec<Capture> {
    let path = format!("{}/tests/data/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let hex = v["hex"].as_str().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            Capture {
                dir: v["dir"].as_str().unwrap().to_owned(),
                bytes,
            }
        })
        .collect()
}

fn check_file(name: &str) {
    let caps = load(name);
    assert!(caps.len() >= 40, "{name}: only {} captures", caps.len());
    let mut typed_requests = 0;
    let mut typed_responses = 0;
    for cap in &caps {
        let text = std::str::from_utf8(&cap.bytes).unwrap();
        if text.is_empty() {
            // The empty datagram: it has no headers and nothing to re-serialize.
            assert!(Message::parse(text).is_empty());
            continue;
        }
        let msg = Message::parse(text);
        assert_eq!(
            msg.to_bytes(),
            cap.bytes,
            "{name}: raw round trip of {text:?}"
        );
        match cap.dir.as_str() {
            "c2s" => {
                // Complete requests (Op, Thread, PV, User, Time, Sig, known op,
                // valid digests) also round-trip through the typed form.
                let complete = ["Op", "Thread", "PV", "User", "Time", "Sig"]
                    .iter()
                    .all(|h| msg.contains(h));
                if let (true, Ok(req)) = (complete, Request::from_message(&msg)) {
                    let again = req.to_bytes();
                    if again != cap.bytes {
                        // Hand-built requests may order headers in a way no
                        // reference client does; the typed form writes the
                        // client's order, so compare header sets instead.
                        let mut a: Vec<&str> = text.lines().collect();
                        let again_text = String::from_utf8(again.clone()).unwrap();
                        let mut b: Vec<&str> = again_text.lines().collect();
                        a.sort_unstable();
                        b.sort_unstable();
                        assert_eq!(a, b, "{name}: typed round trip of {text:?}");
                        let re = Request::from_message(&Message::parse(&again_text)).unwrap();
                        assert_eq!(re, req);
                    } else {
                        typed_requests += 1;
                    }
                }
            }
            "s2c" => {
                let resp = Response::from_message(&msg).unwrap();
                assert_eq!(
                    resp.to_bytes(),
                    cap.bytes,
                    "{name}: typed round trip of {text:?}"
                );
                typed_responses += 1;
            }
            other => panic!("unknown direction {other}"),
        }
    }
    assert!(
        typed_requests >= 15,
        "{name}: {typed_requests} typed requests"
    );
    assert_eq!(
        typed_responses,
        caps.len() / 2,
        "{name}: every reply is typed"
    );
}

#[test]
fn gdbm_captures_round_trip() {
    check_file("pyzord-gdbm.jsonl");
}

#[test]
fn redis_captures_round_trip() {
    check_file("pyzord-redis.jsonl");
}
