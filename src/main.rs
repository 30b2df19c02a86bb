//! The `orderdeck` executable: `serve` (the default) and the command-line tools.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use orderdeck::app::admin::{self, AdminRequest};
use orderdeck::app::{self, Config};
use orderdeck::service::Service;
use orderdeck::store::sled::{backup, check, SledStore};
use std::path::PathBuf;

/// sled copies a tree node on every write and frees the old one; with glibc's allocator a third
/// of a write's time went to malloc/free and its arena locks. mimalloc halves that and keeps
/// fragmentation (RSS) down.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` (4 in the v3 library this build links; see
/// `mimalloc.h`). Off, an arena's memory is committed as it is used: a 100,000-order store
/// opened with ~220 MB resident instead of ~260 MB, at the same speed.
#[cfg(target_os = "linux")]
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Runs before `main` and before Rust's first allocation (an `.init_array` constructor): the
/// option is read when mimalloc reserves its first arena, which an allocation in `main` would
/// already have done.
#[cfg(target_os = "linux")]
extern "C" fn tune_allocator() {
    // SAFETY: sets a process-wide allocator option before any thread or allocation exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

#[derive(Parser)]
#[command(
    name = "orderdeck",
    version,
    about = "Self-hosted Orders dashboard for online-store merchants"
)]
struct Cli {
    /// Address to listen on.
    #[arg(
        long,
        env = "ORDERDECK_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    bind: String,
    /// Where orders, customers and settings are stored.
    #[arg(
        long,
        env = "ORDERDECK_DATA_DIR",
        default_value = "data",
        global = true
    )]
    data_dir: PathBuf,
    /// Folder of Rhai scripts overriding the embedded defaults.
    #[arg(long, env = "ORDERDECK_SCRIPTS_DIR", global = true)]
    scripts_dir: Option<PathBuf>,
    /// Most index entries one page of the orders list examines before it answers with what it
    /// found so far and a link to keep looking.
    #[arg(long, env = "ORDERDECK_SCAN_BUDGET", default_value_t = orderdeck::store::sled::SCAN_BUDGET, global = true)]
    scan_budget: usize,
    /// Megabytes of memory the embedded store keeps as a cache of its tree nodes: more makes
    /// writes a little faster, less keeps the server small.
    #[arg(long, env = "ORDERDECK_CACHE_MB", default_value_t = orderdeck::store::sled::SERVE_CACHE_MB, value_parser = clap::value_parser!(u64).range(1..=65536), global = true)]
    cache_mb: u64,
    /// A PostgreSQL database (`postgres://user:password@host:port/db`) to keep everything in
    /// instead of the data directory; several servers may share it.
    #[arg(long, env = "ORDERDECK_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Connections a server keeps to that database (plus one that listens for settings
    /// changes). Several servers on one database need PostgreSQL's `max_connections` to hold
    /// them all.
    #[arg(long, env = "ORDERDECK_DATABASE_POOL", default_value_t = orderdeck::store::postgres::POOL_SIZE, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    database_pool: u32,
    /// Threads that answer HTTP requests (default: one per core). Several servers on one
    /// machine do best sharing its cores: two servers on two cores, one each.
    #[arg(long, env = "ORDERDECK_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    workers: Option<u16>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the web server (the default).
    Serve,
    /// Fill the store with realistic demo orders.
    Demo {
        /// How many orders to create.
        #[arg(long, default_value_t = 200)]
        orders: u64,
    },
    /// Change a setting, e.g. `orderdeck settings set smtp.host mail.example.com`
    /// (works while the server runs).
    Settings {
        #[command(subcommand)]
        command: SettingsCmd,
    },
    /// Check that indexes, search postings, counters and other derived data agree with the
    /// orders. Exits with 1 and lists the problems when they do not.
    Check,
    /// Write a consistent backup of the store to FILE (works while the server runs).
    Backup {
        /// The backup file to write.
        file: PathBuf,
    },
    /// Restore a backup into an empty or new data directory (--data-dir).
    Restore {
        /// The backup file to read.
        file: PathBuf,
    },
    /// Copy a whole store into an empty one: SRC and DST are each a data directory or a
    /// postgres:// URL (how to move to PostgreSQL, and back). Stop the servers using SRC first.
    /// Ends by checking DST like `orderdeck check`.
    Copy {
        /// The store to copy (a data directory or a postgres:// URL).
        #[arg(long, value_name = "SRC")]
        from: String,
        /// The empty store to copy into (a data directory or a postgres:// URL).
        #[arg(long, value_name = "DST")]
        to: String,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCmd,
    },
    /// Check or export the Rhai scripts (notification texts and carrier rates).
    Scripts {
        #[command(subcommand)]
        command: ScriptsCmd,
    },
}

