//! A connection of the read line replaced while its reader holds replies: every task of the
//! line ends.

use std::time::Duration;

use futures::future::join_all;
use strata_backend::{Backend, ErrorKind};
use strata_redis::RedisBackend;

use super::{config, key};
use crate::coalesce::direct;

/// A connection replaced (its oldest read late) while its reader still holds replies: the
/// reader stops. It used to skip such a reply without consuming it, and since nothing awaits
/// between two replies in its buffer (where an abort would land) it spun on it forever, a
/// worker thread lost. Rounds of 1,000 pipelined reads of 20 KiB, each round's timeout a
/// millisecond longer, make the watchdog replace a connection in the middle of its replies;
/// after each round every task of the line must end. A race: four workers (more than the
/// cores of a small machine, so that the reader is often preempted in the middle of its
/// replies) caught the spin in 13 runs of 14 on 2 cores. A runtime of its own: its tasks are
/// counted, and a spinning one cannot hang its shutdown.
#[test]
fn a_connection_replaced_amid_its_replies_leaves_no_task_behind() {
    let Some(server) = strata_testkit::redis_or_skip("read line: replaced amid replies") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let (left, timeouts) = rt.block_on(replace_amid_replies(&server));
    rt.shutdown_timeout(Duration::from_secs(1));
    assert_eq!(left, 0, "tasks of the line left running");
    assert!(
        timeouts > 0,
        "no read timed out: no connection was replaced"
    );
}

/// The rounds of the test above: the tasks left after a round (its backend dropped; the
/// rounds stop there, so that a second spinning task does not take the last worker), and the
/// reads that timed out.
async fn replace_amid_replies(server: &strata_testkit::RedisServer) -> (usize, usize) {
    const READS: usize = 1000;
    let value = vec![7u8; 20 << 10];
    let mut pipe = redis::pipe();
    for i in 0..READS {
        pipe.cmd("SET").arg(key(i)).arg(&value).ignore();
    }
    let _: () = pipe.query_async(&mut direct(server).await).await.unwrap();
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let before = alive();
    let mut timeouts = 0;
    for ms in 1..=40 {
        let config = config(server.url()).with_coalesce_reads(false);
        let timeout = Duration::from_millis(ms);
        let b = RedisBackend::connect_lazy(config.with_operation_timeout(timeout)).unwrap();
        let got = join_all((0..READS).map(|i| {
            let b = &b;
            async move { b.get(&key(i)).await }
        }))
        .await;
        drop(b);
        for r in got {
            match r {
                Ok(v) => assert_eq!(v.map(|v| v.len()), Some(value.len())),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
                    timeouts += 1;
                }
            }
        }
        // The line's tasks end once aborted (at their next await).
        for _ in 0..500 {
            if alive() <= before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if alive() > before {
            break;
        }
    }
    (alive().saturating_sub(before), timeouts)
}
