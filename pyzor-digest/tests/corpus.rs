//! The digest, predigest and normalised lines of every message of the
//! project's corpus (the Apache-2.0 real messages and the synthetic edge
//! cases of `tests/data/corpus`) equal the reference's.

use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus")
}

/// Lines of a reference output file (missing file = no lines).
fn lines(path: &Path) -> Vec<String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .split_terminator('\n')
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    }
}

struct Case {
    name: String,
    /// The reference crashed: only the digest (CPython 3.13's) is known.
    crashed: bool,
    message: PathBuf,
    digest: String,
    predigest: PathBuf,
    normalized: PathBuf,
}

fn check(cases: &[Case]) {
    let mut failures = Vec::new();
    // one digester for every message, in corpus order: what it keeps from
    // one message must not change the next one's digest
    let mut digester = pyzor_digest::Digester::new();
    for c in cases {
        let raw =
            std::fs::read(&c.message).unwrap_or_else(|e| panic!("{}: {e}", c.message.display()));
        let got = pyzor_digest::digest(&raw).to_string();
        let reused = digester.digest(&raw).to_string();
        if reused != got {
            failures.push(format!(
                "{}: digest {got}, with the digester of the messages before {reused}",
                c.name
            ));
        }
        if got != c.digest {
            let want_lines = lines(&c.predigest);
            let got_lines = pyzor_digest::predigest(&raw);
            let first = want_lines
                .iter()
                .zip(got_lines.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(want_lines.len().min(got_lines.len()));
            failures.push(format!(
                "{}: digest {got}, reference {}; first differing predigest line {first}: ours {:?}, reference {:?}",
                c.name,
                c.digest,
                got_lines.get(first),
                want_lines.get(first)
            ));
            continue;
        }
        if c.crashed {
            continue;
        }
        let want_norm = lines(&c.normalized);
        if c.normalized.exists() && pyzor_digest::normalized_lines(&raw) != want_norm {
            failures.push(format!("{}: normalised lines differ", c.name));
        }
        if c.predigest.exists() && pyzor_digest::predigest(&raw) != lines(&c.predigest) {
            failures.push(format!("{}: predigest lines differ", c.name));
        }
        if c.predigest.exists() && digester.predigest(&raw) != lines(&c.predigest) {
            failures.push(format!(
                "{}: predigest lines differ with the digester of the messages before",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} messages differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn real_messages_match_the_reference() {
    let dir = corpus();
    let text = std::fs::read_to_string(dir.join("vectors.tsv")).unwrap();
    let cases: Vec<Case> = text
        .lines()
        .skip(1)
        .map(|l| {
            let (file, digest) = l.split_once('\t').unwrap();
            Case {
                name: file.to_owned(),
                crashed: false,
                message: dir.join("messages").join(file),
                digest: digest.to_owned(),
                predigest: dir.join("predigest").join(format!("{file}.txt")),
                normalized: dir.join("normalized").join(format!("{file}.txt")),
            }
        })
        .collect();
    assert!(cases.len() >= 150, "only {} vectors", cases.len());
    check(&cases);
}

#[test]
fn synthetic_edge_cases_match_the_reference() {
    let dir = corpus();
    let text = std::fs::read_to_string(dir.join("synthetic-vectors.tsv")).unwrap();
    let mut cases = Vec::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
    {
        let cols: Vec<&str> = l.split('\t').collect();
        let (file, digest, versions) = (cols[0], cols[1], cols[2]);
        // Where the reference crashes, the digest CPython 3.13.0 gives.
        let crashed = digest.starts_with("ERROR");
        let digest = if crashed {
            versions
                .split(',')
                .find_map(|v| v.strip_prefix("3.13.0="))
                .filter(|d| !d.starts_with("ERROR"))
                .unwrap_or_else(|| panic!("{file}: no reference digest"))
        } else {
            digest
        };
        cases.push(Case {
            name: file.to_owned(),
            crashed,
            message: dir.join("synthetic").join(file),
            digest: digest.to_owned(),
            predigest: dir.join("synthetic/predigest").join(format!("{file}.txt")),
            normalized: dir.join("synthetic/normalized").join(format!("{file}.txt")),
        });
    }
    assert!(cases.len() >= 60, "only {} synthetic vectors", cases.len());
    check(&cases);
}
