use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::super::resp::{self, Parsed};
use super::super::{Shared, State};
use super::{Target, answer};
use crate::config::RedisConfig;

/// A reader whose connection is no longer up (replaced by the watchdog, or lost by its
/// writer) holding whole replies is told to stop. It used to be told to go on, without the
/// reply being consumed: it parsed the same reply again, forever, never reaching the await
/// where its abort would land.
#[test]
fn a_reader_whose_connection_was_replaced_stops_at_its_next_reply() {
    let shared = Shared {
        state: Mutex::new(State::default()),
        target: Target::of(&RedisConfig::new("redis://127.0.0.1:1"))
            .unwrap()
            .unwrap(),
        watchdog: Notify::new(),
        coalesce: true,
    };
    // No connection is up: the reader of connection 1 holds two replies.
    let mut buf = BytesMut::from(&b"$1\r\nx\r\n$1\r\ny\r\n"[..]);
    let mut items = Vec::new();
    let Ok(Parsed::Reply(len, shape)) = resp::parse(&buf, &mut items) else {
        panic!("a whole reply");
    };
    assert!(
        answer(&shared, 1, &mut buf, len, (shape, &items)).is_err(),
        "the reader of a replaced connection goes on"
    );
}
