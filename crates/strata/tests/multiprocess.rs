//! Cross-process single flight with real OS processes: 4 processes x 250 concurrent callers on
//! one cold key load it once (the backend lease), and all get the value.

use std::path::PathBuf;
use std::process::Command;

fn example_binary() -> PathBuf {
    // target/<profile>/deps/multiprocess-… → target/<profile>/examples/single_flight_process
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
