//! # pyzor-digest
//!
//! The Pyzor message digest, byte-identical to pyzor 1.1.2 (CPython 3.11,
//! Debian 12's build) on any input.
//!
//! ```
//! let raw = b"Subject: test\n\nTest1 client check Test2\n";
//! assert_eq!(pyzor_digest::predigest(raw), ["Test1clientcheckTest2"]);
//! assert_eq!(pyzor_digest::digest(raw).to_string(), "007d225a558ca49fba12bcd5287996b974fc3d30");
//! assert_eq!(pyzor_digest::digest(b"").to_string(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
//! ```
//!
//! The pipeline (see `ARCHITECTURE.md`): the MIME walk of CPython's `email`
//! package (compat32), transfer decoding with CPython's leniency, charset
//! decoding with Python's codec registry and tables, `html.parser` text
//! extraction, `str.splitlines()`, pyzor's normaliser, the 8-code-point
//! filter, the 20 %/60 % line selection, SHA-1.
//!
//! Every byte string gives a digest: no panic, and time and memory linear
//! in the input. Where the reference crashes on an input (a traceback and
//! no digest), this crate gives the digest of a documented sensible
//! reading instead (see the README's compatibility table).

// `unsafe` is denied but where a module allows it for one call, with its
// safety argument: the run-time switch to the AVX2 build of the line scan
// (`text::scan`; `block`'s tests call the AVX2 masks the same way), and
// bytes just found to be ASCII taken as a `str` without a second check
// (`utf8::ascii_str`).
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod block;
mod charset;
mod cte;
mod generated;
mod html;
mod mime;
mod params;
mod payload;
mod reuse;
mod strip;
mod swar;
mod text;
mod utf8;

use pyzor_core::Digest;
use sha1::{Digest as _, Sha1};

use crate::payload::{Payload, for_each_payload};
use crate::reuse::{recycle, trim};

/// The digest spec the reference uses: (percent offset, line count) pairs.
#[doc(hidden)]
pub const DIGEST_SPEC: [(usize, usize); 2] = [(20, 3), (60, 3)];

/// Messages with at most this many kept lines are hashed whole.
#[doc(hidden)]
pub const ATOMIC_NUM_LINES: usize = 4;

/// The digest of a raw message.
///
/// To digest many messages, [`Digester::digest`] reuses its buffers from
/// one to the next.
pub fn digest(raw: &[u8]) -> Digest {
    Digester::new().digest(raw)
}

/// The lines that enter the hash, in hashing order (a line may appear
/// twice), as `pyzor predigest` prints them.
pub fn predigest(raw: &[u8]) -> Vec<String> {
    Digester::new().predigest(raw)
}

/// Digests one message after another in the same working memory: the
/// buffers of the MIME walk and of the line scan are kept from one
/// message to the next instead of allocated for each, so that a message
/// costs few allocations. Gives exactly
/// what [`digest`] and [`predigest`] give; keep one per thread. A buffer
/// that a large message grew past [`Digester::KEEP`] bytes is let go
/// after it.
///
/// ```
/// let mut digester = pyzor_digest::Digester::new();
/// for raw in [&b"Subject: a\n\nTest1 client check Test2\n"[..], b""] {
///     assert_eq!(digester.digest(raw), pyzor_digest::digest(raw));
/// }
/// ```
#[derive(Debug, Default)]
pub struct Digester {
    mime: mime::Buffers,
    /// The node arena's room (empty between messages).
    nodes: Vec<mime::Node<'static>>,
    /// The line scan's buffers (empty between messages).
    spans: text::Spans,
    /// The held payloads' room (empty between messages).
    held: Vec<(Payload<'static>, usize)>,
}

impl Digester {
    /// The most bytes of room a buffer keeps for the next message (64 KiB).
    pub const KEEP: usize = 64 * 1024;

    /// A digester with no buffers yet.
    pub fn new() -> Digester {
        Digester::default()
    }

    /// The digest of a raw message (as [`digest`]).
    pub fn digest(&mut self, raw: &[u8]) -> Digest {
        let mut h = Sha1::new();
        self.for_each_selected(raw, |line| h.update(line));
        Digest(h.finalize().into())
    }

    /// The lines that enter the hash (as [`predigest`]).
    pub fn predigest(&mut self, raw: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        self.for_each_selected(raw, |line| {
            lines.push(String::from_utf8_lossy(line).into_owned())
        });
        lines
    }

