//! Cache operations are `tracing` spans with kind, key, tier and outcome, so an OpenTelemetry
//! (or any) subscriber sees a load, its L2 read and a change as spans of the request.

use strata::{CacheBuilder, Rules, Target};
use tracing_subscriber::fmt::format::FmtSpan;

use crate::common::Captured;

#[tokio::test]
async fn loads_l2_reads_and_changes_are_spans_with_their_outcome() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let cache = CacheBuilder::new()
        .prefix("tr")
        .metrics(false)
        .l1(false)
        .build()
        .await
        .unwrap();
    let jobs = cache.kind::<u32>("job").unwrap();
    jobs.get_or_load(7, || async { Ok::<_, String>(1) })
        .await
        .unwrap();
    jobs.get_or_load(7, || async { Ok::<_, String>(2) })
        .await
        .unwrap();
    assert_eq!(jobs.get(7).await.unwrap().as_deref(), Some(&1));
    let rules = Rules::new().on("job", |id| vec![Target::key("job", id)]);
    cache.invalidate(&rules, "job", 7).await.unwrap();

    let text = logs.text();
    let closed = |name: &str, needles: &[&str]| {
        text.lines().any(|l| {
            l.contains(name) && l.contains("close") && needles.iter().all(|n| l.contains(n))
        })
    };
    assert!(
        closed(
            "strata.load",
            &["kind=\"job\"", "key=tr:v1:job:s1:7", "outcome=\"loaded\""]
        ),
        "{text}"
    );
    assert!(closed("strata.load", &["outcome=\"hit\""]), "{text}");
    assert!(
        closed("strata.l2.get", &["tier=\"l2\"", "outcome=\"hit\""]),
        "{text}"
    );
    assert!(
        closed("strata.invalidate", &["change=\"job\"", "id=\"7\""]),
        "{text}"
    );
}
