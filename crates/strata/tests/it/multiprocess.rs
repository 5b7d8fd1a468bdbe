//! Cross-process single flight with real OS processes: 4 processes x 250 concurrent callers on
//! one cold key load it once (the backend lease), and all get the value; a lease holder killed
//! with SIGKILL blocks the others only until its lease expires.

use std::path::PathBuf;
use std::process::Command;

fn example_binary() -> PathBuf {
    // target/<profile>/deps/it-… → target/<profile>/examples/single_flight_process
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    dir.join("examples").join(format!(
        "single_flight_process{}",
        std::env::consts::EXE_SUFFIX
    ))
}

#[test]
fn four_processes_share_one_load() {
    let Some(server) = strata_testkit::redis_or_skip("multi-process single flight") else {
        return;
    };
    let bin = example_binary();
    assert!(
        bin.exists(),
        "{} is missing: `cargo test` builds the examples",
        bin.display()
    );
    // Start the four together so that their callers race for the same cold key.
    let mut procs: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&bin)
                .args([server.url().as_str(), "sf-test:loads", "250"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for p in procs.iter_mut() {
        let status = p.wait().unwrap();
        assert!(status.success(), "a process failed");
    }
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let loads: i64 = redis::cmd("GET")
        .arg("sf-test:loads")
        .query(&mut conn)
        .unwrap();
    assert_eq!(loads, 1, "4 processes x 250 callers, one load");
}

#[test]
fn a_killed_lease_holder_blocks_others_only_until_its_lease_expires() {
    let Some(server) = strata_testkit::redis_or_skip("killed lease holder") else {
        return;
    };
    let bin = example_binary();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    // The holder: one caller, a 60 s load, a 2 s hard timeout (so a 2.5 s lease).
    let mut holder = Command::new(&bin)
        .args([server.url().as_str(), "sf-kill:loads", "1", "60000", "2000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let loads: Option<i64> = redis::cmd("GET")
            .arg("sf-kill:loads")
            .query(&mut conn)
            .unwrap();
        if loads == Some(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the holder never started loading"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    holder.kill().unwrap(); // SIGKILL: it never stores and never releases the lease
    holder.wait().unwrap();
    let killed = std::time::Instant::now();
    let out = Command::new(&bin)
        .args([server.url().as_str(), "sf-kill:loads", "20", "100", "2000"])
        .output()
        .unwrap();
    let waited = killed.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let loads: i64 = redis::cmd("GET")
        .arg("sf-kill:loads")
        .query(&mut conn)
        .unwrap();
    assert_eq!(loads, 2, "the dead holder's load and one more");
    assert!(
        waited < std::time::Duration::from_secs(8),
        "loaded after the 2.5 s lease, not after the 10 s wait bound ({waited:?})"
    );
}