#[derive(Subcommand)]
enum ScriptsCmd {
    /// Compile every script (DIR's, else --scripts-dir's, and the built-in ones for the rest);
    /// prints each error as file:line:column: message and fails if there is any.
    Check {
        /// The scripts folder to check.
        dir: Option<PathBuf>,
    },
    /// Write the built-in scripts into DIR to start customising them (existing files are kept).
    Export {
        /// Where to write them.
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum SettingsCmd {
    /// Set KEY to VALUE.
    Set { key: String, value: String },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token and print it (shown once; only its hash is stored).
    Create {
        /// A name saying who uses the token (e.g. "storefront").
        #[arg(long)]
        name: String,
    },
    /// List tokens.
    List,
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // reqwest and lettre are built on rustls without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => {
            let config = Config {
                bind: cli.bind,
                data_dir: cli.data_dir,
                scripts_dir: cli.scripts_dir,
                scan_budget: cli.scan_budget,
                cache_mb: cli.cache_mb,
                database_url: cli.database_url,
                database_pool: cli.database_pool,
                workers: cli.workers.map(usize::from),
            };
            actix_web::rt::System::new()
                .block_on(app::serve(config))
                .context("the server stopped with an error")?;
        }
        Cmd::Copy { from, to } => {
            let (from, to) = (
                app::copy::Location::parse(&from),
                app::copy::Location::parse(&to),
            );
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg:>18} {bar:40} {pos}/{len}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let mut shown = ProgressLine::default();
            let started = std::time::Instant::now();
            let (copied, report) = block_on(app::copy::run(
                &from,
                &to,
                &mut |part, done, total| {
                    bar.set_message(part.label());
                    bar.set_length(total);
                    bar.set_position(done);
                },
                &mut |p| shown.show(p),
            ))?;
            bar.finish_and_clear();
            shown.done();
            println!(
                "Copied {from} to {to} in {:.1}s: {copied}",
                started.elapsed().as_secs_f64()
            );
            print!("{report}");
            if !report.is_clean() {
                std::process::exit(1);
            }
        }
        Cmd::Token {
            command: TokenCmd::Create { name },
        } if cli.database_url.is_some() => {
            let secret = block_on(async {
                let store = app::open_any(&cli.data_dir, cli.database_url.as_deref()).await?;
                anyhow::Ok(Service::new(store).create_token(&name).await?.secret)
            })?;
            println!(
                "Created API token \"{name}\". Keep it secret; it is shown only once:\n{secret}"
            );
        }
        Cmd::Settings {
            command: SettingsCmd::Set { key, value },
        } if cli.database_url.is_some() => {
            block_on(async {
                let store = app::open_any(&cli.data_dir, cli.database_url.as_deref()).await?;
                anyhow::Ok(Service::new(store).set_setting(&key, &value).await?)
            })?;
            println!("{key} set");
        }
        Cmd::Token {
            command: TokenCmd::List,
        } if cli.database_url.is_some() => {
            let tokens = block_on(async {
                let store = app::open_any(&cli.data_dir, cli.database_url.as_deref()).await?;
                anyhow::Ok(Service::new(store).tokens().await?)
            })?;
            print_tokens(&tokens);
        }
        Cmd::Demo { orders } if cli.database_url.is_some() => {
            let bar = indicatif::ProgressBar::new(orders);
            let started = std::time::Instant::now();
            block_on(async {
                let store = app::open_any(&cli.data_dir, cli.database_url.as_deref()).await?;
                orderdeck::app::demo::fill_any(store.as_ref(), orders, |n| bar.set_position(n))
                    .await?;
                anyhow::Ok(())
            })?;
            bar.finish();
            println!(
                "Created {orders} demo orders in {:.1}s in {}",
                started.elapsed().as_secs_f64(),
                app::redacted(cli.database_url.as_deref().unwrap_or_default())
            );
        }
        Cmd::Check if cli.database_url.is_some() => {
            let mut shown = ProgressLine::default();
            let report = block_on(async {
                let store = orderdeck::store::postgres::PgStore::connect(
                    cli.database_url.as_deref().unwrap_or_default(),
                )
                .await?;
                anyhow::Ok(
                    orderdeck::store::postgres::check::check(&store, &mut |p| shown.show(p))
                        .await?,
                )
            })?;
            shown.done();
            print!("{report}");
            if !report.is_clean() {
                std::process::exit(1);
            }
        }
        Cmd::Backup { .. } | Cmd::Restore { .. } if cli.database_url.is_some() => {
            bail!(
                "backup and restore are for the embedded store; on PostgreSQL, back up with \
                 pg_dump and restore with pg_restore"
            );
        }
        Cmd::Token {
            command: TokenCmd::Create { name },
        } => {
            let secret = match app::open_store(&cli.data_dir) {
                Ok(store) => {
                    let service = Service::new(store);
                    block_on(service.create_token(&name))?.secret
                }
                Err(open_err) => {
                    // The server holds the store: ask it over its control socket.
                    let resp = admin::call(
                        &cli.data_dir,
                        &AdminRequest::TokenCreate { name: name.clone() },
                    )
                    .with_context(|| {
                        format!("cannot open the store ({open_err}) nor reach a running server")
                    })?;
                    match (resp.ok, resp.token, resp.error) {
                        (true, Some(t), _) => t,
                        (_, _, e) => bail!("could not create the token: {}", e.unwrap_or_default()),
                    }
                }
            };
            println!(
                "Created API token \"{name}\". Keep it secret; it is shown only once:\n{secret}"
            );
        }
        Cmd::Demo { orders } => {
            let store = app::open_store(&cli.data_dir)?;
            let bar = indicatif::ProgressBar::new(orders);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} orders  {per_sec}  ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            orderdeck::app::demo::fill(store.as_ref(), orders, |n| bar.set_position(n))?;
            bar.finish();
            println!(
                "Created {orders} demo orders in {:.1}s in {}",
                started.elapsed().as_secs_f64(),
                cli.data_dir.display()
            );
        }
        Cmd::Scripts {
            command: ScriptsCmd::Check { dir },
        } => {
            let dir = dir.or(cli.scripts_dir);
            match orderdeck::scripting::ScriptHost::load(dir.as_deref()) {
                Ok(host) => {
                    let scripts = host.scripts();
                    for s in &scripts {
                        let from = match s.source {
                            orderdeck::scripting::ScriptSource::Embedded => "built-in",
                            orderdeck::scripting::ScriptSource::Folder => "folder",
                        };
                        let off = if s.enabled { "" } else { ", turned off" };
                        println!("ok  {} ({from}{off})", s.path);
                    }
                    println!("{} scripts compiled", scripts.len());
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{e}");
                    }
                    bail!("{} script error(s)", errors.len());
                }
            }
        }
        Cmd::Scripts {
            command: ScriptsCmd::Export { dir },
        } => {
            let written = orderdeck::scripting::export_defaults(&dir)
                .with_context(|| format!("cannot write the scripts into {}", dir.display()))?;
            for e in &written {
                let what = if e.written { "wrote" } else { "kept " };
                println!("{what}  {}", e.path.display());
            }
            println!(
                "Edit them, check with `orderdeck scripts check {}`, and start with --scripts-dir {}",
                dir.display(),
                dir.display()
            );
        }
        Cmd::Settings {
            command: SettingsCmd::Set { key, value },
        } => {
            std::fs::create_dir_all(&cli.data_dir)?;
            let store = app::open_store(&cli.data_dir);
            match store {
                Ok(store) => block_on(Service::new(store).set_setting(&key, &value))?,
                Err(open_err) => {
                    let resp = admin::call(
                        &cli.data_dir,
                        &AdminRequest::SettingSet {
                            key: key.clone(),
                            value: value.clone(),
                        },
                    )
                    .with_context(|| {
                        format!("cannot open the store ({open_err}) nor reach a running server")
                    })?;
                    if !resp.ok {
                        bail!("{}", resp.error.unwrap_or_default());
                    }
                }
            }
            println!("{key} set");
        }
        Cmd::Check => {
            let mut shown = ProgressLine::default();
            let report = with_store(
                &cli.data_dir,
                |store, progress| Ok(check::check_with_progress(store, progress)?),
                AdminRequest::Check,
                |resp| resp.check.context("the server sent no report"),
                &mut |p| shown.show(p),
            )?;
            shown.done();
            print!("{report}");
            if !report.is_clean() {
                std::process::exit(1);
            }
        }
        Cmd::Backup { file } => {
            let file = std::path::absolute(&file)
                .with_context(|| format!("bad backup path {}", file.display()))?;
            let info = with_store(
                &cli.data_dir,
                |store, _| Ok(backup::backup(store, &file)?),
                AdminRequest::Backup { path: file.clone() },
                |resp| resp.backup.context("the server sent no backup summary"),
                &mut |_| {},
            )?;
            println!(
                "Backed up {} to {}: {info}",
                cli.data_dir.display(),
                file.display()
            );
        }
        Cmd::Restore { file } => {
            let info = backup::restore(&file, &cli.data_dir)?;
            println!(
                "Restored {} into {}: {info}",
                file.display(),
                cli.data_dir.display()
            );
            let store = app::open_store(&cli.data_dir)?;
            let report = check::check(&store)?;
            print!("{report}");
            if !report.is_clean() {
                std::process::exit(1);
            }
        }
        Cmd::Token {
            command: TokenCmd::List,
        } => {
            let store = app::open_store(&cli.data_dir)?;
            let service = Service::new(store);
            print_tokens(&block_on(service.tokens())?);
        }
    }
    Ok(())
}

