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

/// Every configuration file parser over the same arbitrary text: the
/// servers, accounts, passwd and access files and the ini `config` with
/// both sections resolved. None panics; every skipped line they report is
/// a line of the text; a server that parsed prints as something that
/// parses back to it; the ACL answers for every user it names.
pub fn config_files(data: &[u8]) {
    use std::path::Path;

    use crate::files::access::Acl;
    use crate::files::accounts::Accounts;
    use crate::files::ini::Ini;
    use crate::files::passwd::Passwd;
    use crate::files::servers::{ServerAddr, parse_servers};
    use crate::files::settings::{ClientSettings, ServerSettings};

    let text = String::from_utf8_lossy(data);
    // lines as Python's text-mode iteration makes them (universal
    // newlines: \n, \r, \r\n), as the parsers number them
    let lines = crate::files::py_lines(&text).count().max(1);
    let within = |errors: &[crate::files::LineError]| {
        for e in errors {
            assert!(e.line <= lines, "{e} past the {lines} lines");
        }
    };

    let servers = parse_servers(Path::new("servers"), &text);
    within(&servers.skipped);
    for s in &servers.value {
        assert_eq!(ServerAddr::parse(&s.to_string()).as_ref(), Ok(s), "{s}");
    }
    let accounts = Accounts::parse(Path::new("accounts"), &text);
    within(&accounts.skipped);
    for s in &servers.value {
        let _ = accounts.value.for_server(s);
    }
    let passwd = Passwd::parse(Path::new("pyzord.passwd"), &text);
    within(&passwd.skipped);
    let acl = Acl::parse(Path::new("pyzord.access"), &text, &passwd.value);
    within(&acl.skipped);
    for user in acl.value.users() {
        for op in [
            "check",
            "report",
            "whitelist",
            "info",
            "ping",
            "pong",
            "nuke",
        ] {
            let _ = acl.value.allows(user, Some(op));
        }
    }
    let _ = acl.value.allows("anonymous", None);
    match Ini::parse(Path::new("config"), &text) {
        Ok(ini) => {
            let home = Path::new("/home/fuzz");
            let config = Path::new("/home/fuzz/.pyzor/config");
            let _ = ClientSettings::resolve(home, Some(home), config, Some(&ini), &[]);
            let _ = ServerSettings::resolve(home, Some(home), config, Some(&ini), &[]);
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            within(&errors);
        }
    }
}
