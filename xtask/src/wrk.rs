//! wrk, the HTTP load generator the end-to-end figures use: found (or installed from Debian's
//! packages), driven with a Lua script that picks a path per request and prints one
//! machine-readable summary line, and that line parsed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// One wrk run's summary.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct WrkRun {
    /// Completed requests.
    pub(crate) requests: u64,
    /// Requests per second over the run.
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Responses with a status of 400 or above.
    pub(crate) bad_status: u64,
    /// Connect, read, write errors and timeouts.
    pub(crate) socket_errors: u64,
}

/// The path (or path template) a run requests.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Paths {
    /// The same path every time.
    One(String),
    /// `template` with its `{}` replaced by a uniformly random id in `1..=max`.
    Random { template: String, max: u32 },
}

/// wrk's path: `wrk` on PATH, else installed with `apt-get install -y wrk` (saying so first).
pub(crate) fn ensure() -> Result<PathBuf> {
    if let Some(found) = which("wrk") {
        return Ok(found);
    }
    println!("wrk not found: installing it from Debian's packages (apt-get install -y wrk)");
    let status = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "wrk"])
        .status()
        .context("running apt-get (install wrk by hand: apt-get install wrk)")?;
    if !status.success() {
        bail!("apt-get install wrk failed ({status}); install wrk by hand and run again");
    }
    which("wrk").context("apt-get installed wrk but it is not on PATH")
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The Lua script for `paths`: a `request` function (also for a single path, so every run pays
/// the same generator cost as the ceiling it is compared with), per-thread seeds, and a `done`
/// that prints the summary line [`parse`] reads.
pub(crate) fn script(paths: &Paths) -> String {
    let (template, max) = match paths {
        Paths::One(p) => (p.replace('%', "%%"), 1),
        Paths::Random { template, max } => (template.replace('%', "%%").replace("{}", "%d"), *max),
    };
    format!(
        r#"local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
init = function(args)
  math.randomseed(os.time() * 7919 + (seed or 0))
end
request = function()
  return wrk.format("GET", string.format("{template}", math.random(1, {max})))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("STRATA_WRK requests=%d duration_us=%d p50_us=%.0f p99_us=%.0f status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
"#
    )
}

/// Reads the summary line the script's `done` printed.
pub(crate) fn parse(output: &str) -> Result<WrkRun> {
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix("STRATA_WRK "))
        .context("wrk printed no summary line (STRATA_WRK ...)")?;
    let field = |name: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("wrk summary without {name}: {line}"))?
            .parse::<f64>()
            .with_context(|| format!("wrk summary: {name} is not a number: {line}"))
    };
    let duration_us = field("duration_us")?;
    if duration_us <= 0.0 {
        bail!("wrk summary with a zero duration: {line}");
    }
    let requests = field("requests")?;
    let socket = field("connect")? + field("read")? + field("write")? + field("timeout")?;
    Ok(WrkRun {
        requests: requests as u64,
        rps: requests / (duration_us / 1e6),
        p50_ms: field("p50_us")? / 1e3,
        p99_ms: field("p99_us")? / 1e3,
        bad_status: field("status")? as u64,
        socket_errors: socket as u64,
    })
}

/// Runs wrk against `base` for `seconds` with `connections` over 2 threads.
pub(crate) fn run(
    wrk: &Path,
    base: &str,
    paths: &Paths,
    connections: usize,
    seconds: f64,
) -> Result<WrkRun> {
    let dir = tempfile::tempdir()?;
    let lua = dir.path().join("paths.lua");
    std::fs::write(&lua, script(paths))?;
    let out = Command::new(wrk)
        .args(["-t", "2", "-c", &connections.to_string()])
        .arg(format!("-d{}s", seconds.max(1.0).round()))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(&lua)
        .arg(base)
        .output()
        .with_context(|| format!("running {}", wrk.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&stdout)
}

/// The length of the body `base` + `path` answers (its `Content-Length`, else the bytes after
/// the head): one HTTP/1.1 GET, to size the static body an endpoint is compared with.
pub(crate) fn body_length(base: &str, path: &str) -> Result<usize> {
    use std::io::{Read, Write};
    let authority = base
        .strip_prefix("http://")
        .context("the demo's URL is not http://")?
        .trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(authority)
        .with_context(|| format!("connecting to {authority}"))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    head_and_body_length(&response).with_context(|| format!("GET {path}: no HTTP response"))
}

/// The body's length in a whole response: its `Content-Length`, else what follows the head.
fn head_and_body_length(response: &[u8]) -> Option<usize> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..end]).ok()?;
    let declared = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    Some(declared.unwrap_or(response.len() - end - 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Running 3s test @ http://127.0.0.1:4000\n  2 threads and 32 connections\n  \
        Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   512.00us  100.00us   \
        3.00ms   90.00%\n  150000 requests in 3.00s, 30.00MB read\nRequests/sec:  50000.00\n\
        STRATA_WRK requests=150000 duration_us=3000000 p50_us=480 p99_us=1900 status=3 connect=0 \
        read=1 write=0 timeout=2\n";

    #[test]
    fn the_summary_line_gives_rate_percentiles_and_errors() {
        let run = parse(OUTPUT).expect("parsed");
        assert_eq!(run.requests, 150_000);
        assert!((run.rps - 50_000.0).abs() < 1e-6, "{}", run.rps);
        assert!((run.p50_ms - 0.48).abs() < 1e-9);
        assert!((run.p99_ms - 1.9).abs() < 1e-9);
        assert_eq!(run.bad_status, 3);
        assert_eq!(run.socket_errors, 3);
    }

    #[test]
    fn output_without_the_summary_or_with_garbage_is_an_error() {
        let missing = parse("Requests/sec: 1000\n").expect_err("no line");
        assert!(missing.to_string().contains("STRATA_WRK"), "{missing}");
        let bad = OUTPUT.replace("p99_us=1900", "p99_us=x");
        let err = parse(&bad).expect_err("not a number");
        assert!(err.to_string().contains("p99_us"), "{err}");
        let zero = OUTPUT.replace("duration_us=3000000", "duration_us=0");
        assert!(parse(&zero).is_err());
    }

    #[test]
    fn the_body_length_is_the_declared_one_else_what_follows_the_head() {
        let declared = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(head_and_body_length(declared), Some(5));
        let undeclared = b"HTTP/1.1 200 OK\r\nx: y\r\n\r\nabc";
        assert_eq!(head_and_body_length(undeclared), Some(3));
        assert_eq!(head_and_body_length(b"garbage"), None);
    }

    #[test]
    fn the_script_requests_the_template_with_a_random_id() {
        let random = script(&Paths::Random {
            template: "/jobs/{}".into(),
            max: 2000,
        });
        assert!(
            random.contains(r#"string.format("/jobs/%d", math.random(1, 2000))"#),
            "{random}"
        );
        let one = script(&Paths::One("/jobs/42%".into()));
        assert!(
            one.contains(r#"string.format("/jobs/42%%", math.random(1, 1))"#),
            "{one}"
        );
        assert!(one.contains("STRATA_WRK requests=%d"));
    }
}
