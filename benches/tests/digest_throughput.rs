//! digest-throughput, the in-process side of `scripts/bench-digest.sh`:
//! a fixed number of passes over real message files, and clear refusals
//! of bad arguments (which once fell back to the time budget silently).

use std::process::{Command, Output};

const TOOL: &str = env!("CARGO_BIN_EXE_digest-throughput");

fn run(args: &[&str]) -> Output {
    Command::new(TOOL).args(args).output().unwrap()
}

/// Two message files of the project's corpus.
fn messages() -> [String; 2] {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pyzor-digest/tests/data/corpus/synthetic"
    );
    [
        format!("{dir}/syn-14-latin1.eml"),
        format!("{dir}/syn-24-uuencode.eml"),
    ]
}

#[test]
fn passes_count_the_messages_exactly() {
    let [a, b] = messages();
    let size = std::fs::metadata(&a).unwrap().len() + std::fs::metadata(&b).unwrap().len();
    let out = run(&["--passes", "3", &a, &b]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("messages=6 "), "{text}");
    assert!(text.contains(&format!(" bytes={} ", 3 * size)), "{text}");
}

#[test]
fn bad_numbers_are_refused() {
    let [a, _] = messages();
    for (flag, value) in [
        ("--passes", "x"),
        ("--passes", "0"),
        ("--passes", "-2"),
        ("--seconds", "soon"),
        ("--seconds", "0"),
        ("--seconds", "nan"),
    ] {
        let out = run(&[flag, value, &a]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(&format!("{flag} {value}")), "{err}");
        assert!(out.stdout.is_empty(), "{flag} {value}: measured anyway");
    }
}

#[test]
fn no_readable_message_is_an_error() {
    let out = run(&["--passes", "1", "/nonexistent/message.eml"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/message.eml"), "{err}");
    assert!(err.contains("no message read"), "{err}");
}