/// Runs one service call to completion (command-line tools, with no server running).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the command")
        .block_on(f)
}

/// Runs `direct` on the store when this process can open it, or sends `req` to the server that
/// holds it and reads the answer with `from_server`.
fn with_store<T>(
    data_dir: &std::path::Path,
    direct: impl FnOnce(&SledStore, &mut dyn FnMut(&check::Progress)) -> anyhow::Result<T>,
    req: AdminRequest,
    from_server: impl FnOnce(admin::AdminResponse) -> anyhow::Result<T>,
    progress: &mut dyn FnMut(&check::Progress),
) -> anyhow::Result<T> {
    if !data_dir.join("db").exists() {
        bail!("there is no orderdeck store in {}", data_dir.display());
    }
    match app::open_store(data_dir) {
        Ok(store) => direct(&store, progress),
        Err(open_err) => {
            let resp = admin::call_with_progress(data_dir, &req, progress).with_context(|| {
                format!("cannot open the store ({open_err}) nor reach a running server")
            })?;
            if !resp.ok {
                bail!("{}", resp.error.unwrap_or_default());
            }
            from_server(resp)
        }
    }
}

/// The check's progress on standard error: one line rewritten in place on a terminal, a line
/// per stage otherwise (so logs stay short).
#[derive(Default)]
struct ProgressLine {
    stage: String,
    width: usize,
}