    /// Calls `f` with each line that enters the hash (UTF-8), in hashing
    /// order. The kept lines are only located at first ([`text::Spans`]:
    /// most of a line is skipped once it is known to be kept); once their
    /// number is known, the selected ones are normalised again from their
    /// spans. Every payload with a kept line is held until then.
    fn for_each_selected(&mut self, raw: &[u8], mut f: impl FnMut(&[u8])) {
        let mut spans = std::mem::take(&mut self.spans);
        spans.reserve();
        // the payloads with kept lines, and the index of each one's first
        let mut held: Vec<(Payload<'_>, usize)> = recycle(std::mem::take(&mut self.held));
        held.reserve(4);
        let nodes = recycle(std::mem::take(&mut self.nodes));
        let nodes = for_each_payload(raw, &mut self.mime, nodes, |p| {
            let first = spans.len();
            text::collect_lines(&p.text, p.surrogates, &mut spans);
            if spans.len() > first {
                held.push((p, first));
            }
        });
        // the selected lines (at most 6): their payloads and spans
        let mut picked = [(0, 0, 0); 6];
        let mut count = 0;
        for i in selected_indices(spans.len()) {
            let k = held.partition_point(|&(_, first)| first <= i);
            let (s, e) = spans.get(i);
            if let Some(slot) = picked.get_mut(count) {
                *slot = (k.saturating_sub(1), s, e);
                count += 1;
            }
        }
        // normalised again, each alone: a span holds exactly its line (the
        // tests check it)
        let mut lines = spans.into_lines();
        for &(k, s, e) in &picked[..count] {
            if let Some((p, _)) = held.get(k) {
                let text = p.text.get(s..e).unwrap_or_default();
                text::collect_lines(text, p.surrogates, &mut lines);
            }
        }
        for j in 0..lines.len() {
            f(lines.get(j));
        }
        // the buffers, empty, for the next message
        self.spans = lines.into_spans();
        self.spans.trim(Self::KEEP);
        self.held = recycle(held);
        trim(&mut self.held, Self::KEEP);
        self.nodes = recycle(nodes);
        trim(&mut self.nodes, Self::KEEP);
        self.mime.trim(Self::KEEP);
    }
}

/// Every kept normalised line before the 20 %/60 % selection, in message
/// order (what the reference collects before `handle_pieced`), for
/// debugging, the tests and the fuzz target (not part of the API).
#[doc(hidden)]
pub fn normalized_lines(raw: &[u8]) -> Vec<String> {
    kept_lines(raw).to_vec()
}

fn kept_lines(raw: &[u8]) -> text::Lines {
    // Kept text is never longer than the payloads, which are seldom longer
    // than the message (decoding mostly shrinks text): one allocation, as
    // a rule. Each payload is normalised as soon as it is decoded, and
    // dropped.
    let mut lines = text::Lines::with_capacity(raw.len(), 64);
    for_each_payload(raw, &mut mime::Buffers::default(), Vec::new(), |p| {
        text::collect_lines(&p.text, p.surrogates, &mut lines)
    });
    lines
}

/// The indices `select` picks among `n` lines.
fn selected_indices(n: usize) -> impl Iterator<Item = usize> {
    let atomic = n <= ATOMIC_NUM_LINES;
    let all = (0..n).filter(move |_| atomic);
    let pieced = DIGEST_SPEC
        .iter()
        .flat_map(move |&(offset, length)| (0..length).map(move |i| offset * n / 100 + i))
        .filter(move |&i| !atomic && i < n);
    all.chain(pieced)
}

/// The SHA-1 of the concatenated lines (for the tests and the fuzz
/// target; not part of the API).
#[doc(hidden)]
pub fn digest_lines<S: AsRef<str>>(lines: &[S]) -> Digest {
    let mut h = Sha1::new();
    for l in lines {
        h.update(l.as_ref().as_bytes());
    }
    let out: [u8; 20] = h.finalize().into();
    Digest(out)
}

/// The reference's line selection: everything when there are at most 4
/// lines, otherwise 3 lines at 20 % and 3 at 60 % (indices may repeat);
/// for the tests and the fuzz target, not part of the API.
#[doc(hidden)]
pub fn select<S: Clone>(lines: Vec<S>) -> Vec<S> {
    selected_indices(lines.len())
        .map(|i| lines[i].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        assert_eq!(
            digest(b"").to_string(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        let raw = b"Subject: x\n\nTest1 client check Test2\n";
        assert_eq!(
            digest(raw).to_string(),
            "007d225a558ca49fba12bcd5287996b974fc3d30"
        );
    }

    #[test]
    fn a_digester_can_move_to_and_be_shared_with_other_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Digester>();
    }

    #[test]
    fn digester_keeps_its_room_but_not_a_large_one() {
        let mut d = Digester::new();
        let small =
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nline one of text\n--b--\n";
        d.digest(small);
        // the room of the first message is there for the next one
        let (nodes, spans) = (d.nodes.capacity(), d.spans.capacity());
        assert!(
            nodes >= 3 && spans.0 >= 64 && spans.1 >= 512,
            "{nodes} {spans:?}"
        );
        let ptr = d.nodes.as_ptr();
        assert_eq!(d.digest(small), digest(small));
        assert_eq!(d.nodes.as_ptr(), ptr, "the node arena was allocated again");
        // a message with many kept lines grows the spans past KEEP: let go
        let big: Vec<u8> = b"Subject: x\n\n"
            .iter()
            .chain(&b"a kept line\n".repeat(20_000))
            .copied()
            .collect();
        assert_eq!(d.digest(&big), digest(&big));
        let spans = d.spans.capacity();
        assert!(spans.0 * 16 <= Digester::KEEP, "{spans:?}");
        assert_eq!(d.digest(small), digest(small));
    }

    #[test]
    fn selection() {
        let n = |k: usize| (0..k).collect::<Vec<_>>();
        assert_eq!(select(n(4)), [0, 1, 2, 3]);
        assert_eq!(select(n(5)), [1, 2, 3, 3, 4]);
        assert_eq!(select(n(6)), [1, 2, 3, 3, 4, 5]);
        assert_eq!(select(n(7)), [1, 2, 3, 4, 5, 6]);
        assert_eq!(select(n(10)), [2, 3, 4, 6, 7, 8]);
        assert_eq!(select(n(100)), [20, 21, 22, 60, 61, 62]);
    }
}
