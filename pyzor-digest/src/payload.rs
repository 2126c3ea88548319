//! The payloads a digest is made of: every MIME node's payload string, in
//! walk order, decoded as pyzor's `digest_payloads` decodes it (text parts
//! by transfer encoding and charset, HTML to its text, other leaves by
//! their raw charset).

use std::borrow::Cow;

use crate::{charset, cte, html, mime, params, utf8};

/// A payload string and whether it may hold lone-surrogate stand-ins.
#[derive(Debug)]
pub(crate) struct Payload<'a> {
    pub(crate) text: Cow<'a, str>,
    pub(crate) surrogates: bool,
}

/// Calls `f` with the payload string of every MIME node, in walk order
/// (pyzor's `digest_payloads`). The walk runs in `bufs`, its nodes in
/// `nodes` (empty), which is given back.
pub(crate) fn for_each_payload<'r>(
    raw: &'r [u8],
    bufs: &mut mime::Buffers,
    nodes: Vec<mime::Node<'r>>,
    mut f: impl FnMut(Payload<'r>),
) -> Vec<mime::Node<'r>> {
    let nodes = mime::parse_into(raw, bufs, nodes);
    for node in &nodes {
        let (main, sub) = node.content_type();
        let body = node.payload(raw);
        if main == "text" {
            let cte = node.cte.as_deref().unwrap_or_default();
            let label = params::content_charset(node.content_type.as_deref());
            let payload = match body {
                Cow::Borrowed(b) => text_payload(b, cte, label.as_deref()),
                Cow::Owned(v) => text_payload(&v, cte, label.as_deref()).into_owned(),
            };
            if sub == "html" {
                f(Payload {
                    text: Cow::Owned(html::html_to_text(&payload.text)),
                    surrogates: payload.surrogates,
                });
            } else {
                f(payload);
            }
        } else if node.is_multipart() {
            // containers: their children are visited
        } else {
            f(raw_payload(node, body));
        }
    }
    nodes
}

impl Payload<'_> {
    fn into_owned(self) -> Payload<'static> {
        Payload {
            text: Cow::Owned(self.text.into_owned()),
            surrogates: self.surrogates,
        }
    }
}

/// A `text/*` node's payload: transfer decoding, then charset decoding
/// (borrowing the body when neither changes it).
pub(crate) fn text_payload<'a>(body: &'a [u8], cte: &str, label: Option<&str>) -> Payload<'a> {
    match cte::decode(cte, body) {
        Cow::Borrowed(b) => {
            let d = charset::decode_text_part(label, b);
            Payload {
                text: d.text,
                surrogates: d.surrogates,
            }
        }
        Cow::Owned(v) => {
            let d = charset::decode_text_part(label, &v);
            Payload {
                text: Cow::Owned(d.text.into_owned()),
                surrogates: d.surrogates,
            }
        }
    }
}

/// `Message.get_payload()` of a non-text leaf: the stored body; 8-bit
/// bytes decoded with the part's raw charset parameter (default ASCII)
/// and `replace`.
pub(crate) fn raw_payload<'a>(node: &mime::Node, body: Cow<'a, [u8]>) -> Payload<'a> {
    let ascii = match &body {
        Cow::Borrowed(b) => utf8::ascii_str(b).map(Cow::Borrowed),
        Cow::Owned(v) => utf8::ascii_str(v).map(|s| Cow::Owned(s.to_owned())),
    };
    if let Some(text) = ascii {
        return Payload {
            text,
            surrogates: false,
        };
    }
    // An RFC 2231 charset makes CPython 3.11 raise TypeError here (no
    // digest); like CPython 3.13 we use the decoded charset instead.
    let label = match params::raw_charset(node.content_type.as_deref()) {
        params::RawCharset::Label(l) => l,
        params::RawCharset::Extended => params::content_charset(node.content_type.as_deref())
            .map_or_else(|| "ascii".to_owned(), Cow::into_owned),
    };
    match charset::decode_label_cow(&label, &body, charset::Errors::Replace) {
        Ok(d) => Payload {
            text: Cow::Owned(d.text.into_owned()),
            surrogates: d.surrogates,
        },
        Err(_) => Payload {
            text: Cow::Owned(
                body.iter()
                    .map(|&b| if b < 0x80 { char::from(b) } else { '\u{fffd}' })
                    .collect(),
            ),
            surrogates: false,
        },
    }
}
