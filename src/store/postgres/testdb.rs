//! A throwaway PostgreSQL server for tests: a new cluster in a temporary directory on a free
//! loopback port, run as the `postgres` user (`initdb` refuses root), stopped and removed when
//! dropped — also when the test fails. Needs Debian's `postgresql` and `postgresql-contrib`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian installs the server's programs.
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running throwaway server.
pub struct TestDb {
    dir: PathBuf,
    port: u16,
}

fn as_postgres(cmd: &str) -> std::process::Output {
    let (program, args): (&str, Vec<&str>) = if is_root() {
        ("su", vec!["postgres", "-s", "/bin/sh", "-c", cmd])
    } else {
        ("sh", vec!["-c", cmd])
    };
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl TestDb {
    /// Starts a server (about three seconds). Panics with what to install when PostgreSQL is
    /// missing.
    pub fn start() -> TestDb {
        assert!(
            Path::new(BIN).join("initdb").exists(),
            "the PostgreSQL tests need Debian's postgresql and postgresql-contrib \
             (apt-get install -y postgresql postgresql-contrib)"
        );
        let dir = std::env::temp_dir().join(format!("orderdeck-pg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:", dir.to_str().expect("utf-8 path")])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "cannot hand {} to the postgres user", dir.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let d = dir.display().to_string();
        let init = as_postgres(&format!(
            "{BIN}/initdb -D {d}/data -U postgres -A trust -E UTF8 --no-locale --no-sync"
        ));
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let db = TestDb { dir, port };
        // Tests only: no fsync (never for a benchmark).
        let start = as_postgres(&format!(
            "{BIN}/pg_ctl -D {d}/data -l {d}/log -w -t 60 start -o \
             '-c listen_addresses=127.0.0.1 -p {port} -k {d} -c fsync=off \
              -c synchronous_commit=off -c max_connections=200'"
        ));
        assert!(
            start.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&start.stdout),
            std::fs::read_to_string(db.dir.join("log")).unwrap_or_default()
        );
        db
    }

    /// A URL for a new, empty database on this server.
    pub fn new_database(&self) -> String {
        let name = format!("od_{}", uuid::Uuid::now_v7().simple());
        let d = self.dir.display();
        let out = as_postgres(&format!(
            "{BIN}/createdb -h {d} -p {} -U postgres {name}",
            self.port
        ));
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server at once (as a crash would); `start_again` brings it back.
    pub fn stop(&self) {
        let d = self.dir.display();
        let _ = as_postgres(&format!("{BIN}/pg_ctl -D {d}/data -m immediate -w stop"));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
