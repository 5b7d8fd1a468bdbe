//! A release build of the Payshift demo running in the background, killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::target_dir;

/// A running release build of the demo (under the target directory) and the URL it printed.
pub(crate) struct DemoProcess {
    child: Child,
    pub(crate) url: String,
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the demo in the `bench` profile (release optimizations with line tables, for
/// profiles), which the bench binaries share: one build of the dependencies for both. Its
/// binary lands in `release/` under the target directory, where [`DemoProcess::start`] looks.
pub(crate) fn build_for_bench() -> Result<()> {
    crate::cargo(&["build", "--profile", "bench", "-p", "payshift"], &[])
}

impl DemoProcess {
    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the demo on a free port with `args` and `env` (REDIS_URL is cleared unless given)
    /// and waits for its "listening on" line.
    pub(crate) fn start(args: &[&str], env: &[(&str, String)]) -> Result<Self> {
        let binary = target_dir().join("release/payshift");
        let mut cmd = Command::new(&binary);
        cmd.args(args)
            .env("PAYSHIFT_ADDR", "127.0.0.1:0")
            .env_remove("REDIS_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("payshift stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("payshift listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .context("payshift did not start")?;
        Ok(Self { child, url })
    }
}
