//! The message-reading styles: `msg`, `mbox`, `digests`.

use pyzor_core::files::settings::Style;

/// Splits an mbox the way Python's `mailbox.mbox` does: every line starting
/// with `From ` begins a message (even without a blank line before it);
/// text before the first one is ignored; a message ends before the next
/// `From ` line, without the blank line that precedes it. Each message is
/// returned without its `From ` line.
pub fn split_mbox(data: &[u8]) -> Vec<&[u8]> {
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
