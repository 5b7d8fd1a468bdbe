//! Shared helpers of the demo's tests: the real binary on a free port.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

pub const TOKEN: &str = "e2e-token";

pub struct Demo {
    child: Child,
    pub url: String,
    /// What the demo printed on stdout up to and including its dashboard line.
    banner: Vec<String>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    pub fn start(db: &Path, redis: Option<&str>, extra_env: &[(&str, &str)]) -> Demo {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_payshift"));
        cmd.args(["--seed-scale", "0.05"])
            .env("PAYSHIFT_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("STRATA_ADMIN_TOKEN", TOKEN)
            .env_remove("REDIS_URL")
            .current_dir(db.parent().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = redis {
            cmd.env("REDIS_URL", url);
        }
        // An empty value removes the variable (STRATA_ADMIN_TOKEN included).
        for (k, v) in extra_env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut banner = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let last = line.starts_with("dashboard: ");
                banner.push(line);
                if last {
                    let _ = tx.send(std::mem::take(&mut banner));
                }
            }
        });
        let banner = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("payshift started");
        let url = banner
            .iter()
            .find_map(|l| l.strip_prefix("payshift listening on "))
            .expect("the banner names the address")
            .to_owned();
        Demo { child, url, banner }
    }

    /// The process id (to stop and resume the instance).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// The start banner's lines.
    pub fn banner(&self) -> &[String] {
        &self.banner
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{path}", self.url)).await.unwrap()
    }

    pub async fn json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub async fn stats(&self) -> Value {
        reqwest::Client::new()
            .get(format!("{}/core/monitoring/cache-stats/", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

pub fn x_cache(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
