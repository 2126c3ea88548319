//! Property tests: codec round trips, typed round trips with signatures, and
//! "parsing never panics" on arbitrary bytes.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use pyzor_core::{
    Account, Counts, Digest, InfoTimes, Message, Op, Request, Response, ThreadId, auth,
};

fn op() -> impl Strategy<Value = Op> {
    prop::sample::select(Op::ALL.to_vec())
}

fn digest() -> impl Strategy<Value = Digest> {
    any::<[u8; 20]>().prop_map(Digest)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        pyzor_core::fuzzing::codec_roundtrip(&data);
    }

    #[test]
    fn header_like_text_round_trips(lines in proptest::collection::vec("[A-Za-z-]{1,8}:[ \t]{0,2}[ -~]{0,20}(\r?\n[ \t][ -~]{0,10})?", 0..10)) {
        let text = lines.join("\n") + "\n\n";
        pyzor_core::fuzzing::codec_roundtrip(text.as_bytes());
        let m = Message::parse(&text);
        prop_assert_eq!(m.len(), lines.len());
    }

    #[test]
    fn signed_requests_round_trip_and_verify(
        op in op(),
        digests in proptest::collection::vec(digest(), 0..6),
        thread in 1024u16..,
        user in "[a-z][a-z0-9._-]{0,10}",
        key in "[0-9a-fA-F]{0,40}",
        time in 0i64..4_000_000_000,
    ) {
        let account = Account { user, salt: String::new(), key: key.clone() };
        let mut req = Request::new(op, digests, ThreadId(thread));
        req.sign(&account, time);
        let bytes = req.to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        let msg = Message::parse(text);
        prop_assert_eq!(Request::from_message(&msg).unwrap(), req);
        let now = UNIX_EPOCH + Duration::from_secs(time as u64);
        prop_assert!(auth::verify(&msg, &key, now).is_ok());
        let wrong_key = format!("{key}0");
        prop_assert!(auth::verify(&msg, &wrong_key, now).is_err());
    }

    #[test]
    fn responses_round_trip(
        code in 100u16..600,
        diag in "[ -~]{0,60}",
        thread in "[0-9a-z]{0,8}",
        counts in proptest::option::of((any::<i64>(), any::<i64>())),
        times in proptest::option::of(any::<[i64; 4]>()),
    ) {
        let diag = diag.trim_start().to_owned();
        let mut r = Response::ok(thread.clone());
        r.code = pyzor_core::Code(code);
        r.diag = diag.into();
        if let Some((count, wl_count)) = counts {
            r = r.with_counts(Counts { count, wl_count });
        }
        if let (Some(t), Some(c)) = (times, r.counts) {
            r = r.with_info(c, InfoTimes { entered: t[0], updated: t[1], wl_entered: t[2], wl_updated: t[3] });
        }
        let bytes = r.to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        let back = Response::from_message(&Message::parse(text)).unwrap();
        prop_assert_eq!(back.into_owned(), r.into_owned());
    }
}
