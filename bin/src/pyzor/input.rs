//! The message-reading styles: `msg`, `mbox`, `digests`.

use std::io::Read;

use pyzor_core::files::settings::Style;

/// Splits an mbox the way Python's `mailbox.mbox` does: every line starting
/// with `From ` begins a message (even without a blank line before it);
/// text before the first one is ignored; a message ends before the next
/// `From ` line, without the blank line that precedes it. Each message is
/// returned without its `From ` line.
///
/// The `From ` lines are found with one vectorised substring search for
/// `\nFrom ` (a line-by-line scan took a fifth of `pyzor -s mbox digest`).
pub fn split_mbox(data: &[u8]) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = Vec::new();
    if data.starts_with(b"From ") {
        starts.push(0);
    }
    starts.extend(memchr::memmem::find_iter(data, b"\nFrom ").map(|i| i + 1));
    // the line before `at` (which follows a newline) is an empty line
    let after_empty_line = |at: usize| at >= 2 && data[at - 2] == b'\n';
    starts
        .iter()
        .enumerate()
        .map(|(k, &start)| {
            let end = starts.get(k + 1).copied().unwrap_or(data.len());
            let ends_line = end == data.len() && data.last() == Some(&b'\n') || end < data.len();
            let stop = if ends_line && after_empty_line(end) {
                end - 1
            } else {
                end
            };
            // skip the From line itself
            let body_start =
                memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i + 1);
            &data[body_start.min(stop.max(body_start))..stop.max(body_start)]
        })
        .collect()
}

/// The bytes an mbox is read by, at a time: the buffer that holds one such
/// read plus the message under way stays in the CPU's cache, where reading
/// a large mbox whole spent as long in page faults and copies into a cold
/// buffer as in digesting it.
const MBOX_CHUNK: usize = 256 << 10;

/// The digests of the mbox read from `r`, message by message: the same as
/// [`split_mbox`] over the whole input then digested, with a buffer of one
/// read plus the message being read rather than the whole input.
pub fn mbox_digests(r: &mut dyn Read) -> std::io::Result<Vec<String>> {
    mbox_digests_by(r, MBOX_CHUNK)
}

fn mbox_digests_by(r: &mut dyn Read, chunk: usize) -> std::io::Result<Vec<String>> {
    let mut digester = pyzor_digest::Digester::new();
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // the bytes already searched for a `From ` line (none is in them)
        let searched = buf.len();
        if r.take(chunk as u64).read_to_end(&mut buf)? == 0 {
            break;
        }
        // Everything before the last `From ` line start is whole messages
        // (and, at first, the text before the first one). Each piece split
        // begins at a `From ` line, which is where split_mbox begins a
        // message and ends the one before, so the pieces split as the whole
        // input would.
        let from = searched.saturating_sub(b"\nFrom ".len() - 1);
        if let Some(i) = memchr::memmem::rfind(&buf[from..], b"\nFrom ") {
            let cut = from + i + 1;
            out.extend(
                split_mbox(&buf[..cut])
                    .into_iter()
                    .map(|m| digester.digest(m).to_string()),
            );
            buf.drain(..cut);
        }
    }
    out.extend(
        split_mbox(&buf)
            .into_iter()
            .map(|m| digester.digest(m).to_string()),
    );
    Ok(out)
}

