//! Running one test of a test binary in a process of its own.

/// The environment variable that tells a child started by [`in_own_process`] which test it runs.
const OWN_PROCESS_ENV: &str = "STRATA_TEST_OWN_PROCESS";

/// Runs the test `name` (its path in this binary, `module::test_fn`) in a process of its own,
/// for a test that changes or measures the whole process (environment variables, the working
/// directory, resident memory, the global `metrics` recorder) while the binary's other tests
/// run as threads beside it. In the test process: re-runs this binary with just that test,
/// asserts that the child ran it and passed, and returns false (the caller returns). In the
/// child: returns true, and the caller runs the body.
pub fn in_own_process(name: &str) -> bool {
    if std::env::var(OWN_PROCESS_ENV).is_ok_and(|n| n == name) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1"])
        .env(OWN_PROCESS_ENV, name)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains(&format!("test {name} ... ok")),
        "{name} in its own process: {}\n{stdout}\n{stderr}",
        out.status
    );
    false
}
