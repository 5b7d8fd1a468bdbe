//! Conformance case of batches: every step's result comes back under its own handle.

use strata_backend::batch::{Batch, Family, LeaseOutcome, LeaseRequest, LeaseWhen};

use super::{Fixture, LONG};

/// A batch that mixes every kind of step answers each under the handle its step returned, of
/// the step's type; reads see the writes before them; a lease asked for an absent entry is
/// taken and guards a write under it; an empty batch answers nothing.
pub async fn batches_answer_each_step_by_its_handle(fx: &dyn Fixture) {
    let b = fx.backend("conf:batch:").await;
    let caps = b.capabilities();
    assert_eq!(caps.leases, b.as_leases().is_some(), "{caps:?}");
    assert_eq!(caps.version_counters, b.as_version_counters().is_some());
    assert_eq!(caps.listing, b.as_listing().is_some());

    let mut batch = Batch::new();
    let written = batch.write("conf:batch:a", "1".into(), LONG);
    let read = batch.read("conf:batch:a", None);
    let absent = batch.read(
        "conf:batch:b",
        Some(LeaseRequest::new("tok", LONG, LeaseWhen::Absent)),
    );
    let present = batch.read(
        "conf:batch:a",
        Some(LeaseRequest::new("tok2", LONG, LeaseWhen::Absent)),
    );
    let deleted = batch.delete(vec!["conf:batch:a".into(), "conf:batch:none".into()]);
    let done = b.run(batch).await.unwrap();
    assert!(done.get(written));
    let read = done.get(read);
    assert_eq!(read.value.as_deref(), Some(&b"1"[..]));
    assert_eq!(read.lease, LeaseOutcome::NotTaken, "no lease was asked for");
    let absent = done.get(absent);
    assert_eq!(absent.value, None);
    let expected = if caps.leases {
        LeaseOutcome::Taken
    } else {
        LeaseOutcome::Unavailable
    };
    assert_eq!(absent.lease, expected, "the lease of an absent entry");
    let present = done.get(present);
    assert_eq!(present.lease, LeaseOutcome::NotTaken, "the entry was there");
    assert_eq!(done.get(deleted), 1, "one of the two keys existed");

    // The lease taken above guards a write under it; another token's write is refused.
    let mut batch = Batch::new();
    let other = batch.write_under_lease("conf:batch:b", "other", "x".into(), LONG);
    let mine = batch.write_under_lease("conf:batch:b", "tok", "y".into(), LONG);
    let read = batch.read("conf:batch:b", None);
    let done = b.run(batch).await.unwrap();
    if caps.leases {
        assert!(!done.get(other), "not the holder's token");
        assert!(done.get(mine), "the holder's token");
        assert_eq!(done.get(read).value.as_deref(), Some(&b"y"[..]));
    }

    if caps.version_counters {
        let mut batch = Batch::new();
        let bumped = batch.bump("conf:batch:v".into(), 10, None, None);
        let versions = batch.versions(vec!["conf:batch:v".into(), "conf:batch:w".into()], 7, None);
        let registered = batch.register("conf:batch:reg".into(), "s1".into());
        let family = batch.delete_family(Family::new(
            "conf:batch:reg",
            "conf:batch:f:",
            ":x",
            vec!["s2".into()],
        ));
        let done = b.run(batch).await.unwrap();
        assert_eq!(done.get(bumped), 10);
        assert_eq!(done.get(versions), vec![10, 7]);
        let () = done.get(registered);
        let family = done.get(family);
        assert!(
            family.keys.contains(&"conf:batch:f:s2:x".to_owned()),
            "{family:?}"
        );
    }

    let done = b.run(Batch::new()).await.unwrap();
    drop(done);
}