/// The digests of the input in a style, as hex strings: computed for `msg`
/// and `mbox`, the trimmed non-empty lines for `digests` (not validated
/// here, as in the reference).
pub fn digests(style: Style, input: &[u8]) -> Vec<String> {
    match style {
        Style::Msg => vec![pyzor_digest::digest(input).to_string()],
        Style::Mbox => {
            let mut digester = pyzor_digest::Digester::new();
            split_mbox(input)
                .into_iter()
                .map(|m| digester.digest(m).to_string())
                .collect()
        }
        Style::Digests => String::from_utf8_lossy(input)
            .split_inclusive('\n')
            .map(|l| pyzor_core::pycompat::py_strip(l).to_owned())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The line-by-line split [`split_mbox`] must agree with: every line starting
    /// with `From ` begins a message (even without a blank line before it);
    /// text before the first one is ignored; a message ends before the next
    /// `From ` line, without the blank line that precedes it. Each message is
    /// returned without its `From ` line.
    fn split_mbox_by_lines(data: &[u8]) -> Vec<&[u8]> {
        let mut starts: Vec<usize> = Vec::new();
        let mut stops: Vec<usize> = Vec::new();
        let mut last_was_empty = false;
        let mut pos = 0;
        loop {
            let line_pos = pos;
            if pos >= data.len() {
                stops.push(if last_was_empty && line_pos > 0 {
                    line_pos - 1
                } else {
                    line_pos
                });
                break;
            }
            let end = data[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(data.len(), |i| pos + i + 1);
            let line = &data[pos..end];
            pos = end;
            if line.starts_with(b"From ") {
                if stops.len() < starts.len() {
                    stops.push(if last_was_empty {
                        line_pos - 1
                    } else {
                        line_pos
                    });
                }
                starts.push(line_pos);
                last_was_empty = false;
            } else {
                last_was_empty = line == b"\n";
            }
        }
        starts
            .iter()
            .zip(&stops)
            .map(|(&start, &stop)| {
                // skip the From line itself
                let body_start = data[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(data.len(), |i| start + i + 1);
                &data[body_start.min(stop.max(body_start))..stop.max(body_start)]
            })
            .collect()
    }

    proptest! {
        /// Any text made of mbox-like pieces splits the same way as line
        /// by line.
        #[test]
        fn split_agrees_with_the_line_scan(pieces in proptest::collection::vec(
            prop_oneof![
                Just(&b"From "[..]), Just(&b"\n"[..]), Just(&b"x"[..]),
                Just(&b">From "[..]), Just(&b"\r\n"[..]), Just(&b"From x\n"[..]),
            ],
            0..40,
        )) {
            let data: Vec<u8> = pieces.concat();
            prop_assert_eq!(split_mbox(&data), split_mbox_by_lines(&data));
        }
    }

    proptest! {
        /// Read in chunks of any size, an mbox gives the digests of the
        /// whole input split at once.
        #[test]
        fn mbox_read_in_chunks_digests_alike(
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just(&b"From "[..]), Just(&b"\n"[..]), Just(&b"x"[..]),
                    Just(&b">From "[..]), Just(&b"\r\n"[..]), Just(&b"From x\n"[..]),
                    Just(&b"Subject: s\n\nbody\n"[..]),
                ],
                0..60,
            ),
            chunk in 1usize..24,
        ) {
            let data: Vec<u8> = pieces.concat();
            let streamed = mbox_digests_by(&mut &data[..], chunk).unwrap();
            prop_assert_eq!(streamed, digests(Style::Mbox, &data));
        }
    }

    #[test]
    fn mbox_like_python() {
        let m = b"junk\nFrom a@b Mon\nSubject: 1\n\nbody one\n\nFrom c@d Tue\nSubject: 2\n\nbody two\nFrom e@f\nx\n";
        let msgs = split_mbox(m);
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0], b"Subject: 1\n\nbody one\n");
        assert_eq!(msgs[1], b"Subject: 2\n\nbody two\n");
        assert_eq!(msgs[2], b"x\n");
        assert!(split_mbox(b"").is_empty());
        assert!(split_mbox(b"no from line\n").is_empty());
        assert_eq!(split_mbox(b"From x\n"), [b"" as &[u8]]);
    }

    #[test]
    fn digests_style() {
        assert_eq!(digests(Style::Digests, b" abc \n\nxyz"), ["abc", "", "xyz"]);
        assert_eq!(
            digests(Style::Msg, b""),
            ["da39a3ee5e6b4b0d3255bfef95601890afd80709"]
        );
    }
}