impl ProgressLine {
    fn show(&mut self, p: &check::Progress) {
        use std::io::{IsTerminal, Write};
        let text = p.to_string();
        let mut err = std::io::stderr();
        if err.is_terminal() {
            let pad = self.width.saturating_sub(text.chars().count());
            let _ = write!(err, "\r{text}{}", " ".repeat(pad));
            let _ = err.flush();
            self.width = text.chars().count();
        } else if p.stage != self.stage {
            let _ = writeln!(err, "checking {}…", p.stage);
        }
        self.stage = p.stage.clone();
    }

    fn done(&mut self) {
        use std::io::{IsTerminal, Write};
        if self.width > 0 && std::io::stderr().is_terminal() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// `orderdeck token list`: one line per token.
fn print_tokens(tokens: &[orderdeck::ports::TokenRecord]) {
    for t in tokens {
        println!(
            "{}  {}  {}{}",
            t.id,
            t.created_at.format("%Y-%m-%d %H:%M"),
            t.name,
            if t.revoked { "  (revoked)" } else { "" }
        );
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn mimalloc_commits_arena_memory_as_it_is_used() {
        // Set by the constructor before the test harness allocated anything (the default is 2).
        // SAFETY: reads an allocator option.
        let eager = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_ARENA_EAGER_COMMIT) };
        assert_eq!(eager, 0);
    }
}
