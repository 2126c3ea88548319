//! Properties checked by the fuzz targets in `fuzz/` and replayed over their
//! corpora by the ordinary test suite. Not part of the stable API.

use crate::{Message, Request, Response, check_protocol_version, server_text};

/// Decode → encode → decode over arbitrary bytes: parsing never panics,
/// re-parsing the serialized form gives the same headers, and the typed
/// views agree with their own serialization.
pub fn codec_roundtrip(data: &[u8]) {
    let text = server_text(data);
    let msg = Message::parse(&text);
    let bytes = msg.to_bytes();
    assert_eq!(bytes.len(), msg.encoded_len());
    let again_text = std::str::from_utf8(&bytes).expect("serialized text is UTF-8");
    let again = Message::parse(again_text);
    assert_eq!(msg, again, "decode(encode(decode(x))) != decode(x)");

    let _ = check_protocol_version(msg.get("PV"));
    if let Ok(req) = Request::from_message(&msg) {
        let out = req.to_bytes();
        let out_text = std::str::from_utf8(&out).expect("UTF-8");
        let back = Request::from_message(&Message::parse(out_text)).expect("re-read typed request");
        assert_eq!(back, req);
    }
    if let Ok(resp) = Response::from_message(&msg) {
        let out = resp.to_bytes();
        let out_text = std::str::from_utf8(&out).expect("UTF-8");
        let back =
            Response::from_message(&Message::parse(out_text)).expect("re-read typed response");
        assert_eq!(back.code, resp.code);
        assert_eq!(back.counts, resp.counts);
        assert_eq!(back.info, resp.info);
    }
}
